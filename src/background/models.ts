// Model management for the options page: lists the packaged and downloaded models, starts and
// cancels a download (which runs in the offscreen document: see src/offscreen/model-download.ts),
// switches the active model and removes downloaded ones. A switch closes the offscreen document,
// so its next request loads the new model; the prediction cache is keyed by model id already.

import type { ModelManifest } from '../detector/manifest';
import { loadActiveModel, loadPackagedModel, readModelsIndex } from '../shared/model-registry';
import { listStoredModels, readStoredModel, removeAllStoredModels, removeStoredModel, writeActiveChoice } from '../shared/model-store';
import type { Handlers, Request } from '../shared/protocol/channel';
import type { CheckpointImportStatus, ModelDownloadStatus, OffscreenChannel } from '../shared/protocol/offscreen';
import type { ModelActionReply, ModelInfo, ModelsReply, UiChannel } from '../shared/protocol/ui';
import { getEngineOptions } from '../shared/settings';
import { forgetActiveManifest } from './checker';
import { askOffscreen, closeOffscreen } from './offscreen-client';

function info(m: ModelManifest, downloadedFrom: string | null, installedAt: number | null, importedFrom: string | null = null): ModelInfo {
  return {
    id: m.id,
    name: m.name,
    version: m.version,
    precision: m.precision,
    variantOf: m.variantOf,
    agreement: m.agreement,
    fixture: m.fixture,
    sourceDescription: m.source.description,
    origin: m.source.origin,
    sha256: m.onnx.sha256,
    bytes: m.onnx.bytes + (m.weights?.bytes ?? 0),
    packaged: downloadedFrom === null && importedFrom === null,
    downloadedFrom,
    importedFrom,
    installedAt,
  };
}

function downloadStatus(): Promise<ModelDownloadStatus | null> {
  return askOffscreen({ target: 'offscreen', kind: 'offscreen/model-download-status' }, 'if-open');
}

async function stopCheckpointImport(pause: boolean): Promise<void> {
  await askOffscreen({ target: 'offscreen', kind: 'offscreen/checkpoint-import-stop', pause }, 'if-open');
}

async function cancelDownload(): Promise<void> {
  await askOffscreen({ target: 'offscreen', kind: 'offscreen/model-download-cancel' }, 'if-open');
}

const running = (d: ModelDownloadStatus | null): boolean => d?.state === 'downloading' || d?.state === 'verifying';

function checkpointStatus(): Promise<CheckpointImportStatus | null> {
  return askOffscreen({ target: 'offscreen', kind: 'offscreen/checkpoint-import-status' }, 'if-open');
}

const importing = (c: CheckpointImportStatus | null): boolean => c?.state === 'reading' || c?.state === 'streaming' || c?.state === 'fetching' || c?.state === 'probing' || c?.state === 'int8';
/** The import's own folders: the model, and its int8 variant while that is made. */
const importsInto = (c: CheckpointImportStatus | null, id: string): boolean => importing(c) && (c?.id === id || `${c?.id}-int8` === id);

async function listModels(): Promise<ModelsReply> {
  const index = await readModelsIndex();
  const packaged = await Promise.all(
    Object.keys(index.models).map((id) => loadPackagedModel(index, id).then((p) => info(p.manifest, null, null), () => null)),
  );
  // The states first, then the folders: a download or import that ends in between is then listed
  // as installed, not as an unfinished folder beside a state that says it is over.
  const download = await downloadStatus();
  const checkpoint = await checkpointStatus();
  const { installed, unfinished } = await listStoredModels();
  return {
    activeId: (await loadActiveModel()).manifest.id,
    models: [...packaged.filter((m): m is ModelInfo => m !== null), ...installed.map((s) => info(s.manifest, s.importedFrom === null ? s.manifestUrl : null, s.installedAt, s.importedFrom))],
    // The folder of the download under way is shown as that download, not as an unfinished one.
    unfinished: unfinished.filter((u) => !(running(download) && download?.id === u.id) && !importsInto(checkpoint, u.id)),
    download,
    checkpoint,
  };
}

async function install(url: string): Promise<ModelActionReply> {
  return startInOffscreen({ target: 'offscreen', kind: 'offscreen/model-download', url, engine: await getEngineOptions() });
}

