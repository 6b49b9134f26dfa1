// Runs code in the extension's other contexts from a test: the content script's isolated world
// of a page (through the DevTools protocol), and an extension page (as the popup would).

import type { Page } from 'playwright-core';
import type { ExtensionSession } from './chrome';

/** Runs `expression` in the content script's isolated world of `page` (its top frame). */
export async function inContentScript(page: Page, extensionId: string, expression: string): Promise<unknown> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const contexts: Array<{ id: number; origin: string; auxData?: { type?: string; isDefault?: boolean; frameId?: string } }> = [];
    cdp.on('Runtime.executionContextCreated', (e: { context: (typeof contexts)[number] }) => contexts.push(e.context));
    await cdp.send('Runtime.enable');
    const { frameTree } = (await cdp.send('Page.getFrameTree')) as { frameTree: { frame: { id: string } } };
    const world = contexts.find(
      (c) => c.auxData?.type === 'isolated' && c.origin.includes(extensionId) && c.auxData.frameId === frameTree.frame.id,
    );
    if (!world) throw new Error('content script world not found');
    const { result, exceptionDetails } = (await cdp.send('Runtime.evaluate', {
      expression,
      contextId: world.id,
      awaitPromise: true,
      returnByValue: true,
    })) as { result: { value: unknown }; exceptionDetails?: unknown };
    if (exceptionDetails) throw new Error(`content script evaluation failed: ${JSON.stringify(exceptionDetails)}`);
    return result.value;
  } finally {
    await cdp.detach();
  }
}

/** Calls `fn(arg)` (source text) in an extension page, as the popup would. */
export async function fromExtensionPage<T>(ext: ExtensionSession, fn: string, arg: unknown): Promise<T> {
  const page = await ext.context.newPage();
  try {
    await page.goto(`chrome-extension://${ext.extensionId}/src/popup/index.html`);
    return (await page.evaluate(`(${fn})(${JSON.stringify(arg)})`)) as T;
  } finally {
    await page.close();
  }
}
