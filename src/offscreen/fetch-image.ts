// Fetches an image's bytes with the extension's host permission, the careful way
// (docs/ARCHITECTURE.md, "Security rules"): only allowed addresses (re-checked after redirects), no
// cookies (unless the user allowed them for the site), no referrer (the background sets one for a
// retry, through a declarativeNetRequest rule), one timeout for the whole download, a streamed byte
// cap, a magic-byte check, and a pixel cap read from the header while the bytes arrive, so a huge
// image is refused before any decode.

import { isComplete, readImageSize } from '../detector/image-header';
import { collectMetadata, type MetadataScan } from '../detector/provenance';
import { describeNotAnImage, mimeOf, sniffImageType, type ImageType } from '../detector/sniff';
import { type FailureReason, MAX_VALIDATOR_LENGTH, type Validators } from '../shared/protocol/shapes';
import { Slots } from '../shared/slots';
import { checkImageUrl } from '../shared/url-policy';

export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_MAX_PIXELS = 50_000_000;
/** Downloads at once, in all, and for the images of one page (origin). */
export const MAX_FETCHES = 8;
export const MAX_FETCHES_PER_PAGE = 6;
/** The header is looked for in this much of the start of the file while it streams in. */
const HEADER_WINDOW = 256 * 1024;
/** Enough bytes to tell every supported signature apart. */
const SNIFF_BYTES = 32;

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  maxPixels: number;
}

export class FetchFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    readonly detail: string,
    /** The HTTP status of a refusal. */
    readonly status?: number,
  ) {
    super(detail);
    this.name = 'FetchFailure';
  }
}

export interface FetchedImage {
  blob: Blob;
  type: ImageType;
  bytes: number;
  width: number;
  height: number;
  /** Hex SHA-256 of the bytes: the cache's second key (the same picture under another URL). */
  sha256: string;
  /** Metadata payloads (text chunks, EXIF, XMP, C2PA), copied out while the bytes are at hand. */
  metadata: MetadataScan;
  /** For asking later, with a conditional request, whether the address still serves these bytes. */
  validators: Validators;
}

/** A conditional request answered 304 Not Modified. */
export interface NotModified {
  notModified: true;
  validators: Validators;
}

export interface FetchManner {
  /** Send the browser's cookies for the address (only where the user allowed it). */
  withCookies?: boolean;
  /** Ask with If-None-Match / If-Modified-Since. */
  conditional?: Validators;
}

function validatorsOf(headers: Headers): Validators {
  const read = (name: string): string | null => {
    const v = headers.get(name);
    return v && v.length <= MAX_VALIDATOR_LENGTH ? v : null;
  };
  return { etag: read('etag'), lastModified: read('last-modified') };
}

/** Downloads: at most MAX_FETCHES at once, MAX_FETCHES_PER_PAGE for one page. */
const slots = new Slots(MAX_FETCHES, MAX_FETCHES_PER_PAGE);

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(chunks: Uint8Array[], total: number, limit = total): Uint8Array {
  const out = new Uint8Array(Math.min(total, limit));
  let at = 0;
  for (const c of chunks) {
    if (at >= out.length) break;
    const part = c.subarray(0, out.length - at);
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

const megabytes = (n: number): string => `${Math.round(n / 1048576)} MB`;

/**
 * What the start of the file says: its type and pixel size, a failure to stop the download
 * for, or null while more bytes are needed. `whole`: these are all the bytes there are.
 */
export function judgeHead(head: Uint8Array, whole: boolean, maxPixels: number): { type: ImageType; width: number; height: number } | FetchFailure | null {
  if (!whole && head.byteLength < SNIFF_BYTES) return null;
  const type = sniffImageType(head);
  if (!type) return new FetchFailure('not-an-image', describeNotAnImage(head));
  const reading = readImageSize(head, type);
  if (reading.kind === 'incomplete') return whole ? new FetchFailure('undecodable', 'the file ends inside its header') : null;
  if (reading.kind === 'invalid') return new FetchFailure('undecodable', reading.detail);
  const { width, height } = reading;
  if (width * height > maxPixels) {
    return new FetchFailure('too-large', `${width}×${height} pixels, more than ${Math.round(maxPixels / 1e6)} megapixels`);
  }
  return { type, width, height };
}

async function readBody(
  body: ReadableStream<Uint8Array>,
  { maxBytes, maxPixels }: FetchLimits,
): Promise<{ bytes: Uint8Array; type: ImageType; width: number; height: number }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let head: { type: ImageType; width: number; height: number } | null = null;
  /** Cancels the rest of the download (the server sees the connection close) and says why. */
  const stop = async (failure: FetchFailure): Promise<FetchFailure> => {
    await reader.cancel().catch(() => undefined);
    return failure;
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) throw await stop(new FetchFailure('too-large', `larger than ${megabytes(maxBytes)}`));
    chunks.push(value);
    if (!head && total - value.byteLength < HEADER_WINDOW) {
      const seen = judgeHead(concat(chunks, total, HEADER_WINDOW), false, maxPixels);
      if (seen instanceof FetchFailure) throw await stop(seen);
      head = seen;
    }
  }
  const bytes = concat(chunks, total);
  if (!head) {
    const seen = judgeHead(bytes, true, maxPixels);
    if (seen instanceof FetchFailure || seen === null) throw seen ?? new FetchFailure('undecodable', 'no image header');
    head = seen;
  }
  if (!isComplete(bytes, head.type)) throw new FetchFailure('undecodable', 'the file is cut short');
  return { bytes, ...head };
}

