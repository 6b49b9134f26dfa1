// Launches Debian's Firefox ESR (or $FIREFOX_PATH) over WebDriver BiDi with the Firefox build
// (its test build, dist-firefox-test/) installed as a temporary add-on, and reaches the extension's own pages.
//
// Two things BiDi in Firefox does differently from Chromium's DevTools protocol:
// - Extension pages (moz-extension://) can be opened in a tab only with --remote-allow-system-access,
//   and their navigation events are not reported (bug 1755014): the helpers navigate without
//   waiting and poll the page until its script has run.
// - Badges live in a closed shadow root; BiDi serialises it when asked for `includeShadowTree:
//   'all'`, so they are read the same way as in Chromium: only from the extension's own layer.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { GECKO_ID } from '../../scripts/firefox-build';
import { badgeReading, pollBadges, type BadgeReading } from './badges';

/** The Firefox test build (`npm run build:firefox-test`; see vite.config.ts). */
export const DIST_FIREFOX = resolve(process.env.RFL_DIST_FIREFOX ?? resolve(import.meta.dirname, '../../dist-firefox-test'));

export function firefoxPath(): string {
  const candidates = [process.env.FIREFOX_PATH, '/usr/bin/firefox-esr', '/usr/bin/firefox'];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('Firefox not found: run scripts/setup.sh or set FIREFOX_PATH');
  return found;
}

/** The part of puppeteer's BiDi browser the helpers use: the raw WebDriver BiDi connection. */
interface BidiConnection {
  send(method: string, params: object): Promise<{ result: Record<string, unknown> }>;
}

interface RemoteValue {
  type: string;
  value?: unknown;
}
interface NodeValue {
  nodeType: number;
  localName?: string;
  nodeValue?: string;
  mode?: 'open' | 'closed';
  attributes?: Record<string, string>;
  children?: Array<{ type: string; value?: NodeValue }>;
  shadowRoot?: { type: string; value?: NodeValue } | null;
}

export interface ExtensionTab {
  /** The tab's BiDi browsing context id. */
  context: string;
  /** Evaluates `expression` (a promise is awaited) in the page; the result comes back through JSON. */
  evaluate<T>(expression: string): Promise<T>;
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

export interface FirefoxSession {
  browser: Browser;
  /** moz-extension://<uuid>: the extension's origin, fixed by the test before install. */
  origin: string;
  newPage(): Promise<Page>;
  openExtensionPage(path: string): Promise<ExtensionTab>;
  readBadges(page: Page): Promise<BadgeReading[]>;
  waitForBadges(page: Page, done: (b: BadgeReading[]) => boolean, timeoutMs?: number): Promise<BadgeReading[]>;
  close(): Promise<void>;
}

function contextOf(page: Page): string {
  // puppeteer's BiDi frame keeps its browsing context id here.
  const id = (page.mainFrame() as unknown as { _id?: string })._id;
  if (typeof id !== 'string') throw new Error('no BiDi browsing context for this page');
  return id;
}

async function evaluateIn<T>(connection: BidiConnection, context: string, expression: string): Promise<T> {
  const { result } = await connection.send('script.evaluate', {
    // Wrapped so that any value, a promise's included, comes back as one JSON string.
    expression: `(async () => JSON.stringify(await (${expression})))()`,
    target: { context },
    awaitPromise: true,
  });
  if (result.type === 'exception') {
    const details = result.exceptionDetails as { text?: string };
    throw new Error(`evaluation failed: ${details.text ?? JSON.stringify(details)}\n  in: ${expression.slice(0, 300)}`);
  }
  const value = (result.result as RemoteValue).value;
  return (typeof value === 'string' ? JSON.parse(value) : undefined) as T;
}

function textOf(n: NodeValue): string {
  if (n.nodeType === 3) return n.nodeValue ?? '';
  return (n.children ?? []).map((c) => (c.value ? textOf(c.value) : '')).join('');
}

/** The badges in `overlay`'s closed shadow root (an open one is not the extension's). */
function badgesOf(overlay: NodeValue): BadgeReading[] {
  const root = overlay.shadowRoot?.value;
  if (!root || root.mode !== 'closed') return [];
  const out: BadgeReading[] = [];
  const walk = (n: NodeValue): void => {
    const a = n.attributes ?? {};
    if (n.localName === 'button' && a.class === 'badge' && a['data-state']) {
      out.push(badgeReading(a, textOf(n), 0));
    }
    for (const c of n.children ?? []) if (c.value) walk(c.value);
  };
  walk(root);
  return out;
}

/** `prefs`: Firefox preferences for this profile (e.g. one that switches a JavaScript feature off). */
export async function launchFirefoxWithExtension(opts: { dist?: string; prefs?: Record<string, unknown> } = {}): Promise<FirefoxSession> {
  const dist = opts.dist ?? DIST_FIREFOX;
  if (!existsSync(resolve(dist, 'manifest.json'))) throw new Error(`no build in ${dist}: run "npm run build:firefox-test" first`);
  const uuid = randomUUID();
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath(),
    headless: true,
    // Lets BiDi open the extension's own pages in a tab.
    args: ['--remote-allow-system-access'],
    extraPrefsFirefox: {
      // The extension's origin is random per profile unless named here.
      'extensions.webextensions.uuids': JSON.stringify({ [GECKO_ID]: uuid }),
      ...opts.prefs,
    },
  });
  const connection = (browser as unknown as { connection: BidiConnection }).connection;
  const id = await browser.installExtension(dist);
  if (id !== GECKO_ID) throw new Error(`installed as ${id}, expected ${GECKO_ID}`);
  const origin = `moz-extension://${uuid}`;

  const openExtensionPage = async (path: string): Promise<ExtensionTab> => {
    const page = await browser.newPage();
    const context = contextOf(page);
    await connection.send('browsingContext.navigate', { context, url: `${origin}/${path}`, wait: 'none' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await evaluateIn<boolean>(connection, context, `location.href.startsWith('${origin}/') && document.readyState === 'complete'`).catch(() => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`extension page ${path} did not load`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      context,
      evaluate: (expression) => evaluateIn(connection, context, expression),
      screenshot: async () => {
        const { result } = await connection.send('browsingContext.captureScreenshot', { context });
        return Buffer.from(result.data as string, 'base64');
      },
      close: () => page.close(),
    };
  };

  const readBadges = async (page: Page): Promise<BadgeReading[]> => {
    const { result } = await connection.send('script.evaluate', {
      expression: 'document.querySelectorAll("realfake-lens-overlay")',
      target: { context: contextOf(page) },
      awaitPromise: false,
      serializationOptions: { maxDomDepth: 12, includeShadowTree: 'all' },
    });
    if (result.type === 'exception') return [];
    const list = (result.result as RemoteValue).value as Array<{ value?: NodeValue }> | undefined;
    return (list ?? []).flatMap((n) => (n.value ? badgesOf(n.value) : []));
  };

  return {
    browser,
    origin,
    newPage: () => browser.newPage(),
    openExtensionPage,
    readBadges,
    waitForBadges: (page, done, timeoutMs = 120_000) => pollBadges(() => readBadges(page), done, timeoutMs),
    close: async () => {
      await browser.close();
    },
  };
}
