// The OpenCV INTER_LINEAR port against the real cv2.resize (Debian's python3-opencv), byte for
// byte: seeded noise over a grid of awkward sizes and channel counts, random sizes, and the test
// photographs decoded by PIL as albumentations would receive them. All cv2 calls run in one
// Python process (test/support/cv2_resize.py).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resizeOpenCvLinear } from '../../src/detector/opencv-resize';
import { photoIndex, photoPath } from '../support/photos';
import { cv2Resize, type Cv2Pixels, type Cv2Results, type Cv2Source } from '../support/python';
import { noise } from '../support/noise';

type Channels = 1 | 3 | 4;

interface NoiseCase {
  why: string;
  w: number;
  h: number;
  ow: number;
  oh: number;
  channels: Channels[];
}

const ALL: Channels[] = [1, 3, 4];

// [width, height] -> [output width, output height]; each one for the channel counts listed.
const GRID: NoiseCase[] = [
  { why: '1x1 kept', w: 1, h: 1, ow: 1, oh: 1, channels: ALL },
  { why: '1x1 blown up', w: 1, h: 1, ow: 7, oh: 3, channels: ALL },
  { why: '1x1 to a column', w: 1, h: 1, ow: 1, oh: 5, channels: ALL },
  { why: 'row to 1x1', w: 5, h: 1, ow: 1, oh: 1, channels: ALL },
  { why: 'column to 1x1', w: 1, h: 9, ow: 1, oh: 1, channels: ALL },
  { why: 'row shrunk', w: 7, h: 1, ow: 3, oh: 1, channels: ALL },
  { why: 'column shrunk', w: 1, h: 7, ow: 1, oh: 3, channels: ALL },
  { why: 'row to a column', w: 9, h: 1, ow: 1, oh: 4, channels: ALL },
  { why: '3x3 to 1x1', w: 3, h: 3, ow: 1, oh: 1, channels: ALL },
  { why: '2x2 to 1x1 (exact 2x)', w: 2, h: 2, ow: 1, oh: 1, channels: ALL },
  { why: '2x1 to 1x1 (2x in x only)', w: 2, h: 1, ow: 1, oh: 1, channels: ALL },
  { why: 'tiny, up in x, down in y', w: 3, h: 5, ow: 9, oh: 2, channels: ALL },
  { why: 'down in x, up in y', w: 5, h: 3, ow: 2, oh: 7, channels: ALL },
  { why: 'only vertical', w: 13, h: 11, ow: 13, oh: 4, channels: ALL },
  { why: 'only horizontal', w: 11, h: 13, ow: 4, oh: 13, channels: ALL },
  { why: 'odd ratios', w: 97, h: 89, ow: 31, oh: 255, channels: ALL },
  { why: 'extreme: wide strip', w: 4000, h: 3, ow: 256, oh: 256, channels: ALL },
  { why: 'extreme: tall strip', w: 3, h: 4000, ow: 256, oh: 256, channels: ALL },
  { why: 'extreme downscale of a strip', w: 640, h: 3, ow: 7, oh: 3, channels: ALL },
  { why: 'exact 2x (Stable Diffusion size)', w: 512, h: 512, ow: 256, oh: 256, channels: ALL },
  { why: 'exact 2x, odd output', w: 26, h: 14, ow: 13, oh: 7, channels: ALL },
  { why: '2x in x only', w: 512, h: 300, ow: 256, oh: 256, channels: ALL },
  { why: '2x in y only', w: 300, h: 512, ow: 256, oh: 256, channels: ALL },
  { why: '2x in x, same height', w: 512, h: 300, ow: 256, oh: 300, channels: ALL },
  { why: 'exact 3x', w: 768, h: 768, ow: 256, oh: 256, channels: ALL },
  { why: 'exact 4x', w: 1024, h: 1024, ow: 256, oh: 256, channels: [3] },
  { why: '4x by 2x', w: 1024, h: 512, ow: 256, oh: 256, channels: [3] },
  { why: 'barely smaller', w: 257, h: 256, ow: 256, oh: 256, channels: ALL },
  { why: 'barely bigger', w: 255, h: 255, ow: 256, oh: 257, channels: ALL },
  { why: 'near-identity scale', w: 1000, h: 999, ow: 1001, oh: 1000, channels: [3] },
  { why: 'non-integer shrink', w: 300, h: 225, ow: 256, oh: 256, channels: ALL },
  { why: 'non-integer shrink 2', w: 1000, h: 750, ow: 256, oh: 256, channels: ALL },
  { why: 'enlarge', w: 100, h: 80, ow: 256, oh: 256, channels: ALL },
  { why: 'enlarge, thin', w: 17, h: 300, ow: 256, oh: 256, channels: ALL },
  { why: 'enlarge 2x2', w: 2, h: 2, ow: 256, oh: 256, channels: ALL },
  { why: 'exact 2x up', w: 128, h: 128, ow: 256, oh: 256, channels: [3] },
  { why: 'full HD', w: 1920, h: 1080, ow: 256, oh: 256, channels: [1, 3] },
  { why: '12 MP phone photo', w: 4032, h: 3024, ow: 256, oh: 256, channels: [3] },
];

/** Deterministic pseudo-random sizes and channel counts, small enough to cover many edges. */
function randomCases(n: number, seed: number): NoiseCase[] {
  let s = seed >>> 0;
  const next = (max: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 1 + ((s >>> 8) % max);
  };
  const out: NoiseCase[] = [];
  for (let i = 0; i < n; i++) {
    const big = i % 2 === 0 ? 300 : 40;
    out.push({ why: `random #${i}`, w: next(big), h: next(big), ow: next(big), oh: next(big), channels: [ALL[next(3) - 1] as Channels] });
  }
  return out;
}

