// "Get LAION's realfake model": one click imports the published checkpoint's weights (only
// those, by Range requests) in the offscreen document (src/offscreen/checkpoint-download.ts), after
// the host permission is asked for on that click. Also any other checkpoint address, and a .ckpt on
// disk, which this page reads itself with File.slice (src/shared/checkpoint-import.ts).

import { useEffect, useRef, useState } from 'preact/hooks';
import browser from 'webextension-polyfill';
import { blobSource } from '../detector/checkpoint/source';
import { importCheckpoint, importErrorMessage, isAddressOrigin, LAION_CHECKPOINT_URL, modelIdFor, type CheckpointImportProgress } from '../shared/checkpoint-import';
import { askBackground } from '../shared/ask-background';
import { Int8VariantError } from '../shared/int8-import';
import type { CheckpointImportStatus } from '../shared/protocol/offscreen';
import type { ModelsReply } from '../shared/protocol/ui';

/** Hugging Face and the hosts its downloads redirect to (its .well-known/meta.json: *.hf.co CDN and Xet hosts). */
export const HUGGING_FACE_ORIGINS = ['https://huggingface.co/*', 'https://*.huggingface.co/*', 'https://*.hf.co/*'];

const mb = (n: number): string => `${(n / 1e6).toFixed(n < 10e6 ? 1 : 0)} MB`;

