// The options page's model section: the active model and its manifest details, every installed
// model (packaged with the extension or downloaded), install from a manifest URL with progress,
// switch, and remove downloaded ones. The background does the work (src/background/models.ts);
// this component only asks and shows, polling while a download runs.

import { useCallback, useEffect, useState } from 'preact/hooks';
import { askBackground } from '../shared/ask-background';
import type { Request } from '../shared/protocol/channel';
import type { ModelInfo, ModelsReply, UiChannel } from '../shared/protocol/ui';
import { Outcome } from './controls';
import { GetCheckpoint } from './GetCheckpoint';
import { ImportFromFiles } from './ImportFromFiles';
import { agreementText, variantRole } from './variant-text';

type ModelAction = 'ui/install-model' | 'ui/cancel-model-download' | 'ui/set-active-model' | 'ui/remove-model';
const POLL_MS = 400;
const mb = (n: number): string => `${(n / 1e6).toFixed(n < 10e6 ? 1 : 0)} MB`;

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function whereFrom(m: ModelInfo): string {
  if (m.importedFrom !== null) return `imported from the file ${m.importedFrom}`;
  return m.downloadedFrom === null ? 'packaged with the extension' : `downloaded from ${originOf(m.downloadedFrom)}`;
}

function Details(props: { model: ModelInfo }) {
  const m = props.model;
  return (
    <dl class="model-details">
      <dt>Name</dt>
      <dd>{m.name}</dd>
      <dt>Id</dt>
      <dd>
        <code>{m.id}</code>
      </dd>
      <dt>Version</dt>
      <dd>{m.version}</dd>
      <dt>Precision</dt>
      <dd>{m.precision}</dd>
      {m.agreement !== null && (
        <>
          <dt>Agreement</dt>
          <dd>{agreementText(m.agreement)}</dd>
        </>
      )}
      <dt>Weights from</dt>
      <dd>{m.origin}</dd>
      <dt>Installed</dt>
      <dd>{whereFrom(m)}</dd>
      <dt>Size</dt>
      <dd>{mb(m.bytes)}</dd>
      <dt>SHA-256</dt>
      <dd>
        <code class="sha">{m.sha256}</code>
      </dd>
    </dl>
  );
}

