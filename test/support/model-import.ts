// Installs a converted model the way a user does: its manifest.json and ONNX file chosen in the
// options page's file picker (Model > Install from files), checked and stored in OPFS by the page,
// then made the active model there.

import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExtensionSession } from './chrome';

/**
 * Imports the model folder `dir` (manifest.json + its ONNX file) through the options page and makes
 * it the active model; resolves with its id. With `as`, the manifest is rewritten to that id and
 * name first (the ONNX file is linked, not copied). An 800 MB file takes minutes on a busy machine.
 */
export async function importThroughOptions(
  ext: ExtensionSession,
  dir: string,
  opts: { as?: { id: string; name: string }; timeoutMs?: number } = {},
): Promise<string> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { id: string; name: string; onnx: { file: string } };
  let from = dir;
  if (opts.as) {
    from = mkdtempSync(join(tmpdir(), 'rfl-import-'));
    writeFileSync(join(from, 'manifest.json'), JSON.stringify({ ...manifest, ...opts.as }));
    symlinkSync(join(dir, manifest.onnx.file), join(from, manifest.onnx.file));
  }
  const id = opts.as?.id ?? manifest.id;
  const options = await ext.context.newPage();
  try {
    await options.goto(`chrome-extension://${ext.extensionId}/src/options/index.html`);
    await options.locator('#model-files').setInputFiles([join(from, 'manifest.json'), join(from, manifest.onnx.file)]);
    await options.getByRole('button', { name: 'Import model files' }).click();
    await options
      .locator(`li[data-model-id="${id}"]`)
      .getByRole('button', { name: 'Use this model' })
      .click({ timeout: opts.timeoutMs ?? 900_000 });
    await options.getByText('Now using').waitFor();
  } finally {
    await options.close();
    if (from !== dir) rmSync(from, { recursive: true, force: true });
  }
  return id;
}