function timeLeft(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'working out the time left';
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

/** "120 MB of 790 MB · 12.3 MB/s · about 1 min left". */
export function describeProgress(c: Pick<CheckpointImportStatus, 'fetched' | 'toFetch' | 'startedAt' | 'fetchedAtStart'>, now: number): string {
  if (c.toFetch === 0) return 'reading the checkpoint’s table of contents…';
  const seconds = (now - c.startedAt) / 1000;
  const speed = seconds > 0.5 ? (c.fetched - c.fetchedAtStart) / seconds : 0;
  const rest = speed > 0 ? timeLeft((c.toFetch - c.fetched) / speed) : 'working out the time left';
  return `${mb(c.fetched)} of ${mb(c.toFetch)}${speed > 0 ? ` · ${mb(speed)}/s` : ''} · ${rest}`;
}

const RUNNING: ReadonlySet<string> = new Set(['reading', 'streaming', 'fetching', 'probing', 'int8']);

const PHASE_WORDS: Record<string, string> = {
  reading: 'Reading the checkpoint’s table of contents',
  probing: 'Checking the model on a test input',
  streaming: 'This server sends only the whole file: reading it once, keeping only the weights (pausing it keeps nothing)',
  int8: 'Making the int8 variant and measuring how closely it follows the model',
};

/** "Installed X." and what became of its int8 variant (`int8Id` made, or `int8Error`), if one was asked for. */
function installedText(what: string, int8Id: string | null, int8Error: string | null): string {
  const variant = int8Error ? ` ${int8Error}.` : int8Id ? ` Its int8 variant ${int8Id} is installed too, with its measured agreement.` : '';
  return `Installed ${what}.${variant} Choose “Use this model” to switch to it.`;
}

interface Props {
  state: ModelsReply;
  refresh: () => Promise<void>;
  onOutcome: (outcome: { ok: true; message: string } | { ok: false; error: string }) => void;
}

async function permit(origins: string[]): Promise<boolean> {
  try {
    return await browser.permissions.request({ origins });
  } catch {
    return false;
  }
}

export function GetCheckpoint({ state, refresh, onOutcome }: Props) {
  const [other, setOther] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [int8, setInt8] = useState(false);
  const [local, setLocal] = useState<(CheckpointImportProgress & { startedAt: number }) | null>(null);
  const [now, setNow] = useState(Date.now());
  /** Stops the file import under way (its Cancel button). */
  const stopLocal = useRef<AbortController | null>(null);
  const c = state.checkpoint;
  const running = c !== null && RUNNING.has(c.state);

  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => {
      setNow(Date.now());
      void refresh();
    }, 400);
    return () => clearInterval(timer);
  }, [running, refresh]);
  useEffect(() => {
    if (c?.state === 'installed') onOutcome({ ok: true, message: installedText(c.id, null, c.error) });
    else if (c?.state === 'failed') onOutcome({ ok: false, error: `Not installed: ${c.error ?? 'unknown error'}. Nothing of it was kept.` });
    else if (c?.state === 'cancelled') onOutcome({ ok: true, message: 'Import cancelled; nothing of it was kept.' });
    else if (c?.state === 'paused') onOutcome({ ok: true, message: 'Import paused: what was fetched is kept; choose “Resume” to go on, even after a restart.' });
  }, [c?.state, c?.error, c?.id]);

  const start = async (url: string, origins: string[]): Promise<void> => {
    if (!(await permit(origins))) {
      onOutcome({ ok: false, error: 'The browser did not grant access to that address, so nothing was fetched.' });
      return;
    }
    const r = await askBackground({ kind: 'ui/import-checkpoint', url, ...(int8 ? { int8: true } : {}) });
    await refresh();
    if (!r.ok) onOutcome({ ok: false, error: r.error });
  };

  const startOther = (e: Event): void => {
    e.preventDefault();
    let url: URL;
    try {
      url = new URL(other.trim());
    } catch {
      onOutcome({ ok: false, error: `“${other.trim().slice(0, 100)}” is not an address` });
      return;
    }
    void start(url.href, [`${url.origin}/*`]);
  };

  const importFile = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!file || local) return;
    const abort = new AbortController();
    stopLocal.current = abort;
    setLocal({ phase: 'reading', fetched: 0, toFetch: 0, fileBytes: file.size, weightBytes: 0, startedAt: Date.now() });
    try {
      const m = await importCheckpoint({
        id: modelIdFor(file.name),
        name: `${file.name} (imported checkpoint)`,
        origin: file.name,
        source: blobSource(file),
        signal: abort.signal,
        paused: () => false,
        int8,
        fetchGraph: async (path) => {
          const res = await fetch(browser.runtime.getURL(path));
          if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
          return new Uint8Array(await res.arrayBuffer());
        },
        progress: (p) => setLocal((old) => ({ ...p, startedAt: old?.startedAt ?? Date.now() })),
      });
      await refresh();
      onOutcome({ ok: true, message: installedText(m.name, int8 ? `${m.id}-int8` : null, null) });
    } catch (err) {
      await refresh();
      if (abort.signal.aborted) {
        onOutcome({ ok: true, message: 'Import cancelled; nothing of it was kept.' });
        return;
      }
      if (err instanceof Int8VariantError) {
        onOutcome({ ok: true, message: installedText(modelIdFor(file.name), null, err.message) });
        return;
      }
      onOutcome({ ok: false, error: `Not installed: ${importErrorMessage(err)}. Nothing of it was kept.` });
    } finally {
      stopLocal.current = null;
      setLocal(null);
    }
  };

  const paused = state.unfinished.filter((u) => u.checkpoint === true);

  return (
    <div class="get-checkpoint">
      <h3>Get LAION’s realfake model</h3>
      <p class="help">
        Fetches only the model’s weights (about 790 MB) out of LAION’s published checkpoint (2.4 GB) at Hugging Face (
        <code>huggingface.co/realfakerepo/realfake</code>, served from its <code>hf.co</code> download hosts), byte range by
        byte range. Nothing else is sent: no pages, no pictures, no identifiers. Your browser asks you first to let the
        extension reach Hugging Face.
      </p>
      <p class="option">
        <label>
          <input id="checkpoint-int8" type="checkbox" checked={int8} disabled={running || local !== null} onChange={(e) => setInt8((e.currentTarget as HTMLInputElement).checked)} />{' '}
          Also make the int8 variant (about 220 MB for ConvNeXt-Large, faster on WebAssembly), and measure how closely it
          follows the model; it is used only if you choose it
        </label>
      </p>
      <p class="buttons">
        <button type="button" id="get-laion" disabled={running} onClick={() => void start(LAION_CHECKPOINT_URL, HUGGING_FACE_ORIGINS)}>
          Get LAION’s realfake model
        </button>
      </p>
      {c && running && (
        <div class="download" role="status">
          <label for="checkpoint-progress">
            {PHASE_WORDS[c.state] ?? 'Fetching the weights'}
            {c.state === 'fetching' || c.state === 'streaming' ? `: ${describeProgress(c, now)}` : '…'}
          </label>
          <progress id="checkpoint-progress" max={c.toFetch || 1} value={c.toFetch ? c.fetched : undefined} />
          <button type="button" disabled={c.state !== 'fetching'} onClick={() => void askBackground({ kind: 'ui/stop-checkpoint-import', pause: true }).then(refresh)}>
            Pause
          </button>
          <button type="button" class="danger" onClick={() => void askBackground({ kind: 'ui/stop-checkpoint-import', pause: false }).then(refresh)}>
            Cancel
          </button>
        </div>
      )}
      {paused.map((u) => (
        <div class="download" key={u.id} data-paused-import={u.id}>
          {/* A file's import stopped when its page closed: only the file can continue it. */}
          {isAddressOrigin(u.manifestUrl) ? (
            <>
              <span>
                Paused import <code>{u.id}</code> · {mb(u.received)} of {mb(u.total)}
              </span>
              <button type="button" disabled={running} onClick={() => void start(u.manifestUrl, [`${new URL(u.manifestUrl).origin}/*`])}>
                Resume
              </button>
            </>
          ) : (
            <span>
              Stopped import of the file <code>{u.manifestUrl}</code> · {mb(u.received)} of {mb(u.total)} · choose that file again below to go on
            </span>
          )}
          <button type="button" class="danger" onClick={() => void askBackground({ kind: 'ui/remove-model', id: u.id }).then(refresh)}>
            Cancel
          </button>
        </div>
      ))}
      <form class="install" onSubmit={startOther}>
        <label for="checkpoint-url">Or another checkpoint’s address</label>
        <input id="checkpoint-url" type="url" placeholder="https://example.org/convnext.ckpt" value={other} onInput={(e) => setOther((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit" disabled={running || other.trim() === ''}>
          Import from this address
        </button>
      </form>
      <form class="install" onSubmit={(e) => void importFile(e)}>
        <label for="checkpoint-file">Import a checkpoint file</label>
        <input
          id="checkpoint-file"
          type="file"
          accept=".ckpt,.pt,.pth"
          disabled={local !== null}
          onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
        />
        <button type="submit" disabled={file === null || local !== null}>
          Import checkpoint file
        </button>
      </form>
      <p class="help">
        A PyTorch or PyTorch-Lightning checkpoint of the same kind of network (ConvNeXt) already on this computer: only the
        model’s weights are read out of it, piece by piece, never the whole file at once.
      </p>
      {local && (
        <div class="download" role="status">
          <label for="checkpoint-file-progress">
            {PHASE_WORDS[local.phase] ? `${PHASE_WORDS[local.phase]}…` : `Reading the weights out of the file: ${describeProgress({ ...local, fetchedAtStart: 0 }, Date.now())}`}
          </label>
          <progress id="checkpoint-file-progress" max={local.toFetch || 1} value={local.toFetch ? local.fetched : undefined} />
          <button type="button" class="danger" onClick={() => stopLocal.current?.abort()}>
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}
