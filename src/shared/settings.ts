// User settings, with defaults. Stored in chrome.storage.sync so they follow the user.

import type { EngineOptions } from './protocol';

export interface Settings {
  /** Scores at or above this are shown as "likely generated". */
  threshold: number;
  /** Images smaller than this (CSS px, either side) are not judged. */
  minImageSize: number;
}

export const DEFAULT_SETTINGS: Settings = { threshold: 0.5, minImageSize: 128 };

export function normalizeSettings(raw: Record<string, unknown>): Settings {
  const t = raw.threshold;
  const m = raw.minImageSize;
  return {
    threshold: typeof t === 'number' && t > 0 && t < 1 ? t : DEFAULT_SETTINGS.threshold,
    minImageSize: typeof m === 'number' && Number.isInteger(m) && m >= 1 && m <= 4096 ? m : DEFAULT_SETTINGS.minImageSize,
  };
}

export async function getSettings(): Promise<Settings> {
  return normalizeSettings(await chrome.storage.sync.get(Object.keys(DEFAULT_SETTINGS)));
}

/** Advanced, per machine (chrome.storage.local): whether a software WebGPU adapter may be used. */
export const ALLOW_SOFTWARE_WEBGPU_KEY = 'engine.allowSoftwareWebGpu';

export async function getEngineOptions(): Promise<EngineOptions> {
  const raw = await chrome.storage.local.get(ALLOW_SOFTWARE_WEBGPU_KEY);
  return { allowSoftwareWebGpu: raw[ALLOW_SOFTWARE_WEBGPU_KEY] === true };
}
