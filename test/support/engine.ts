// The extension's inference engine seen from a test: its advanced settings (chrome.storage.local,
// as the options page writes them) and the offscreen document's own status report.

import type { ExtensionSession } from './chrome';
import type { EngineStatus } from '../../src/shared/protocol/offscreen';

/** Engine settings by storage key, e.g. { 'engine.useWebGpu': false, 'engine.threads': 1 }. */
export type EngineSettings = Record<`engine.${string}`, unknown>;

/**
 * Stores engine settings and closes the offscreen document if one is open, so that the next
 * picture starts a fresh engine that reads them.
 */
export async function configureEngine(ext: ExtensionSession, settings: EngineSettings): Promise<void> {
  await (await ext.serviceWorker()).evaluate(async (s) => {
    await chrome.storage.local.set(s);
    if ((await chrome.runtime.getContexts({ contextTypes: [chrome.runtime.ContextType.OFFSCREEN_DOCUMENT] })).length > 0) {
      await chrome.offscreen.closeDocument();
    }
  }, settings);
}

/** The offscreen engine's status, asked directly (not through the service worker's cache of it). */
export async function offscreenStatus(ext: ExtensionSession): Promise<EngineStatus> {
  return (await (await ext.serviceWorker()).evaluate(() =>
    chrome.runtime.sendMessage({ target: 'offscreen', kind: 'offscreen/status' }),
  )) as EngineStatus;
}
