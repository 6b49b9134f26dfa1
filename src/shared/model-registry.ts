// Finds the model the extension was built with. The build writes models/index.json next to
// each model's manifest and ONNX file; nothing about a model is read from anywhere else.

import { parseManifest, type ModelManifest } from '../detector/manifest';
import type { ModelSummary } from './protocol';

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

export async function loadActiveModel(): Promise<PackagedModel> {
  const index = (await fetchJson(chrome.runtime.getURL(MODELS_INDEX))) as ModelsIndex;
  const folder = index.models[index.active];
  if (typeof folder !== 'string') throw new Error(`active model "${index.active}" is not packaged`);
  const manifest = parseManifest(await fetchJson(chrome.runtime.getURL(`${folder}manifest.json`)));
  if (manifest.id !== index.active) throw new Error(`manifest id ${manifest.id} != active ${index.active}`);
  return { manifest, onnxUrl: chrome.runtime.getURL(`${folder}${manifest.onnx.file}`) };
}

export function summarize(m: ModelManifest): ModelSummary {
  return { id: m.id, name: m.name, fixture: m.fixture };
}
