// User settings, with defaults. Stored in chrome.storage.sync so they follow the user.

import { DEFAULT_THRESHOLD } from '../detector/scores';
import { ENGINE_LIMITS, FAULT_LIMITS, type EngineFaults, type EngineOptions } from './protocol/shapes';
import { intWithin } from './protocol/validate';

export interface Settings {
  /** Scores at or above this are shown as "likely generated". */
  threshold: number;
  /** Images smaller than this (CSS px, either side) are not judged. */
  minImageSize: number;
  /** Global pause: no page is scanned (the context menu still works). */
  paused: boolean;
  /** Sites (host names) the user switched off. */
  disabledSites: string[];
  /** Most predictions kept in the cache before the least recently used are evicted. */
  cacheMaxEntries: number;
  /** History bounds: entries and age in days. */
  historyMaxEntries: number;
  historyMaxDays: number;
  /** Whether images checked in incognito tabs are written to history and cache. */
  incognitoHistory: boolean;
  /** "auto": pages are scanned as they are read; "on-demand": only when the user asks. */
  scanMode: ScanMode;
  /** What happens to an image shown as likely generated: a badge, blurred until clicked, or hidden. */
  suspectedStyle: SuspectedStyle;
  /** Whether "likely real" images get a (subtle) badge too. */
  showRealBadges: boolean;
  /**
   * Sites (host names of the page) whose pictures may be fetched with the browser's cookies when
   * the server refuses them without. Empty by default: the extension sends no cookies at all.
   */
  cookieSites: string[];
  /** A verdict remembered by address is checked against the server again after this many hours. */
  revalidateAfterHours: number;
}

export type ScanMode = 'auto' | 'on-demand';
export type SuspectedStyle = 'badge' | 'blur' | 'hide';
export const SCAN_MODES: readonly ScanMode[] = ['auto', 'on-demand'];
export const SUSPECTED_STYLES: readonly SuspectedStyle[] = ['badge', 'blur', 'hide'];

export const DEFAULT_SETTINGS: Settings = {
  threshold: DEFAULT_THRESHOLD,
  minImageSize: 128,
  paused: false,
  disabledSites: [],
  cacheMaxEntries: 50_000,
  historyMaxEntries: 2_000,
  historyMaxDays: 30,
  incognitoHistory: false,
  scanMode: 'auto',
  suspectedStyle: 'badge',
  showRealBadges: true,
  cookieSites: [],
  revalidateAfterHours: 24,
};

/** Allowed ranges of the numeric settings (the options page uses the same). */
export const SETTING_RANGES = {
  minImageSize: { min: 1, max: 4096 },
  cacheMaxEntries: { min: 10, max: 1_000_000 },
  historyMaxEntries: { min: 0, max: 100_000 },
  historyMaxDays: { min: 1, max: 3650 },
  revalidateAfterHours: { min: 1, max: 24 * 365 },
} as const;

function hostList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length <= 253) : [];
}

function intIn(v: unknown, min: number, max: number, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fallback;
}

/** Settings from untrusted storage: anything malformed falls back to its default. */
export function normalizeSettings(raw: Record<string, unknown>): Settings {
  const d = DEFAULT_SETTINGS;
  const R = SETTING_RANGES;
  const t = raw.threshold;
  return {
    threshold: typeof t === 'number' && t > 0 && t < 1 ? t : d.threshold,
    minImageSize: intIn(raw.minImageSize, R.minImageSize.min, R.minImageSize.max, d.minImageSize),
    paused: typeof raw.paused === 'boolean' ? raw.paused : d.paused,
    disabledSites: hostList(raw.disabledSites),
    cacheMaxEntries: intIn(raw.cacheMaxEntries, R.cacheMaxEntries.min, R.cacheMaxEntries.max, d.cacheMaxEntries),
    historyMaxEntries: intIn(raw.historyMaxEntries, R.historyMaxEntries.min, R.historyMaxEntries.max, d.historyMaxEntries),
    historyMaxDays: intIn(raw.historyMaxDays, R.historyMaxDays.min, R.historyMaxDays.max, d.historyMaxDays),
    incognitoHistory: typeof raw.incognitoHistory === 'boolean' ? raw.incognitoHistory : d.incognitoHistory,
    scanMode: SCAN_MODES.includes(raw.scanMode as ScanMode) ? (raw.scanMode as ScanMode) : d.scanMode,
    suspectedStyle: SUSPECTED_STYLES.includes(raw.suspectedStyle as SuspectedStyle)
      ? (raw.suspectedStyle as SuspectedStyle)
      : d.suspectedStyle,
    showRealBadges: typeof raw.showRealBadges === 'boolean' ? raw.showRealBadges : d.showRealBadges,
    cookieSites: hostList(raw.cookieSites),
    revalidateAfterHours: intIn(raw.revalidateAfterHours, R.revalidateAfterHours.min, R.revalidateAfterHours.max, d.revalidateAfterHours),
  };
}

/**
 * Where the settings live: chrome.storage.sync, or the same area through webextension-polyfill
 * (`browser.storage.sync`) in the contexts that use it.
 */
