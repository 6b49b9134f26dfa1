// Which files `npm run eval` scores, and with which true label: every file under --real / --fake
// (recursively, sorted, hidden files and folders left out; anything that turns out not to be an
// image is skipped later and listed), or the rows of a CSV / JSONL manifest. tools/reference_score.py
// implements the same rules independently, so both tools see the same set.

import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export type Label = 'real' | 'fake';

export interface Sample {
  /** As given (folder walk: folder joined with the relative path; manifest: the row's path). */
  path: string;
  /** Where the file is read from. */
  file: string;
  label: Label;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** Every file under `dir`, each folder's names in code-point order, skipping names starting with ".". */
export async function walkFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new DatasetError(`cannot read folder ${dir}: ${(e as Error).message}`);
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walkFiles(p)));
    else if (e.isFile()) out.push(p);
    // A link to a file counts; a link to a folder is not followed (no cycles).
    else if (e.isSymbolicLink() && (await stat(p).catch(() => null))?.isFile()) out.push(p);
  }
  return out;
}

export async function samplesFromFolders(real: string[], fake: string[]): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const [dirs, label] of [[real, 'real'], [fake, 'fake']] as const) {
    for (const dir of dirs) for (const path of await walkFiles(dir)) out.push({ path, file: resolve(path), label });
  }
  return out;
}

// Column / key names accepted for the path and the label, in order of preference.
export const PATH_KEYS = ['path', 'image', 'file', 'filepath', 'file_path', 'image_path', 'filename', 'img'];
export const LABEL_KEYS = ['label', 'target', 'class', 'y', 'is_fake', 'fake', 'is_generated', 'generated'];
const REAL_WORDS = new Set(['real', 'authentic', 'natural', 'photo', 'human']);
const FAKE_WORDS = new Set(['fake', 'generated', 'synthetic', 'ai', 'sd', 'artificial']);

/**
 * A label value: "real" / "fake" (and synonyms, any case), true / false (true = generated), or 0 / 1
 * where `oneMeans` says which class 1 is (default: 1 = generated, the usual detection convention).
 */
export function parseLabel(v: unknown, oneMeans: Label = 'fake'): Label {
  const zeroMeans: Label = oneMeans === 'fake' ? 'real' : 'fake';
  if (typeof v === 'boolean') return v ? 'fake' : 'real';
  if (typeof v === 'number') {
    if (v === 1) return oneMeans;
    if (v === 0) return zeroMeans;
  }
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === '1') return oneMeans;
    if (s === '0') return zeroMeans;
    if (s === 'true') return 'fake';
    if (s === 'false') return 'real';
    if (REAL_WORDS.has(s)) return 'real';
    if (FAKE_WORDS.has(s)) return 'fake';
  }
  throw new DatasetError(`unknown label ${JSON.stringify(v)} (use real/fake, generated, 0/1 or true/false)`);
}

function pickKey(keys: readonly string[], wanted: readonly string[]): string | undefined {
  const lower = new Map(keys.map((k) => [k.trim().toLowerCase(), k]));
  for (const w of wanted) {
    const k = lower.get(w);
    if (k !== undefined) return k;
  }
  return undefined;
}

/** RFC 4180 CSV: quoted fields with "" escapes and embedded newlines; CRLF or LF line ends. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (quoted) throw new DatasetError('CSV: a quoted field is not closed');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0]?.trim() === ''));
}

function sample(path: string, base: string, label: Label): Sample {
  return { path, file: isAbsolute(path) ? path : resolve(base, path), label };
}

/**
 * CSV rows: a header naming the path and label columns (see PATH_KEYS / LABEL_KEYS), or no header
 * and `path,label`. Relative paths are relative to the manifest's folder.
 */
export function samplesFromCsv(text: string, base: string, oneMeans: Label = 'fake'): Sample[] {
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  const first = rows[0];
  if (!first) return [];
  const pathCol = pickKey(first, PATH_KEYS);
  const labelCol = pickKey(first, LABEL_KEYS);
  const header = pathCol !== undefined && labelCol !== undefined;
  const pi = header ? first.indexOf(pathCol) : 0;
  const li = header ? first.indexOf(labelCol) : 1;
  return rows.slice(header ? 1 : 0).map((r, n) => {
    const line = n + (header ? 2 : 1);
    const path = r[pi]?.trim();
    if (!path) throw new DatasetError(`CSV line ${line}: no path`);
    try {
      return sample(path, base, parseLabel(r[li], oneMeans));
    } catch (e) {
      throw new DatasetError(`CSV line ${line}: ${(e as Error).message}`);
    }
  });
}

/** JSON Lines: one object per line with a path key and a label key (see PATH_KEYS / LABEL_KEYS). */
export function samplesFromJsonl(text: string, base: string, oneMeans: Label = 'fake'): Sample[] {
  const out: Sample[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.trim();
    if (line === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new DatasetError(`JSONL line ${n + 1}: not valid JSON`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new DatasetError(`JSONL line ${n + 1}: not an object`);
    const rec = obj as Record<string, unknown>;
    const keys = Object.keys(rec);
    const pk = pickKey(keys, PATH_KEYS);
    const lk = pickKey(keys, LABEL_KEYS);
    const path = pk === undefined ? undefined : rec[pk];
    if (typeof path !== 'string' || path === '') throw new DatasetError(`JSONL line ${n + 1}: no path (keys tried: ${PATH_KEYS.join(', ')})`);
    if (lk === undefined) throw new DatasetError(`JSONL line ${n + 1}: no label (keys tried: ${LABEL_KEYS.join(', ')})`);
    try {
      out.push(sample(path, base, parseLabel(rec[lk], oneMeans)));
    } catch (e) {
      throw new DatasetError(`JSONL line ${n + 1}: ${(e as Error).message}`);
    }
  });
  return out;
}

/** A manifest file: .jsonl / .ndjson as JSON Lines, anything else as CSV. */
export async function samplesFromManifest(file: string, oneMeans: Label = 'fake'): Promise<Sample[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DatasetError(`cannot read manifest ${file}: ${(e as Error).message}`);
  }
  const base = dirname(resolve(file));
  return /\.(jsonl|ndjson)$/i.test(file) ? samplesFromJsonl(text, base, oneMeans) : samplesFromCsv(text, base, oneMeans);
}
