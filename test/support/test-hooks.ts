// Calls the service worker's test hooks (test builds only; src/background/index.ts), typed by the
// hooks themselves.

import type { Worker } from 'playwright-core';
import type { TestHooks } from '../../src/background/index';

/** `realfakeLensTestHooks[name](...args)` in `worker`, awaited there. Arguments and result cross as JSON-like values. */
export async function callTestHook<K extends keyof TestHooks>(
  worker: Worker,
  name: K,
  ...args: Parameters<TestHooks[K]>
): Promise<Awaited<ReturnType<TestHooks[K]>>> {
  return (await worker.evaluate(
    ([hook, values]) => {
      const hooks = (globalThis as unknown as { realfakeLensTestHooks: Record<string, (...a: unknown[]) => unknown> }).realfakeLensTestHooks;
      const fn = hooks[hook];
      if (typeof fn !== 'function') throw new Error(`no test hook ${hook}: not a test build?`);
      return fn(...values);
    },
    [name, args] as [string, unknown[]],
  )) as Awaited<ReturnType<TestHooks[K]>>;
}
