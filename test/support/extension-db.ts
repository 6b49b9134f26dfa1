// Reads the extension's IndexedDB directly from its service worker, not through the extension's
// code: what the tests compare with what the extension says.

import type { ExtensionSession } from './chrome';
import { fromExtensionPage } from './contexts';
import { callTestHook } from './test-hooks';

type Worker = Awaited<ReturnType<ExtensionSession['serviceWorker']>>;

/**
 * Waits for the writes under way in the background (a cache hit is counted after it is answered),
 * so a read sees everything the pages were told so far.
 */
export async function writesSettled(worker: Worker): Promise<void> {
  await callTestHook(worker, 'writesSettled');
}

/** Every record of store `name` of the extension's database, read where it runs (service worker or extension page). */
function getAll(name: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('realfake-lens');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = open.result.transaction(name, 'readonly').objectStore(name).getAll();
      req.onsuccess = () => {
        open.result.close();
        resolve(req.result);
      };
      req.onerror = () => reject(req.error);
    };
  });
}

/** Every record of one object store of the extension's database, once the pending writes landed. */
export async function readExtensionStore<T>(ext: ExtensionSession, store: string): Promise<T[]> {
  const worker = await ext.serviceWorker();
  await writesSettled(worker);
  return (await worker.evaluate(getAll, store)) as T[];
}

/**
 * The same, read from an extension page without the service worker: as the database is now,
 * whether the worker is stopped or still holding writes back.
 */
export async function readExtensionStoreFromPage<T>(ext: ExtensionSession, store: string): Promise<T[]> {
  return fromExtensionPage<T[]>(ext, getAll.toString(), store);
}
