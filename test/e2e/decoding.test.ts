// Every decoding case in real Chromium with the built extension: a page of pictures written at test
// time by PIL, OpenCV and exiftool (test/support/decoding-cases.ts: EXIF orientations 2-8,
// progressive, CMYK, grey and ICC-tagged JPEG; palette, palette + tRNS, grey + alpha, translucent
// RGBA, 16-bit PNG; GIF; WebP lossy and lossless), each badge's p(generated) within 1e-3 of
// PyTorch on the reference decode (tools/realfake_ref/pipeline.py), and a truncated JPEG on the
// same page still saying plainly that it could not be checked.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForBadges, type BadgeReading } from '../support/badges';
import { launchWithExtension, type ExtensionSession } from '../support/chrome';
import { makeDecodingSet, type DecodingSet } from '../support/decoding-cases';
import { referenceScores } from '../support/python';
import { startServer, type TestServer } from '../support/server';

const TRUNCATED = 'truncated.jpg';

let set: DecodingSet;
let reference: Map<string, number>;
let server: TestServer;
let ext: ExtensionSession;
let badges: BadgeReading[];

function casesPage(): string {
  const figures = [...set.cases.map((c) => c.file), TRUNCATED]
    .map((f) => `<figure><img src="/static/${f}" alt=""><figcaption>${f}</figcaption></figure>`)
    .join('\n');
  // 240 px high: every case's shorter displayed side is over the 128 px the extension judges from.
  return `<!doctype html><html><head><meta charset="utf-8"><title>decoding cases</title>
<style>body{margin:16px;font:12px sans-serif} main{display:flex;flex-wrap:wrap;gap:12px} figure{margin:0} img{display:block;height:240px;width:auto}</style>
</head><body><main>
${figures}
</main></body></html>`;
}

beforeAll(async () => {
  set = await makeDecodingSet();
  // A baseline JPEG cut in half: the page shows its top, the extension must say it cannot check it.
  const whole = readFileSync(join(set.dir, 'exif-orientation-2.jpg'));
  writeFileSync(join(set.dir, TRUNCATED), whole.subarray(0, whole.length >> 1));
  reference = await referenceScores(set.cases.map((c) => join(set.dir, c.file)));
  server = await startServer(set.dir);
  server.page('/cases.html', casesPage());
  ext = await launchWithExtension();
});

afterAll(async () => {
  await ext?.close();
  await server?.close();
  set?.remove();
});

describe('decoding cases: badges in real Chromium', () => {
  it('gives every case a verdict, and the truncated JPEG its clear state', async () => {
    const page = await ext.context.newPage();
    // Pictures are checked when in or near the viewport: a tall one puts every case there.
    await page.setViewportSize({ width: 1280, height: 4000 });
    await page.goto(`${server.origin}/cases.html`);
    const expected = set.cases.length + 1;
    badges = await waitForBadges(page, (b) => b.length >= expected && b.every((x) => x.state !== 'checking'));
    await page.close();
    expect(badges).toHaveLength(expected);
    const truncated = badges.find((b) => b.src.endsWith(`/static/${TRUNCATED}`));
    expect(truncated).toMatchObject({ state: 'failed', reason: 'undecodable', text: "Couldn't check: could not decode" });
    for (const c of set.cases) {
      expect(badges.find((b) => b.src.endsWith(`/static/${c.file}`))?.state, c.file).toMatch(/^(generated|real)$/);
    }
  });

  it("gives each case the PyTorch reference's probability (within 1e-3)", () => {
    const rows = set.cases.map((c) => {
      const got = badges.find((b) => b.src.endsWith(`/static/${c.file}`))?.p ?? NaN;
      const want = reference.get(join(set.dir, c.file)) ?? NaN;
      return { file: c.file, mode: c.mode, got, want, diff: Math.abs(got - want) };
    });
    console.log('browser vs PyTorch p(generated), per decoding case:');
    for (const r of rows) {
      console.log(`  ${r.file.padEnd(24)} ${r.mode.padEnd(5)} ${r.got.toFixed(6)} ${r.want.toFixed(6)}  |Δ| ${r.diff.toExponential(2)}`);
    }
    // NaN fails this too (a missing badge or reference).
    for (const r of rows) expect(r.diff, r.file).toBeLessThanOrEqual(1e-3);
  });
});
