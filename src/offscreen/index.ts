// The offscreen document: owns the model session and does all fetching, decoding and
// inference, so neither the service worker nor any page's main thread does heavy work.

import { route, type Handlers } from '../shared/protocol/channel';
import { parseBackgroundToOffscreen, type OffscreenChannel, type OffscreenToBackground } from '../shared/protocol/offscreen';
import { Engine } from './engine';
import { fetchAndHold, judgeHeld, release } from './judge';
import { cancelModelDownload, modelDownloadStatus, startModelDownload } from './model-download';
import { checkpointImportStatus, startCheckpointImport, stopCheckpointImport } from './checkpoint-download';

const engine = new Engine();
const idle: OffscreenToBackground = { kind: 'offscreen/idle' };
// Idle: ask the service worker to close this document, which frees all of its memory.
engine.onIdle = () => void chrome.runtime.sendMessage(idle).catch(() => undefined);

/** The extension's own origin (chrome.runtime.getManifest() is not available to offscreen documents). */
const OWN_ORIGIN = new URL(chrome.runtime.getURL('')).origin;

const handlers: Handlers<OffscreenChannel> = {
  'offscreen/fetch': (msg) => fetchAndHold(engine, msg.url, msg.pageUrl, msg.engine, { withCookies: msg.withCookies === true, conditional: msg.conditional }),
  'offscreen/infer': (msg) => judgeHeld(engine, msg.token, msg.minSide, msg.engine),
  'offscreen/release': (msg) => release(msg.token),
  'offscreen/status': () => engine.status,
  'offscreen/model-download': (msg) => startModelDownload(msg.url, () => engine.hold(msg.engine)),
  'offscreen/model-download-status': () => modelDownloadStatus(),
  'offscreen/model-download-cancel': async () => {
    await cancelModelDownload();
    return modelDownloadStatus();
  },
  'offscreen/checkpoint-import': (msg) =>
    startCheckpointImport(msg.url, () => engine.hold(msg.engine), msg.int8 === true, __REALFAKE_TEST__ ? msg.engine.faults?.checkpointUnitBytes : undefined),
  'offscreen/checkpoint-import-status': () => checkpointImportStatus(),
  'offscreen/checkpoint-import-stop': async (msg) => {
    await stopCheckpointImport(msg.pause);
    return checkpointImportStatus();
  },
};

chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
  // Only the extension's own service worker talks to this document: never a tab's content script.
  if (sender.id !== chrome.runtime.id || sender.tab || !sender.url?.startsWith(`${OWN_ORIGIN}/`)) return false;
  // Anything else (the UI's and the pages' messages reach every extension context) is left alone.
  const msg = parseBackgroundToOffscreen(raw);
  if (!msg) return false;
  void route(handlers, msg, undefined).then(sendResponse);
  return true;
});
