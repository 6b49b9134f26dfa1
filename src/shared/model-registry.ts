// Finds the model the extension was built with. The build writes models/index.json next to
// each model's manifest and ONNX file; nothing about a model is read from anywhere else.

import { parseManifest, type ModelManifest } from '../detector/manifest';
import type { ModelSummary } from './protocol/shapes';
import { isVariantOf } from '../detector/variants';
import { listStoredModels, readActiveChoice, readStoredModel } from './model-store';

export const MODELS_INDEX = 'models/index.json';

export interface ModelsIndex {
  active: string;
  /** Model id -> folder inside the extension package, with a trailing slash. */
  models: Record<string, string>;
}

export interface PackagedModel {
  manifest: ModelManifest;
  onnxUrl: string;
}

async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

export async function readModelsIndex(): Promise<ModelsIndex> {
  return (await fetchJson(chrome.runtime.getURL(MODELS_INDEX))) as ModelsIndex;
}

export async function loadPackagedModel(index: ModelsIndex, id: string): Promise<PackagedModel> {
  const folder = index.models[id];
  if (typeof folder !== 'string') throw new Error(`model "${id}" is not packaged`);
  const manifest = parseManifest(await fetchJson(chrome.runtime.getURL(`${folder}manifest.json`)));
  if (manifest.id !== id) throw new Error(`manifest id ${manifest.id} != ${id}`);
  return { manifest, onnxUrl: chrome.runtime.getURL(`${folder}${manifest.onnx.file}`) };
}

/** The model in use: a packaged one (its ONNX file's URL) or a downloaded one (in OPFS: `onnxUrl` null). */
export interface ActiveModel {
  manifest: ModelManifest;
  onnxUrl: string | null;
  /** Set for a downloaded model: its id in src/shared/model-store.ts. */
  storedId: string | null;
}

/** The user's choice (options page) if it is still there, else the model the build made active. */
export async function loadActiveModel(index?: ModelsIndex): Promise<ActiveModel> {
  index ??= await readModelsIndex();
  const chosen = await readActiveChoice().catch(() => null);
  if (chosen !== null && index.models[chosen] === undefined) {
    const stored = await readStoredModel(chosen).catch(() => null);
    if (stored) return { manifest: stored.manifest, onnxUrl: null, storedId: chosen };
  }
  const id = chosen !== null && index.models[chosen] !== undefined ? chosen : index.active;
  return { ...(await loadPackagedModel(index, id)), storedId: null };
}

/**
 * The model in use first, then every installed variant of it (the same network at another
 * precision: see src/detector/variants.ts), packaged or downloaded. A variant whose manifest cannot
 * be read is left out rather than failing the load.
 */
export async function loadActiveFamily(): Promise<ActiveModel[]> {
  const index = await readModelsIndex();
  const chosen = await loadActiveModel(index);
  const packaged = await Promise.all(
    Object.keys(index.models)
      .filter((id) => id !== chosen.manifest.id)
      .map((id) => loadPackagedModel(index, id).then((p): ActiveModel => ({ ...p, storedId: null }), () => null)),
  );
  const stored = (await listStoredModels().catch(() => ({ installed: [] }))).installed
    .filter((s) => index.models[s.manifest.id] === undefined)
    .map((s): ActiveModel => ({ manifest: s.manifest, onnxUrl: null, storedId: s.manifest.id }));
  const variants = [...packaged, ...stored].filter((m): m is ActiveModel => m !== null && isVariantOf(m.manifest, chosen.manifest));
  return [chosen, ...variants];
}

export function summarize(m: ModelManifest): ModelSummary {
  const { resize, centerCrop } = m.preprocessing;
  return { id: m.id, name: m.name, fixture: m.fixture, input: { resize: resize.mode, size: resize.size, crop: centerCrop } };
}