/** Downloads an image for the page `pageUrl` shows it on; throws FetchFailure with a reason. */
export async function fetchImage(
  rawUrl: string,
  pageUrl: string,
  limits: Partial<FetchLimits> = {},
  manner: FetchManner = {},
): Promise<FetchedImage | NotModified> {
  const all: FetchLimits = {
    maxBytes: limits.maxBytes ?? DEFAULT_MAX_BYTES,
    timeoutMs: limits.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxPixels: limits.maxPixels ?? DEFAULT_MAX_PIXELS,
  };
  const decision = checkImageUrl(rawUrl, pageUrl);
  if (!decision.ok) throw new FetchFailure(decision.reason, decision.detail);

  let pageKey = '';
  try {
    pageKey = new URL(pageUrl).origin;
  } catch {
    pageKey = '';
  }
  const release = await slots.acquire(pageKey);
  const controller = new AbortController();
  const timedOut = (): FetchFailure => new FetchFailure('timeout', `no complete answer within ${all.timeoutMs / 1000} s`);
  // One deadline for connecting, headers and the whole body: a server dripping a byte a second
  // is cut off like one that never answers.
  const timer = setTimeout(() => controller.abort(), all.timeoutMs);
  try {
    const headers = new Headers();
    const conditional = decision.url.protocol === 'data:' ? undefined : manner.conditional;
    if (conditional?.etag) headers.set('if-none-match', conditional.etag);
    if (conditional?.lastModified) headers.set('if-modified-since', conditional.lastModified);
    let response: Response;
    try {
      response = await fetch(decision.url, {
        headers,
        credentials: manner.withCookies ? 'include' : 'omit',
        // The extension's own URL would be the referrer; the page's cannot be sent from here.
        referrerPolicy: 'no-referrer',
        // fetch() cannot show a redirect's Location to script ('manual' gives an opaque
        // response), so redirects are followed (Chromium stops after 20) and the final
        // address is checked below. An intermediate hop to a private address is still
        // requested, but its answer is never read. Likewise a public DNS name that resolves
        // to a private address (DNS rebinding) cannot be seen from here: fetch() exposes no
        // resolved IP. Both can only make a cookie-less GET whose body is refused or judged.
        redirect: 'follow',
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch {
      throw controller.signal.aborted ? timedOut() : new FetchFailure('network', 'network error (or too many redirects)');
    }
    if (response.redirected) {
      const again = checkImageUrl(response.url, pageUrl);
      if (!again.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw new FetchFailure(again.reason, `redirected: ${again.detail}`);
      }
    }
    if (response.status === 304 && conditional) {
      await response.body?.cancel().catch(() => undefined);
      const now = validatorsOf(response.headers);
      return { notModified: true, validators: { etag: now.etag ?? conditional.etag, lastModified: now.lastModified ?? conditional.lastModified } };
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new FetchFailure('http-error', `HTTP ${response.status}`, response.status);
    }
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > all.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new FetchFailure('too-large', `larger than ${megabytes(all.maxBytes)}`);
    }
    let read: Awaited<ReturnType<typeof readBody>>;
    try {
      read = await readBody(response.body ?? new Blob([]).stream(), all);
    } catch (e) {
      if (e instanceof FetchFailure) throw e;
      throw controller.signal.aborted ? timedOut() : new FetchFailure('network', 'connection broke off');
    }
    const { bytes, type, width, height } = read;
    return {
      blob: new Blob([bytes as BlobPart], { type: mimeOf(type) }),
      type,
      bytes: bytes.byteLength,
      width,
      height,
      sha256: await sha256Hex(bytes),
      metadata: collectMetadata(bytes),
      validators: validatorsOf(response.headers),
    };
  } finally {
    clearTimeout(timer);
    release();
  }
}