const CASES = [...GRID, ...randomCases(60, 2024)];


/** 'identical', or where the first byte differs and how many do. */
function compare(got: Uint8Array, want: Cv2Pixels, ow: number, oh: number, channels: number): string {
  if (want.width !== ow || want.height !== oh || want.channels !== channels) {
    return `cv2 made ${want.width}x${want.height}x${want.channels}, expected ${ow}x${oh}x${channels}`;
  }
  if (got.length !== want.data.length) return `length ${got.length}, cv2 ${want.data.length}`;
  let first = -1;
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want.data[i]) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first < 0) return 'identical';
  const px = Math.floor(first / channels);
  return (
    `first difference at x=${px % ow}, y=${Math.floor(px / ow)}, channel ${first % channels}: ` +
    `got ${got[first]}, cv2 ${want.data[first]} (${count} of ${got.length} bytes differ)`
  );
}

interface Job {
  label: string;
  src: () => Uint8Array;
  w: number;
  h: number;
  channels: Channels;
  ow: number;
  oh: number;
}

const PHOTO_MODES = [
  ['RGB', 3],
  ['L', 1],
  ['RGBA', 4],
] as const;

let cv2: Cv2Results;
const noiseJobs: Job[] = [];
const photoJobs: Job[] = [];
let photoJobsStart = 0;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rfl-cv2-noise-'));
  const sources: Cv2Source[] = [];
  const resizes: Array<{ source: string; to: [number, number] }> = [];
  for (const [i, c] of CASES.entries()) {
    for (const channels of c.channels) {
      const id = `noise-${i}-${channels}`;
      const seed = i * 10 + channels;
      const file = join(dir, id);
      writeFileSync(file, noise(c.w * c.h * channels, seed));
      sources.push({ id, raw: file, width: c.w, height: c.h, channels });
      resizes.push({ source: id, to: [c.ow, c.oh] });
      noiseJobs.push({
        label: `${c.why}: ${c.w}x${c.h}x${channels} -> ${c.ow}x${c.oh}`,
        src: () => noise(c.w * c.h * channels, seed),
        w: c.w,
        h: c.h,
        channels,
        ow: c.ow,
        oh: c.oh,
      });
    }
  }
  // albumentations' Resize(256, 256) on each photo, in RGB (the model's input) and, for the other
  // channel counts, L and RGBA; in RGB also a 2x shrink (when even) and a 1.5x enlargement.
  const photos = photoIndex();
  const photoResizes: Array<{ id: string; file: string; to: [number, number] }> = [];
  for (const p of photos) {
    for (const [mode] of PHOTO_MODES) {
      const id = `${p.file}:${mode}`;
      sources.push({ id, image: photoPath(p.file), mode });
      photoResizes.push({ id, file: p.file, to: [256, 256] });
      if (mode !== 'RGB') continue;
      if (p.width % 2 === 0 && p.height % 2 === 0) photoResizes.push({ id, file: p.file, to: [p.width / 2, p.height / 2] });
      photoResizes.push({ id, file: p.file, to: [Math.round(p.width * 1.5), Math.round(p.height * 1.5)] });
    }
  }
  photoJobsStart = resizes.length;
  for (const r of photoResizes) resizes.push({ source: r.id, to: r.to });

  cv2 = await cv2Resize(sources, resizes);
  rmSync(dir, { recursive: true, force: true });
  console.log(`cv2 ${cv2.version}: ${resizes.length} resizes`);
  for (const r of photoResizes) {
    const px = cv2.decoded.get(r.id);
    if (!px) throw new Error(`PIL did not decode ${r.id}`);
    photoJobs.push({
      label: `${r.id} ${px.width}x${px.height} -> ${r.to[0]}x${r.to[1]}`,
      src: () => px.data,
      w: px.width,
      h: px.height,
      channels: px.channels as Channels,
      ow: r.to[0],
      oh: r.to[1],
    });
  }
});

function check(jobs: Job[], offset: number): void {
  const results = jobs.map((j, i) => {
    const want = cv2.resized[offset + i];
    if (!want) return `${j.label}: no cv2 output`;
    const got = resizeOpenCvLinear(j.src(), j.w, j.h, j.channels, j.ow, j.oh);
    return `${j.label}: ${compare(got, want, j.ow, j.oh, j.channels)}`;
  });
  const failures = results.filter((r) => !r.endsWith(': identical'));
  console.log(`${results.length - failures.length} of ${results.length} identical`);
  expect(failures).toEqual([]);
}

describe("OpenCV's INTER_LINEAR resize (uint8)", () => {
  it('matches cv2.resize byte for byte on noise over a grid of sizes, 1, 3 and 4 channels', () => {
    check(noiseJobs, 0);
  });

  it('matches cv2.resize byte for byte on the test photographs (PIL-decoded, as albumentations gets them)', () => {
    expect(photoJobs.length).toBeGreaterThan(0);
    check(photoJobs, photoJobsStart);
  });

  it('keeps the input when the size does not change, as a copy', () => {
    const src = noise(5 * 4 * 3, 7);
    const out = resizeOpenCvLinear(src, 5, 4, 3, 5, 4);
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
  });

  it('refuses sizes and channel counts it does not handle', () => {
    expect(() => resizeOpenCvLinear(new Uint8Array(12), 2, 2, 3, 0, 1)).toThrow(RangeError);
    expect(() => resizeOpenCvLinear(new Uint8Array(12), 2, 2, 3, 1.5, 1)).toThrow(RangeError);
    expect(() => resizeOpenCvLinear(new Uint8Array(11), 2, 2, 3, 1, 1)).toThrow(RangeError);
    expect(() => resizeOpenCvLinear(new Uint8Array(8), 2, 2, 2, 1, 1)).toThrow(RangeError);
  });
});
