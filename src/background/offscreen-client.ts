// Talks to the offscreen document, creating it on demand: exactly one exists at a time, and
// if it was closed (or never made) a request re-creates it and is retried (bounded).

import {
  parseEngineStatus,
  parseFetchReply,
  parseJudgeReply,
  type BackgroundToOffscreen,
  type EngineOptions,
  type EngineStatus,
  type FetchReply,
  type JudgeReply,
  type Validators,
} from '../shared/protocol';
import { engineDocument } from '../shared/platform';
import { getEngineOptions } from '../shared/settings';
import { idleReleaseFor, nextIdleStreak } from './idle-release';

export const OFFSCREEN_PATH = 'src/offscreen/index.html';
/** Where the browser lets it live: an offscreen document, or a frame of Firefox's event page. */
const host = engineDocument(OFFSCREEN_PATH);
let creating: Promise<void> | null = null;

export function hasOffscreenDocument(): Promise<boolean> {
  return host.exists();
}

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

export async function ensureOffscreen(): Promise<void> {
  if (await host.exists()) return;
  void noteComeback().catch(() => undefined);
  creating ??= host.create().finally(() => {
    creating = null;
  });
  await creating;
}

/** How many times a message is re-sent after the document closed under it (it is re-created). */
const MAX_RESENDS = 2;

async function send(msg: BackgroundToOffscreen): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    await ensureOffscreen();
    try {
      return await chrome.runtime.sendMessage(msg);
    } catch (e) {
      // "Receiving end does not exist" or "message channel closed": the document went away
      // between the check and the send, or while it worked on the request.
      if (attempt >= MAX_RESENDS) throw e;
    }
  }
}

export async function fetchInOffscreen(
  url: string,
  pageUrl: string,
  engine: EngineOptions,
  manner: { withCookies?: boolean; conditional?: Validators } = {},
): Promise<FetchReply> {
  const msg: BackgroundToOffscreen = { target: 'offscreen', kind: 'offscreen/fetch', url, pageUrl, engine };
  if (manner.withCookies) msg.withCookies = true;
  if (manner.conditional) msg.conditional = manner.conditional;
  const reply = parseFetchReply(await send(msg));
  return reply ?? { ok: false, reason: 'network', detail: 'engine gave no answer' };
}

export async function inferInOffscreen(token: string, minSide: number, engine: EngineOptions): Promise<JudgeReply> {
  const reply = parseJudgeReply(await send({ target: 'offscreen', kind: 'offscreen/infer', token, minSide, engine }));
  return reply ?? { ok: false, reason: 'model-error', detail: 'engine gave no answer' };
}

export async function releaseInOffscreen(token: string): Promise<void> {
  if (!(await hasOffscreenDocument())) return;
  await chrome.runtime.sendMessage({ target: 'offscreen', kind: 'offscreen/release', token }).catch(() => undefined);
}

export async function engineStatus(): Promise<EngineStatus | null> {
  if (!(await hasOffscreenDocument())) return null;
  try {
    return parseEngineStatus(await chrome.runtime.sendMessage({ target: 'offscreen', kind: 'offscreen/status' }));
  } catch {
    return null;
  }
}
