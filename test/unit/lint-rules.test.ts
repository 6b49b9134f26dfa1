// The project's lint configuration, run through ESLint's Node API on small snippets: every
// DOM and messaging security rule of docs/ARCHITECTURE.md ("Security rules") fires on a bad
// line, and stays quiet on the safe way to write the same thing. (A rule that never fires would
// let `npm run lint` pass anything.)

import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { resolve } from 'node:path';

const eslint = new ESLint({ cwd: resolve(import.meta.dirname, '../..') });

async function ruleIds(code: string): Promise<string[]> {
  // A path under src/ so the project's config applies as it does to real code.
  const [result] = await eslint.lintText(code, { filePath: resolve(import.meta.dirname, '../../src/content/lint-probe.ts') });
  const fatal = result?.messages.filter((m) => m.fatal) ?? [];
  if (fatal.length > 0) throw new Error(`snippet does not parse: ${fatal[0]?.message}`);
  return (result?.messages ?? []).filter((m) => m.severity === 2).map((m) => m.ruleId ?? '(none)');
}

const BAD: Array<[string, string, string]> = [
  ['innerHTML assignment', 'export function f(el: HTMLElement, s: string): void { el.innerHTML = s; }', 'no-unsanitized/property'],
  ['innerHTML +=', 'export function f(el: HTMLElement, s: string): void { el.innerHTML += s; }', 'no-unsanitized/property'],
  ['constant innerHTML (still banned)', "export function f(el: HTMLElement): void { el.innerHTML = '<b>x</b>'; }", 'no-restricted-syntax'],
  ['outerHTML assignment', 'export function f(el: HTMLElement, s: string): void { el.outerHTML = s; }', 'no-unsanitized/property'],
  ['insertAdjacentHTML', "export function f(el: HTMLElement, s: string): void { el.insertAdjacentHTML('beforeend', s); }", 'no-unsanitized/method'],
  ['constant insertAdjacentHTML', "export function f(el: HTMLElement): void { el.insertAdjacentHTML('beforeend', '<i></i>'); }", 'no-restricted-properties'],
  ['document.write', 'export function f(s: string): void { document.write(s); }', 'no-restricted-properties'],
  ['createContextualFragment', 'export function f(r: Range, s: string): DocumentFragment { return r.createContextualFragment(s); }', 'no-restricted-properties'],
  ['eval', 'export function f(s: string): unknown { return eval(s); }', 'no-eval'],
  ['new Function', "export function f(s: string): unknown { return new Function('a', s); }", 'no-new-func'],
  ['Function()', 'export function f(s: string): unknown { return Function(s); }', 'no-new-func'],
  ['setTimeout with a string', "export function f(): void { setTimeout('alert(1)', 10); }", 'no-implied-eval'],
  ['window.setInterval with a template', 'export function f(s: string): void { window.setInterval(`go(${s})`, 10); }', 'no-implied-eval'],
  ['onMessageExternal', 'export function f(): void { chrome.runtime.onMessageExternal.addListener(() => undefined); }', 'no-restricted-properties'],
  ['onConnectExternal', 'export function f(): void { chrome.runtime.onConnectExternal.addListener(() => undefined); }', 'no-restricted-properties'],
];

describe('lint rules of docs/ARCHITECTURE.md ("Security rules")', () => {
  // The first case also loads typescript-eslint's parser: seconds on a busy machine.
  it.each(BAD)('refuses %s', async (_name, code, rule) => {
    const ids = await ruleIds(code);
    expect(ids, `${code}\n-> ${ids.join(', ')}`).toContain(rule);
  }, 60_000);

  it('accepts the safe ways to do the same things', async () => {
    const good = `
export function f(el: HTMLElement, s: string): void {
  const b = document.createElement('b');
  b.textContent = s;
  el.replaceChildren(b);
  el.setAttribute('title', s);
  setTimeout(() => el.remove(), 10);
  chrome.runtime.onMessage.addListener(() => undefined);
}
`;
    expect(await ruleIds(good)).toEqual([]);
  });

  it('finds nothing of the kind in the project itself', async () => {
    const results = await eslint.lintFiles(['src/**/*.{ts,tsx}']);
    const banned = new Set(BAD.map(([, , rule]) => rule));
    const hits = results.flatMap((r) => r.messages.filter((m) => m.ruleId && banned.has(m.ruleId)).map((m) => `${r.filePath}:${m.line} ${m.ruleId}`));
    expect(results.length).toBeGreaterThan(20);
    expect(hits).toEqual([]);
  }, 120_000);
});
