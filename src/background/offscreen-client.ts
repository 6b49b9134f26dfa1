// The one sender to the engine's document (src/offscreen/), creating it on demand: exactly one
// exists at a time. Every request goes through `askOffscreen`, with one retry policy, and every
// reply is validated (OFFSCREEN_REPLIES) before anyone reads it.

import { validatedSender } from '../shared/protocol/channel';
import { OFFSCREEN_REPLIES, type EngineStatus, type FetchReply, type JudgeReply, type OffscreenChannel } from '../shared/protocol/offscreen';
import type { Request } from '../shared/protocol/channel';
import type { EngineOptions, Validators } from '../shared/protocol/shapes';
import { engineDocument } from '../shared/platform';
import { getEngineOptions } from '../shared/settings';
import { idleReleaseFor, nextIdleStreak } from './idle-release';

export const OFFSCREEN_PATH = 'src/offscreen/index.html';
/** Where the browser lets it live: an offscreen document, or a frame of Firefox's event page. */
const host = engineDocument(OFFSCREEN_PATH);
let creating: Promise<void> | null = null;

export async function closeOffscreen(): Promise<void> {
  if (await host.exists()) await host.close();
}

/** chrome.storage.session: when the engine was last closed for being idle. */
export const RELEASED_KEY = 'engine.releasedAt';
/** chrome.storage.session: early comebacks in a row (src/background/idle-release.ts). */
const IDLE_STREAK_KEY = 'engine.idleStreak';

async function idleStreak(): Promise<number> {
  const v = (await chrome.storage.session.get(IDLE_STREAK_KEY))[IDLE_STREAK_KEY];
  return typeof v === 'number' ? v : 0;
}

/** `engine` with the idle period the recent releases call for. */
export async function withAdaptiveIdle(engine: EngineOptions): Promise<EngineOptions> {
  return { ...engine, idleReleaseMs: idleReleaseFor(engine.idleReleaseMs, await idleStreak()) };
}

/** The engine is loaded again: was it released too early? */
async function noteComeback(): Promise<void> {
  const s = await chrome.storage.session.get([RELEASED_KEY, IDLE_STREAK_KEY]);
  const released = s[RELEASED_KEY];
  const streak = typeof s[IDLE_STREAK_KEY] === 'number' ? (s[IDLE_STREAK_KEY] as number) : 0;
  const next = nextIdleStreak(streak, typeof released === 'number' ? released : null, Date.now(), (await getEngineOptions()).idleReleaseMs);
  await chrome.storage.session.set({ [IDLE_STREAK_KEY]: next });
  await chrome.storage.session.remove(RELEASED_KEY);
}

async function ensureOffscreen(): Promise<void> {
  if (await host.exists()) return;
  void noteComeback().catch(() => undefined);
  creating ??= host.create().finally(() => {
    creating = null;
  });
  await creating;
}

/**
 * The retry policy: a message is re-sent this many times, after a pause growing by this step,
 * when the document closed under it or was not listening yet ("Receiving end does not exist",
 * "message channel closed"); the document is re-created first.
 */
const MAX_RESENDS = 5;
const RESEND_PAUSE_MS = 100;

/**
 * `create`: make the document if there is none, and retry; `if-open`: ask only a document that
 * exists (a status, a release, a cancel), once, answering null when there is none or it is gone.
 */
export type Reach = 'create' | 'if-open';

async function transport(msg: Request<OffscreenChannel>, reach: Reach): Promise<unknown> {
  if (reach === 'if-open') {
    if (!(await host.exists())) return null;
    return chrome.runtime.sendMessage(msg).catch(() => null);
  }
  for (let resends = 0; ; resends++) {
    await ensureOffscreen();
    try {
      return await chrome.runtime.sendMessage(msg);
    } catch (e) {
      if (resends >= MAX_RESENDS) throw e;
      await new Promise((r) => setTimeout(r, RESEND_PAUSE_MS * (resends + 1)));
    }
  }
}

/** Sends one request; the validated reply, or null when it was malformed (or, `if-open`, nobody answered). */
export const askOffscreen = validatedSender<OffscreenChannel, [Reach]>(transport, OFFSCREEN_REPLIES);

export async function fetchInOffscreen(
  url: string,
  pageUrl: string,
  engine: EngineOptions,
  manner: { withCookies?: boolean; conditional?: Validators } = {},
): Promise<FetchReply> {
  const msg: Request<OffscreenChannel, 'offscreen/fetch'> = { target: 'offscreen', kind: 'offscreen/fetch', url, pageUrl, engine };
  if (manner.withCookies) msg.withCookies = true;
  if (manner.conditional) msg.conditional = manner.conditional;
  return (await askOffscreen(msg, 'create')) ?? { ok: false, reason: 'network', detail: 'engine gave no answer' };
}

export async function inferInOffscreen(token: string, minSide: number, engine: EngineOptions): Promise<JudgeReply> {
  const reply = await askOffscreen({ target: 'offscreen', kind: 'offscreen/infer', token, minSide, engine }, 'create');
  return reply ?? { ok: false, reason: 'model-error', detail: 'engine gave no answer' };
}

export async function releaseInOffscreen(token: string): Promise<void> {
  await askOffscreen({ target: 'offscreen', kind: 'offscreen/release', token }, 'if-open');
}

/** The engine's state; null when no document is open. */
export function engineStatus(): Promise<EngineStatus | null> {
  return askOffscreen({ target: 'offscreen', kind: 'offscreen/status' }, 'if-open');
}
