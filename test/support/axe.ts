// Runs axe-core (the npm package, loaded from node_modules) in a page and returns its violations.
// Injected through DevTools evaluation, which extension pages' CSP does not block.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(`${AXE_SOURCE}\n;0`);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: Document) => Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const r = await axe.run(document);
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/**
 * Screenshots `page` light and dark (`<dir>/<name>-light.png`, `-dark.png`) and runs axe-core in
 * each; leaves the page light. Expect `{ light: [], dark: [] }`.
 */
export async function axeLightAndDark(page: Page, dir: string, name: string): Promise<{ light: AxeViolation[]; dark: AxeViolation[] }> {
  const out: { light: AxeViolation[]; dark: AxeViolation[] } = { light: [], dark: [] };
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(dir, `${name}-${scheme}.png`), fullPage: true });
    out[scheme] = await axeViolations(page);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return out;
}

/**
 * axe-core over the page and the extension's badge layer, which lives in a closed shadow root that
 * axe (like any page script) cannot see. Through the DevTools protocol, the test hands axe's world
 * the layer's shadow root as its host's `shadowRoot` (a property on that world's own wrapper of the
 * host: the content script and the page's scripts are unaffected). `layerNodes` counts the layer's
 * elements axe examined, so a run that never saw the layer cannot pass for a clean one.
 */
export async function axeWithBadgeLayer(page: Page): Promise<{ violations: AxeViolation[]; layerNodes: number }> {
  const cdp = await page.context().newCDPSession(page);
  try {
    interface Node { nodeName: string; backendNodeId: number; children?: Node[]; shadowRoots?: Array<Node & { shadowRootType?: string }> }
    const { root } = (await cdp.send('DOM.getDocument', { depth: -1, pierce: true })) as { root: Node };
    const find = (n: Node): Node | null => {
      if (n.nodeName === 'REALFAKE-LENS-OVERLAY') return n;
      for (const c of [...(n.children ?? []), ...(n.shadowRoots ?? [])]) {
        const hit = find(c);
        if (hit) return hit;
      }
      return null;
    };
    const host = find(root);
    const shadow = host?.shadowRoots?.find((s) => s.shadowRootType === 'closed');
    if (!host || !shadow) throw new Error('no badge layer on the page');
    const resolve = async (backendNodeId: number): Promise<string> =>
      ((await cdp.send('DOM.resolveNode', { backendNodeId })) as { object: { objectId: string } }).object.objectId;
    await cdp.send('Runtime.callFunctionOn', {
      objectId: await resolve(host.backendNodeId),
      functionDeclaration: 'function (root) { Object.defineProperty(this, "shadowRoot", { get: () => root, configurable: true }); }',
      arguments: [{ objectId: await resolve(shadow.backendNodeId) }],
    });
  } finally {
    await cdp.detach();
  }
  await page.evaluate(`${AXE_SOURCE}\n;0`);
  return page.evaluate(async () => {
    type Result = { id: string; impact: string | null; help: string; nodes: Array<{ target: Array<string | string[]> }> };
    const axe = (globalThis as unknown as { axe: { run: (ctx: Document) => Promise<Record<'violations' | 'passes' | 'incomplete', Result[]>> } }).axe;
    const r = await axe.run(document);
    // A node inside a shadow root has, per frame, a list of selectors: its host's first.
    const inLayer = (t: Array<string | string[]>): boolean => Array.isArray(t[0]) && t[0].length > 1 && String(t[0][0]).includes('realfake-lens-overlay');
    const layer = new Set<string>();
    for (const rule of [...r.violations, ...r.passes, ...r.incomplete]) for (const n of rule.nodes) if (inLayer(n.target)) layer.add(JSON.stringify(n.target));
    return {
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.flat().join(' ')) })),
      layerNodes: layer.size,
    };
  });
}
