// Finds Debian's Chromium (or $CHROME_PATH) and launches it with the built extension loaded.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Worker } from 'playwright-core';

/** The test build (`npm run build:test`: test hooks and engine fault switches; see vite.config.ts). */
export const DIST = resolve(process.env.RFL_DIST ?? resolve(import.meta.dirname, '../../dist-test'));

export function chromePath(): string {
  const candidates = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('Chromium not found: run scripts/setup.sh or set CHROME_PATH');
  return found;
}

/** Flags that keep Chromium quiet on a machine with no network but loopback. */
export const QUIET_FLAGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-features=Translate,OptimizationHints,MediaRouter',
];

export interface ExtensionSession {
  context: BrowserContext;
  extensionId: string;
  serviceWorker: () => Promise<Worker>;
  close: () => Promise<void>;
}

export async function launchWithExtension(
  opts: { headless?: boolean; extraArgs?: string[]; dist?: string; /** A profile folder kept after close (to start the browser again on it); default: a new one, removed. */ profile?: string } = {},
): Promise<ExtensionSession> {
  const dist = opts.dist ?? DIST;
  if (!existsSync(join(dist, 'manifest.json'))) throw new Error(`no build in ${dist}: run "npm run build:test" first`);
  const userDataDir = opts.profile ?? mkdtempSync(join(tmpdir(), 'rfl-profile-'));
  const args = [
    `--disable-extensions-except=${dist}`,
    `--load-extension=${dist}`,
    ...QUIET_FLAGS,
    ...(opts.extraArgs ?? []),
  ];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromePath(),
    headless: opts.headless ?? true,
    args,
    viewport: { width: 1280, height: 900 },
  });
  const serviceWorker = async (): Promise<Worker> =>
    context.serviceWorkers().find((w) => w.url().startsWith('chrome-extension://')) ??
    (await context.waitForEvent('serviceworker', { timeout: 30_000 }));
  const worker = await serviceWorker();
  const extensionId = new URL(worker.url()).host;
  return {
    context,
    extensionId,
    serviceWorker,
    close: async () => {
      await context.close();
      if (!opts.profile) rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