/** Sends a message that starts work in the offscreen document, creating it first. */
async function startInOffscreen(msg: Request<OffscreenChannel, 'offscreen/model-download' | 'offscreen/checkpoint-import'>): Promise<ModelActionReply> {
  try {
    return (await askOffscreen(msg, 'create')) ?? { ok: false, error: 'the engine gave no answer' };
  } catch (e) {
    return { ok: false, error: `the engine cannot be reached: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** The next check loads the newly active model in a fresh offscreen document. */
async function reloadEngine(): Promise<void> {
  forgetActiveManifest();
  await closeOffscreen();
}

async function setActive(id: string): Promise<ModelActionReply> {
  const index = await readModelsIndex();
  if (index.models[id] === undefined && !(await readStoredModel(id))) return { ok: false, error: `no model "${id}" is installed` };
  if (running(await downloadStatus())) return { ok: false, error: 'a model download is under way: switch when it has finished (or cancel it)' };
  await writeActiveChoice(id);
  await reloadEngine();
  return { ok: true };
}

async function remove(id: string): Promise<ModelActionReply> {
  const index = await readModelsIndex();
  if (index.models[id] !== undefined) return { ok: false, error: `"${id}" is part of the extension and cannot be removed` };
  const checkpoint = await checkpointStatus();
  if (importsInto(checkpoint, id)) {
    await stopCheckpointImport(false);
    return { ok: true };
  }
  const download = await downloadStatus();
  if (running(download) && download?.id === id) {
    await cancelDownload();
    return { ok: true };
  }
  if ((await loadActiveModel()).manifest.id === id) {
    // The engine's document, which holds the model in use, also runs the download: as for a switch.
    if (running(download)) return { ok: false, error: 'a model download is under way: remove the model in use when it has finished (or cancel it)' };
    await writeActiveChoice(null);
    await reloadEngine();
  }
  await onceReleased(() => removeStoredModel(id));
  return { ok: true };
}

/** "Delete all data": every downloaded model (finished or not) and the model choice. */
export async function deleteDownloadedModels(): Promise<void> {
  await reloadEngine(); // closing the document also stops a download under way
  await onceReleased(removeAllStoredModels);
}

/**
 * Runs `removal`, again for up to 2 s while it fails: a document just closed may still hold a
 * model's files open for a moment (a download's chunk, or the parts a load was reading through
 * synchronous access handles, which lock them until the browser sees the worker gone).
 */
async function onceReleased(removal: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await removal();
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

type ModelKind =
  | 'ui/list-models'
  | 'ui/install-model'
  | 'ui/cancel-model-download'
  | 'ui/set-active-model'
  | 'ui/remove-model'
  | 'ui/import-checkpoint'
  | 'ui/stop-checkpoint-import';

/** Any failure (storage, the engine's document) answers `{ ok: false, error }`, never an exception. */
function answering<A extends unknown[], R>(work: (...args: A) => Promise<R>): (...args: A) => Promise<R | { ok: false; error: string }> {
  return async (...args) => {
    try {
      return await work(...args);
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  };
}

/** The options page's model requests. */
export const modelHandlers: Pick<Handlers<UiChannel>, ModelKind> = {
  'ui/list-models': answering(listModels),
  'ui/install-model': answering((msg) => install(msg.url)),
  'ui/cancel-model-download': answering(async () => {
    await cancelDownload();
    return { ok: true as const };
  }),
  'ui/set-active-model': answering((msg) => setActive(msg.id)),
  'ui/remove-model': answering((msg) => remove(msg.id)),
  'ui/import-checkpoint': answering(async (msg) => {
    if (running(await downloadStatus())) return { ok: false, error: 'a model download is under way: wait for it to finish (or cancel it)' };
    return startInOffscreen({ target: 'offscreen', kind: 'offscreen/checkpoint-import', url: msg.url, engine: await getEngineOptions(), int8: msg.int8 === true });
  }),
  'ui/stop-checkpoint-import': answering(async (msg) => {
    await stopCheckpointImport(msg.pause);
    return { ok: true as const };
  }),
};
