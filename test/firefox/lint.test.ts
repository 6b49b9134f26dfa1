// `web-ext lint` (Mozilla's add-on linter, as addons.mozilla.org runs it) on the Firefox build:
// no error, no warning, no notice. And the manifest Firefox reads says what the store expects.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DIST_FIREFOX } from '../support/firefox';
import { GECKO_ID } from '../../scripts/firefox-build';

const WEB_EXT = resolve(import.meta.dirname, '../../node_modules/.bin/web-ext');

interface LintMessage {
  code: string;
  message: string;
  file?: string;
}

describe('Firefox build: web-ext lint', () => {
  it('finds nothing to report', () => {
    const r = spawnSync(WEB_EXT, ['lint', '--source-dir', DIST_FIREFOX, '--self-hosted', '--output', 'json', '--no-config-discovery'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const report = JSON.parse(r.stdout) as { errors: LintMessage[]; warnings: LintMessage[]; notices: LintMessage[] };
    const all = [...report.errors, ...report.warnings, ...report.notices].map((m) => `${m.code} ${m.file ?? ''}: ${m.message}`);
    expect(all).toEqual([]);
  }, 150_000);

  it('declares a Gecko id, no data collection, an event page, and no Chromium-only permission', () => {
    const m = JSON.parse(readFileSync(join(DIST_FIREFOX, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(m.browser_specific_settings).toMatchObject({ gecko: { id: GECKO_ID, data_collection_permissions: { required: ['none'] } } });
    expect(m.background).toEqual({ scripts: [expect.any(String)], type: 'module' });
    expect(m.permissions).not.toContain('offscreen');
    expect(m).not.toHaveProperty('cross_origin_embedder_policy');
  });
});
