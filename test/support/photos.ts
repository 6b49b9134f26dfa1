// The committed test photographs (test/fixtures/photos/, made by tools/make_test_photos.py).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const PHOTOS_DIR = resolve(import.meta.dirname, '../fixtures/photos');

export interface PhotoInfo {
  file: string;
  width: number;
  height: number;
  /** PIL mode as stored: RGB, L, RGBA, P. */
  mode: string;
  /** PIL format: PNG, JPEG. */
  format: string;
  /** Smaller than 128 px on both sides: the extension does not judge it. */
  small: boolean;
  source: string;
  why: string;
}

export function photoIndex(): PhotoInfo[] {
  return JSON.parse(readFileSync(resolve(PHOTOS_DIR, 'index.json'), 'utf8')) as PhotoInfo[];
}

export function photoPath(file: string): string {
  return resolve(PHOTOS_DIR, file);
}