export interface SettingsArea {
  get(keys: string[]): Promise<Record<string, unknown>>;
  set(items: Record<string, unknown>): Promise<void>;
}

/** The one reader of the user's settings: every context reads them through this. */
export async function readSettings(area: SettingsArea = chrome.storage.sync): Promise<Settings> {
  return normalizeSettings(await area.get(Object.keys(DEFAULT_SETTINGS)));
}

/**
 * The one writer: the options page for its controls, the background for the site switch and the
 * pause (which also update the toolbar). Every context reacts to the storage change itself.
 */
export async function writeSettings(patch: Partial<Settings>, area: SettingsArea = chrome.storage.sync): Promise<void> {
  await area.set(patch);
}

/** Whether a storage change touches the settings (a key of DEFAULT_SETTINGS in the sync area). */
export function changesSettings(changes: object, area: string): boolean {
  return area === 'sync' && Object.keys(changes).some((k) => k in DEFAULT_SETTINGS);
}

/** The site a per-site switch applies to: the page's host name, or null for non-web pages. */
export function siteOf(pageUrl: string | undefined): string | null {
  if (!pageUrl) return null;
  try {
    const u = new URL(pageUrl);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.hostname : null;
  } catch {
    return null;
  }
}

/** Whether the switches let this page be scanned at all (automatically or when the user asks). */
export function scanningAllowed(settings: Settings, pageUrl: string | undefined): boolean {
  const site = siteOf(pageUrl);
  return !settings.paused && site !== null && !settings.disabledSites.includes(site);
}

/** Whether the user let pictures on this page be fetched with cookies (see Settings.cookieSites). */
export function cookiesAllowed(settings: Settings, pageUrl: string | undefined): boolean {
  const site = siteOf(pageUrl);
  return site !== null && settings.cookieSites.includes(site);
}

/** Advanced, per machine (chrome.storage.local): engine settings, with these keys. */
export const USE_WEBGPU_KEY = 'engine.useWebGpu';
export const ALLOW_SOFTWARE_WEBGPU_KEY = 'engine.allowSoftwareWebGpu';
export const ENGINE_KEYS = {
  threads: 'engine.threads',
  maxBatch: 'engine.maxBatch',
  batchWindowMs: 'engine.batchWindowMs',
  idleReleaseMs: 'engine.idleReleaseMs',
} as const;
/**
 * Test builds only (`__REALFAKE_TEST__`): { failWebGpuInit, perturbWebGpuProbe, pretendShaderF16, checkpointUnitBytes, readPieceBytes, readDelayMs }
 * (see EngineOptions.faults). A release build neither reads this key nor contains its name.
 */
const ENGINE_FAULTS_KEY = 'engine.testFaults';

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  useWebGpu: true,
  allowSoftwareWebGpu: false,
  threads: 0,
  maxBatch: 4,
  batchWindowMs: 15,
  idleReleaseMs: 5 * 60_000,
  ...(__REALFAKE_TEST__ ? { faults: readFaults(undefined) } : {}),
};

function readFaults(stored: unknown): EngineFaults {
  const f = (stored ?? {}) as Record<string, unknown>;
  const { checkpointUnitBytes: unit, readPieceBytes: piece, readDelayMs: delay } = f;
  return {
    failWebGpuInit: f.failWebGpuInit === true,
    perturbWebGpuProbe: f.perturbWebGpuProbe === true,
    pretendShaderF16: f.pretendShaderF16 === true,
    // A value the engine's message would refuse is left out here, not sent.
    ...(intWithin(unit, FAULT_LIMITS.checkpointUnitBytes) ? { checkpointUnitBytes: unit } : {}),
    ...(intWithin(piece, FAULT_LIMITS.readPieceBytes) ? { readPieceBytes: piece } : {}),
    ...(intWithin(delay, FAULT_LIMITS.readDelayMs) ? { readDelayMs: delay } : {}),
  };
}

export async function getEngineOptions(): Promise<EngineOptions> {
  const faultKeys = __REALFAKE_TEST__ ? [ENGINE_FAULTS_KEY] : [];
  const raw = await chrome.storage.local.get([USE_WEBGPU_KEY, ALLOW_SOFTWARE_WEBGPU_KEY, ...faultKeys, ...Object.values(ENGINE_KEYS)]);
  const d = DEFAULT_ENGINE_OPTIONS;
  const num = (k: keyof typeof ENGINE_KEYS): number => {
    const r = ENGINE_LIMITS[k];
    return intIn(raw[ENGINE_KEYS[k]], r.min, r.max, d[k]);
  };
  return {
    useWebGpu: raw[USE_WEBGPU_KEY] !== false,
    allowSoftwareWebGpu: raw[ALLOW_SOFTWARE_WEBGPU_KEY] === true,
    threads: num('threads'),
    maxBatch: num('maxBatch'),
    batchWindowMs: num('batchWindowMs'),
    idleReleaseMs: num('idleReleaseMs'),
    ...(__REALFAKE_TEST__ ? { faults: readFaults(raw[ENGINE_FAULTS_KEY]) } : {}),
  };
}