export function ModelManager() {
  const [state, setState] = useState<ModelsReply | null>(null);
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const refresh = useCallback(async (): Promise<void> => {
    const r = await askBackground({ kind: 'ui/list-models' });
    if ('error' in r) setError(r.error);
    else setState(r);
  }, []);

  const running = state?.download?.state === 'downloading' || state?.download?.state === 'verifying';

  useEffect(() => void refresh(), [refresh]);
  // While a download runs, follow it.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [running, refresh]);
  // When it has ended, say how.
  const ended = state?.download ?? null;
  useEffect(() => {
    if (ended?.state === 'installed') {
      setError(null);
      setMessage(`Installed ${ended.name ?? ended.id ?? 'the model'}. Choose “Use this model” to switch to it.`);
    } else if (ended?.state === 'failed') {
      setMessage(null);
      setError(`Download failed: ${ended.error ?? 'unknown error'}. Nothing of it was kept.`);
    } else if (ended?.state === 'cancelled') {
      setError(null);
      setMessage('Download cancelled; nothing of it was kept.');
    }
  }, [ended?.state, ended?.manifestUrl, ended?.error, ended?.name, ended?.id]);

  const act = async (msg: Request<UiChannel, ModelAction>, done: string): Promise<void> => {
    setError(null);
    setMessage(null);
    const r = await askBackground(msg);
    await refresh(); // the message appears with the state it describes
    if (r.ok) setMessage(done);
    else setError(r.error);
  };

  const install = (e: Event): void => {
    e.preventDefault();
    if (url.trim() === '') return;
    void act({ kind: 'ui/install-model', url: url.trim() }, 'Download started.');
  };

  if (!state) {
    return (
      <section aria-labelledby="h-model">
        <h2 id="h-model">Model</h2>
        <p class="help">Reading the installed models…</p>
      </section>
    );
  }
  const active = state.models.find((m) => m.id === state.activeId);
  const d = state.download;

  return (
    <section aria-labelledby="h-model" class="models">
      <h2 id="h-model">Model</h2>
      <h3>In use</h3>
      {active ? (
        <>
          {active.fixture && (
            <p class="warning" role="note">
              This is a test model with random weights: its scores mean nothing. Get LAION’s realfake model below to get
              real verdicts.
            </p>
          )}
          <Details model={active} />
        </>
      ) : (
        <p class="help">No model found.</p>
      )}

      <GetCheckpoint
        state={state}
        refresh={refresh}
        onOutcome={(o) => {
          setError(o.ok ? null : o.error);
          setMessage(o.ok ? o.message : null);
        }}
      />

      <h3>Installed models</h3>
      <ul class="model-list">
        {state.models.map((m) => (
          <li key={m.id} data-model-id={m.id}>
            <span>
              <strong>{m.name}</strong> <code>{m.id}</code> · {m.precision}
              {variantRole(m) !== null ? ` · ${variantRole(m)}` : ''} · {mb(m.bytes)} · {m.packaged ? 'packaged' : whereFrom(m)}
              {m.fixture ? ' · test model' : ''}
              {m.agreement !== null && <span class="agreement">{agreementText(m.agreement)}</span>}
            </span>
            <span class="buttons">
              {m.id === state.activeId ? (
                <span class="in-use">In use</span>
              ) : (
                <button type="button" disabled={running} onClick={() => void act({ kind: 'ui/set-active-model', id: m.id }, `Now using ${m.name}.`)}>
                  Use this model
                </button>
              )}
              {!m.packaged && (
                <button type="button" class="danger" onClick={() => void act({ kind: 'ui/remove-model', id: m.id }, `Removed ${m.name}.`)}>
                  Remove
                </button>
              )}
            </span>
          </li>
        ))}
        {state.unfinished.filter((u) => u.checkpoint !== true).map((u) => (
          <li key={`partial-${u.id}`} data-model-id={u.id}>
            <span>
              Unfinished download <code>{u.id}</code>
              {u.total > 0 ? ` · ${mb(u.received)} of ${mb(u.total)}` : ''}
            </span>
            <span class="buttons">
              {u.manifestUrl !== '' && (
                <button type="button" disabled={running} onClick={() => void act({ kind: 'ui/install-model', url: u.manifestUrl }, 'Download continued.')}>
                  Continue
                </button>
              )}
              <button type="button" class="danger" onClick={() => void act({ kind: 'ui/remove-model', id: u.id }, 'Unfinished download removed.')}>
                Discard
              </button>
            </span>
          </li>
        ))}
      </ul>

      <h3>Install from a URL</h3>
      <form class="install" onSubmit={install}>
        <label for="model-url">Manifest URL of a converted model</label>
        <input
          id="model-url"
          type="url"
          placeholder="https://example.org/realfake/manifest.json"
          value={url}
          onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit" disabled={running}>
          Install
        </button>
      </form>
      <p class="help">
        The model file named by the manifest is downloaded from the same place, checked against the manifest’s SHA-256
        while it arrives, and stored in this browser. Only https is accepted (plain http only from this computer).
        Convert a checkpoint with <code>npm run model:install</code> (see the README) and publish its folder.
      </p>
      {d && running && (
        <div class="download" role="status">
          <label for="model-progress">
            {d.state === 'verifying' ? 'Checking' : 'Downloading'} {d.name ?? d.manifestUrl}
            {d.total ? `: ${mb(d.received)} of ${mb(d.total)}` : ''}
            {d.resumedFrom.length > 0 ? ` (continued after ${d.resumedFrom.length} interruption${d.resumedFrom.length === 1 ? '' : 's'})` : ''}
          </label>
          <progress id="model-progress" max={d.total ?? 1} value={d.total ? d.received : undefined} />
          <button type="button" onClick={() => void act({ kind: 'ui/cancel-model-download' }, 'Download cancelled; nothing was kept.')}>
            Cancel
          </button>
        </div>
      )}
      <ImportFromFiles
        onStart={() => {
          setError(null);
          setMessage(null);
        }}
        onEnd={async (outcome) => {
          await refresh(); // the message appears with the list it describes
          if (outcome.ok) setMessage(outcome.message);
          else setError(outcome.error);
        }}
      />
      <Outcome error={error} message={message} />
    </section>
  );
}
