#!/usr/bin/env node
// `npm start`: builds the extension, serves a demo page of real photographs on 127.0.0.1 and
// opens Chromium with the extension loaded. With `-- --headless` (or when there is no display)
// it saves a screenshot of the demo page with its badges instead and exits.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..');
const photosDir = join(root, 'test/fixtures/photos');
const dist = join(root, 'dist');
const argv = process.argv.slice(2);
const noDisplay = !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
const headless = argv.includes('--headless') || noDisplay;
const shotPath = join(root, 'artifacts', 'demo.png');

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function chromePath() {
  const c = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
    (p) => p && existsSync(p),
  );
  if (!c) throw new Error('Chromium not found: run scripts/setup.sh (as root) or set CHROME_PATH');
  return c;
}

function demoPage() {
  const index = JSON.parse(readFileSync(join(photosDir, 'index.json'), 'utf8'));
  const figures = index
    .map(
      (p) =>
        `<figure><img src="/photos/${encodeURIComponent(p.file)}" alt="${p.file}" width="${p.width}" height="${p.height}">` +
        `<figcaption>${p.file} · ${p.width}×${p.height}${p.small ? ' (too small to judge)' : ''}</figcaption></figure>`,
    )
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Realfake Lens demo</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:24px;background:#f8fafc;color:#0f172a}
main{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
figure{margin:0;background:#fff;padding:8px;border-radius:8px;box-shadow:0 1px 3px #0002}
img{display:block;max-width:360px;height:auto}
figcaption{font-size:12px;color:#475569;margin-top:4px}
</style></head><body>
<h1>Realfake Lens demo</h1>
<p>Real photographs (scikit-image's sample data). Each image of 128 px or more gets a badge.
With the test model installed, the scores are meaningless.</p>
<main>${figures}</main></body></html>`;
}

sh('bash', ['scripts/setup.sh']);
if (!argv.includes('--no-build')) sh('npx', ['vite', 'build', '--logLevel', 'warn']);

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(demoPage());
    return;
  }
  const m = /^\/photos\/([^/]+)$/.exec(path);
  if (m) {
    try {
      const body = await readFile(join(photosDir, decodeURIComponent(m[1])));
      const type = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg' }[extname(m[1]).toLowerCase()];
      res.writeHead(200, { 'content-type': type ?? 'application/octet-stream' }).end(body);
      return;
    } catch {
      /* fall through */
    }
  }
  res.writeHead(404).end('not found');
});
await new Promise((r) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const args = [
  `--disable-extensions-except=${dist}`,
  `--load-extension=${dist}`,
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
];
if (process.getuid?.() === 0) args.push('--no-sandbox');
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'rfl-demo-')), {
  executablePath: chromePath(),
  headless,
  args,
  viewport: headless ? { width: 1400, height: 1000 } : null,
});
const page = context.pages()[0] ?? (await context.newPage());
await page.goto(url);
console.log(`Demo page: ${url}`);

if (headless) {
  if (noDisplay && !argv.includes('--headless')) console.log('No display found: running headless.');
  // Wait until every badge has a verdict. Badges sit in a closed shadow root, which the
  // DevTools protocol (unlike page scripts) can read.
  const cdp = await context.newCDPSession(page);
  const states = async () => {
    const { root: doc } = await cdp.send('DOM.getDocument', { depth: -1, pierce: true });
    const found = [];
    const walk = (n) => {
      const a = n.attributes ?? [];
      const i = a.indexOf('data-state');
      if (i >= 0 && i % 2 === 0) found.push(a[i + 1]);
      for (const c of [...(n.children ?? []), ...(n.shadowRoots ?? [])]) walk(c);
    };
    walk(doc);
    return found;
  };
  const deadline = Date.now() + 180_000;
  for (;;) {
    const s = await states();
    if ((s.length > 0 && !s.includes('checking')) || Date.now() > deadline) break;
    await page.waitForTimeout(500);
  }
  mkdirSync(join(root, 'artifacts'), { recursive: true });
  await page.screenshot({ path: shotPath, fullPage: true });
  console.log(`Screenshot of the demo page with its badges: ${shotPath}`);
  await context.close();
  server.close();
} else {
  console.log('Close the browser window to stop.');
  context.on('close', () => server.close());
}
