// Model management for the options page: lists the packaged and downloaded models, starts and
// cancels a download (which runs in the offscreen document: see src/offscreen/model-download.ts),
// switches the active model and removes downloaded ones. A switch closes the offscreen document,
// so its next request loads the new model; the prediction cache is keyed by model id already.

import type { ModelManifest } from '../detector/manifest';
import { loadActiveModel, loadPackagedModel, readModelsIndex } from '../shared/model-registry';
import { listStoredModels, readStoredModel, removeAllStoredModels, removeStoredModel, writeActiveChoice } from '../shared/model-store';
import {
  parseCheckpointImportStatus,
  type CheckpointImportStatus,
  type CheckpointToOffscreen,
  type CheckpointUiToBackground,
  parseModelActionReply,
  parseModelDownloadStatus,
  type ModelActionReply,
  type ModelBackgroundToOffscreen,
  type ModelDownloadStatus,
  type ModelInfo,
  type ModelsReply,
  type ModelUiToBackground,
} from '../shared/protocol';
import { getEngineOptions } from '../shared/settings';
import { forgetActiveManifest } from './checker';
import { closeOffscreen, ensureOffscreen, hasOffscreenDocument } from './offscreen-client';

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

async function tellOffscreen(msg: ModelBackgroundToOffscreen | CheckpointToOffscreen): Promise<unknown> {
  if (!(await hasOffscreenDocument())) return null;
  return chrome.runtime.sendMessage(msg).catch(() => null);
}

async function downloadStatus(): Promise<ModelDownloadStatus | null> {
  return parseModelDownloadStatus(await tellOffscreen({ target: 'offscreen', kind: 'offscreen/model-download-status' }));
}

const running = (d: ModelDownloadStatus | null): boolean => d?.state === 'downloading' || d?.state === 'verifying';

async function checkpointStatus(): Promise<CheckpointImportStatus | null> {
  return parseCheckpointImportStatus(await tellOffscreen({ target: 'offscreen', kind: 'offscreen/checkpoint-import-status' }));
}

const importing = (c: CheckpointImportStatus | null): boolean => c?.state === 'reading' || c?.state === 'streaming' || c?.state === 'fetching' || c?.state === 'probing';

async function listModels(): Promise<ModelsReply> {
  const index = await readModelsIndex();
  const packaged = await Promise.all(
    Object.keys(index.models).map((id) => loadPackagedModel(index, id).then((p) => info(p.manifest, null, null), () => null)),
  );
  const { installed, unfinished } = await listStoredModels();
  const download = await downloadStatus();
  const checkpoint = await checkpointStatus();
  return {
    activeId: (await loadActiveModel()).manifest.id,
    models: [...packaged.filter((m): m is ModelInfo => m !== null), ...installed.map((s) => info(s.manifest, s.importedFrom === null ? s.manifestUrl : null, s.installedAt, s.importedFrom))],
    // The folder of the download under way is shown as that download, not as an unfinished one.
    unfinished: unfinished.filter((u) => !(running(download) && download?.id === u.id) && !(importing(checkpoint) && checkpoint?.id === u.id)),
    download,
    checkpoint,
  };
}

async function install(url: string): Promise<ModelActionReply> {
  return startInOffscreen({ target: 'offscreen', kind: 'offscreen/model-download', url, engine: await getEngineOptions() });
}

/** Sends a message that starts work in the offscreen document, creating it first. */
async function startInOffscreen(msg: ModelBackgroundToOffscreen | CheckpointToOffscreen): Promise<ModelActionReply> {
  for (let attempt = 1; ; attempt++) {
    await ensureOffscreen();
    try {
      return parseModelActionReply(await chrome.runtime.sendMessage(msg)) ?? { ok: false, error: 'the engine gave no answer' };
    } catch (e) {
      // A document just created may not be listening yet ("Receiving end does not exist").
      if (attempt >= 10) return { ok: false, error: `the engine cannot be reached: ${e instanceof Error ? e.message : String(e)}` };
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
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
  if (importing(checkpoint) && checkpoint?.id === id) {
    await tellOffscreen({ target: 'offscreen', kind: 'offscreen/checkpoint-import-stop', pause: false });
    return { ok: true };
  }
  const download = await downloadStatus();
  if (running(download) && download?.id === id) {
    await tellOffscreen({ target: 'offscreen', kind: 'offscreen/model-download-cancel' });
    return { ok: true };
  }
  const wasActive = (await loadActiveModel()).manifest.id === id;
  if (wasActive) {
    await writeActiveChoice(null);
    if (!running(download)) await reloadEngine();
  }
  await removeStoredModel(id);
  return { ok: true };
}

/** "Delete all data": every downloaded model (finished or not) and the model choice. */
export async function deleteDownloadedModels(): Promise<void> {
  await reloadEngine(); // closing the document also stops a download under way
  // A closing document may still hold a chunk file open for a moment.
  for (let attempt = 1; ; attempt++) {
    try {
      await removeAllStoredModels();
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function onCheckpointUi(msg: CheckpointUiToBackground): Promise<unknown> {
  switch (msg.kind) {
    case 'ui/import-checkpoint':
      if (running(await downloadStatus())) return { ok: false, error: 'a model download is under way: wait for it to finish (or cancel it)' };
      return startInOffscreen({ target: 'offscreen', kind: 'offscreen/checkpoint-import', url: msg.url, engine: await getEngineOptions() });
    case 'ui/stop-checkpoint-import':
      await tellOffscreen({ target: 'offscreen', kind: 'offscreen/checkpoint-import-stop', pause: msg.pause });
      return { ok: true };
  }
}

export async function onModelUi(msg: ModelUiToBackground | CheckpointUiToBackground): Promise<unknown> {
  try {
    switch (msg.kind) {
      case 'ui/import-checkpoint':
      case 'ui/stop-checkpoint-import':
        return await onCheckpointUi(msg);
      case 'ui/list-models':
        return await listModels();
      case 'ui/install-model':
        return await install(msg.url);
      case 'ui/cancel-model-download':
        await tellOffscreen({ target: 'offscreen', kind: 'offscreen/model-download-cancel' });
        return { ok: true };
      case 'ui/set-active-model':
        return await setActive(msg.id);
      case 'ui/remove-model':
        return await remove(msg.id);
    }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}
