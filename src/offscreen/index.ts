// The offscreen document: owns the model session and does all fetching, decoding and
// inference, so neither the service worker nor any page's main thread does heavy work.

import { parseBackgroundToOffscreen } from '../shared/protocol';
import { Engine } from './engine';
import { fetchAndHold, judgeHeld, release } from './judge';
import { cancelModelDownload, modelDownloadStatus, startModelDownload } from './model-download';
import { checkpointImportStatus, startCheckpointImport, stopCheckpointImport } from './checkpoint-download';

const engine = new Engine();
// Idle: ask the service worker to close this document, which frees all of its memory.
engine.onIdle = () => void chrome.runtime.sendMessage({ kind: 'offscreen/idle' }).catch(() => undefined);

/** The extension's own origin (chrome.runtime.getManifest() is not available to offscreen documents). */
const OWN_ORIGIN = new URL(chrome.runtime.getURL('')).origin;

chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
  // Only the extension's own service worker talks to this document: never a tab's content script.
  if (sender.id !== chrome.runtime.id || sender.tab || !sender.url?.startsWith(`${OWN_ORIGIN}/`)) return false;
  const msg = parseBackgroundToOffscreen(raw);
  if (!msg) return false;
  switch (msg.kind) {
    case 'offscreen/fetch':
      void fetchAndHold(engine, msg.url, msg.pageUrl, msg.engine, { withCookies: msg.withCookies === true, conditional: msg.conditional }).then(sendResponse);
      return true;
    case 'offscreen/infer':
      void judgeHeld(engine, msg.token, msg.minSide, msg.engine).then(sendResponse);
      return true;
    case 'offscreen/release':
      release(msg.token);
      return false;
    case 'offscreen/status':
      sendResponse(engine.status);
      return false;
    case 'offscreen/model-download':
      sendResponse(startModelDownload(msg.url, () => engine.hold(msg.engine)));
      return false;
    case 'offscreen/model-download-status':
      sendResponse(modelDownloadStatus());
      return false;
    case 'offscreen/model-download-cancel':
      void cancelModelDownload().then(() => sendResponse(modelDownloadStatus()));
      return true;
    case 'offscreen/checkpoint-import':
      sendResponse(startCheckpointImport(msg.url, () => engine.hold(msg.engine), __REALFAKE_TEST__ ? msg.engine.faults?.checkpointUnitBytes : undefined));
      return false;
    case 'offscreen/checkpoint-import-status':
      sendResponse(checkpointImportStatus());
      return false;
    case 'offscreen/checkpoint-import-stop':
      void stopCheckpointImport(msg.pause).then(() => sendResponse(checkpointImportStatus()));
      return true;
  }
});
