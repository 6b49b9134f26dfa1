// What differs between the browsers, in one place. Chromium runs the engine (src/offscreen/) in an
// offscreen document; Firefox has no offscreen documents, but its background is an event page
// with a DOM, so the same document runs in a frame of that page. Either way the background talks
// to it with runtime messages, and closing it gives all of its memory back.
//
// The build decides: `vite build --mode firefox` (or `firefox-test`, its test build) sets
// import.meta.env.MODE, a constant the bundler folds, so each build carries only its own browser's branch.

export const FIREFOX = import.meta.env.MODE === 'firefox' || import.meta.env.MODE === 'firefox-test';

/** The engine's document, as the browser lets an extension keep one. */
export interface EngineDocument {
  exists(): Promise<boolean>;
  /** Creates it, resolving once it listens for messages. */
  create(): Promise<void>;
  close(): Promise<void>;
}

const offscreenDocument = (path: string): EngineDocument => ({
  async exists() {
    const contexts = await chrome.runtime.getContexts({
      contextTypes: [chrome.runtime.ContextType.OFFSCREEN_DOCUMENT],
      documentUrls: [chrome.runtime.getURL(path)],
    });
    return contexts.length > 0;
  },
  async create() {
    await chrome.offscreen
      .createDocument({
        url: path,
        reasons: [chrome.offscreen.Reason.WORKERS],
        justification: 'Runs the image classifier (onnxruntime-web) and fetches the images it judges.',
      })
      .catch((e: unknown) => {
        // Another caller may have won the race; that is fine.
        if (!String(e).includes('single offscreen')) throw e;
      });
  },
  async close() {
    await chrome.offscreen.closeDocument().catch(() => undefined);
  },
});

/** A frame of the event page. Removing it unloads the document, and its WebAssembly heap with it. */
const frameInEventPage = (path: string): EngineDocument => {
  let current: { frame: HTMLIFrameElement; ready: Promise<void> } | null = null;
  const close = (): Promise<void> => {
    current?.frame.remove();
    current = null;
    return Promise.resolve();
  };
  const create = (): Promise<void> => {
    if (current) return current.ready;
    const frame = document.createElement('iframe');
    // The document's module script has run (and registered its listener) before `load`.
    const ready = new Promise<void>((resolve, reject) => {
      frame.addEventListener('load', () => resolve(), { once: true });
      frame.addEventListener('error', () => reject(new Error('the engine document did not load')), { once: true });
    });
    frame.src = chrome.runtime.getURL(path);
    document.body.append(frame);
    current = { frame, ready };
    ready.catch(() => {
      if (current?.frame === frame) close();
    });
    return ready;
  };
  return {
    // A frame still loading counts once it listens, so no message goes out before that.
    exists: async () => {
      if (!current) return false;
      await current.ready.catch(() => undefined);
      return current !== null;
    },
    create,
    close,
  };
};

export function engineDocument(path: string): EngineDocument {
  return FIREFOX ? frameInEventPage(path) : offscreenDocument(path);
}

/**
 * ORT's plain WebAssembly build and its files, for a Firefox without JavaScript Promise
 * Integration (src/offscreen/ort-runtime.ts). None in the Chromium build: its minimum version has
 * JSPI, so it carries no second copy of ORT.
 */
export const plainOrtBuild = FIREFOX
  ? async (): Promise<{ ort: unknown; mjsPath: string; wasmPath: string }> => {
      const [ort, mjs, wasm] = await Promise.all([
        import('onnxruntime-web/wasm'),
        import('onnxruntime-web/ort-wasm-simd-threaded.mjs?url'),
        import('onnxruntime-web/ort-wasm-simd-threaded.wasm?url'),
      ]);
      return { ort, mjsPath: mjs.default, wasmPath: wasm.default };
    }
  : null;

/**
 * The domain declarativeNetRequest matches as the initiator of the extension's own requests
 * (`initiatorDomains`): its origin's host. In Chromium that is the extension id. In Firefox it is
 * the profile's internal UUID of moz-extension://<uuid>/; there `runtime.id` is the add-on id
 * (realfake-lens@realfake-lens), which Firefox refuses as a domain.
 */
export function ownInitiatorDomain(): string {
  return new URL(chrome.runtime.getURL('/')).hostname;
}
