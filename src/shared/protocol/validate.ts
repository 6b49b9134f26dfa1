// The checks every validator of the protocol is built from, written once. Each says what a field
// may be; the channel files compose them into one parser per message shape.

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isProbability(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
}

/** A non-empty string of at most `max` characters. */
export function isShortString(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}

export function intWithin(v: unknown, r: { min: number; max: number }): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= r.min && v <= r.max;
}

/** A database id or a tab id. */
export function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A side in pixels, as `minSide` (0: any size). */
export const isMinSide = (v: unknown): v is number => intWithin(v, { min: 0, max: 4096 });

export const MAX_URL_LENGTH = 8192;
/** 20 MB as base64, plus the data: prefix: the same cap as a fetched image. */
export const MAX_BYTES_URL_LENGTH = Math.ceil((20 * 1024 * 1024 * 4) / 3) + 64;

export const isUrl = (v: unknown): v is string => isShortString(v, MAX_URL_LENGTH);

const BYTES_URL_RE = /^data:image\/[a-z0-9.+-]{1,40};base64,[A-Za-z0-9+/]*={0,2}$/;

/** A picture's bytes as a base64 data: URL, within the size cap. */
export function isBytesUrl(v: unknown): v is string {
  return isShortString(v, MAX_BYTES_URL_LENGTH) && BYTES_URL_RE.test(v);
}

/** `{ ok: true }` or `{ ok: false, error }`: the answer of an action that may be refused. */
export type ActionReply = { ok: true } | { ok: false; error: string };

export function parseActionReply(v: unknown): ActionReply | null {
  if (!isRecord(v)) return null;
  if (v.ok === true) return { ok: true };
  return v.ok === false && typeof v.error === 'string' ? { ok: false, error: v.error.slice(0, 500) } : null;
}
