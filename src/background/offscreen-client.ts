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

export const OFFSCREEN_PATH = 'src/offscreen/index.html';
let creating: Promise<void> | null = null;

async function hasOffscreenDocument(): Promise<boolean> {
  const url = chrome.runtime.getURL(OFFSCREEN_PATH);
  const contexts = await chrome.runtime.getContexts({
    contextTypes: [chrome.runtime.ContextType.OFFSCREEN_DOCUMENT],
    documentUrls: [url],
  });
  return contexts.length > 0;
}

export async function closeOffscreen(): Promise<void> {
  if (await hasOffscreenDocument()) await chrome.offscreen.closeDocument().catch(() => undefined);
}

/** chrome.storage.session: when the engine was last closed for being idle. */
export const RELEASED_KEY = 'engine.releasedAt';

export async function ensureOffscreen(): Promise<void> {
  if (await hasOffscreenDocument()) return;
  void chrome.storage.session.remove(RELEASED_KEY);
  creating ??= chrome.offscreen
    .createDocument({
      url: OFFSCREEN_PATH,
      reasons: [chrome.offscreen.Reason.WORKERS],
      justification: 'Runs the image classifier (onnxruntime-web) and fetches the images it judges.',
    })
    .catch((e: unknown) => {
      // Another caller may have won the race; that is fine.
      if (!String(e).includes('single offscreen')) throw e;
    })
    .finally(() => {
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
