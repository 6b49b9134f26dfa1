// "Install from files": the manifest.json and ONNX file that the project's converter wrote,
// checked and stored by this page itself (src/options/model-import.ts), with progress.

import { useState } from 'preact/hooks';
import { importModelFiles, type ImportProgress } from './model-import';

const mb = (n: number): string => `${(n / 1e6).toFixed(n < 10e6 ? 1 : 0)} MB`;

interface Props {
  /** Called when an import ends: the model list is read again, then the outcome shown. */
  onEnd: (outcome: { ok: true; message: string } | { ok: false; error: string }) => Promise<void>;
  onStart: () => void;
}

export function ImportFromFiles({ onEnd, onStart }: Props) {
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState<ImportProgress | null>(null);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (files.length === 0 || progress) return;
    onStart();
    setProgress({ phase: 'storing', done: 0, total: 0 });
    try {
      const m = await importModelFiles(files, setProgress);
      await onEnd({ ok: true, message: `Installed ${m.name} from files. Choose “Use this model” to switch to it.` });
    } catch (err) {
      // Refused before anything was written, or what was written has been removed.
      await onEnd({ ok: false, error: `Not installed: ${err instanceof Error ? err.message : String(err)}. Nothing of it was kept.` });
    } finally {
      setProgress(null);
    }
  };

  return (
    <>
      <h3>Install from files</h3>
      <form class="install" onSubmit={(e) => void submit(e)}>
        <label for="model-files">Converted model’s manifest.json and ONNX file</label>
        <input
          id="model-files"
          type="file"
          multiple
          accept=".json,.onnx,application/json"
          disabled={progress !== null}
          onChange={(e) => setFiles(Array.from((e.currentTarget as HTMLInputElement).files ?? []))}
        />
        <button type="submit" disabled={files.length === 0 || progress !== null}>
          Import model files
        </button>
      </form>
      <p class="help">
        Choose both files that <code>npm run model:install</code> or <code>tools/convert.py</code> wrote in the model’s
        folder. The manifest is checked, then the model file’s size and SHA-256, before it is kept in this browser.
      </p>
      {progress && (
        <div class="download" role="status">
          <label for="import-progress">
            {progress.phase === 'verifying' ? 'Checking the SHA-256' : 'Reading and storing the model file'}
            {progress.total > 0 ? `: ${mb(progress.done)} of ${mb(progress.total)}` : '…'}
          </label>
          <progress id="import-progress" max={progress.total || 1} value={progress.total ? progress.done : undefined} />
        </div>
      )}
    </>
  );
}
