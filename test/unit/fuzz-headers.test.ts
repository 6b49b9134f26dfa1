// Property-based fuzzing (fast-check) of the magic-byte sniffer and the header readers that run
// on every downloaded image before anything decodes it: random bytes, valid headers of random
// sizes (from test/support/header-bytes.ts, written from the specifications), and those headers
// cut short or with bytes overwritten. Nothing may throw; the work per call, counted in loop
// steps (not time), stays linear in the input; valid headers give back their true size.

import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isComplete, readImageSize, type StepMeter } from '../../src/detector/image-header';
import { describeNotAnImage, sniffImageType, type ImageType } from '../../src/detector/sniff';
import { DEFAULT_MAX_PIXELS, FetchFailure, judgeHead } from '../../src/offscreen/fetch-image';
import { avifHeader, bmpHeader, gifHeader, icoWithPng, jpegHeader, pngHeader, webpHeader } from '../support/header-bytes';

const RUNS = 10_000;
const TYPES: ImageType[] = ['png', 'jpeg', 'gif', 'webp', 'bmp', 'ico', 'avif'];
const summary: string[] = [];
let worstStepsPerByte = 0;
afterAll(() => console.log(`header fuzzing:\n  ${summary.join('\n  ')}\n  most loop steps per input byte: ${worstStepsPerByte.toFixed(2)}`));

/** Runs every reader on `b` (as every type), checking it neither throws nor loops too long. */
function readAll(b: Uint8Array): void {
  for (const type of TYPES) {
    const meter: StepMeter = { steps: 0 };
    const r = readImageSize(b, type, meter);
    isComplete(b, type, meter);
    // Each step consumes at least one byte; the +8 covers fixed-size formats and empty input.
    expect(meter.steps, type).toBeLessThanOrEqual(2 * b.length + 8);
    worstStepsPerByte = Math.max(worstStepsPerByte, meter.steps / Math.max(1, b.length));
    if (r.kind === 'size') {
      expect(Number.isSafeInteger(r.width) && r.width > 0, `${type} width ${r.width}`).toBe(true);
      expect(Number.isSafeInteger(r.height) && r.height > 0, `${type} height ${r.height}`).toBe(true);
    } else if (r.kind === 'invalid') {
      expect(r.detail.length).toBeGreaterThan(0);
    }
  }
  const type = sniffImageType(b);
  if (type === null) expect(describeNotAnImage(b).length).toBeGreaterThan(0);
  for (const whole of [true, false]) {
    const seen = judgeHead(b, whole, DEFAULT_MAX_PIXELS);
    if (seen instanceof FetchFailure) expect(['not-an-image', 'undecodable', 'too-large']).toContain(seen.reason);
    else if (seen) expect(seen.width * seen.height).toBeLessThanOrEqual(DEFAULT_MAX_PIXELS);
  }
}

interface Made {
  bytes: Uint8Array;
  width: number;
  height: number;
  format: string;
}

const dim = (max: number): fc.Arbitrary<number> => fc.integer({ min: 1, max });
/** A valid header of a random format and size, and the size it was made with. */
const madeArb: fc.Arbitrary<Made> = fc.oneof(
  fc.tuple(dim(0x7fffffff), dim(0x7fffffff), fc.boolean()).map(([w, h, end]) => ({ bytes: pngHeader(w, h, end), width: w, height: h, format: 'png' })),
  fc.tuple(dim(65535), dim(65535), fc.boolean(), fc.nat(20)).map(([w, h, progressive, padding]) => ({ bytes: jpegHeader(w, h, { progressive, padding }), width: w, height: h, format: 'jpeg' })),
  fc.tuple(dim(65535), dim(65535)).map(([w, h]) => ({ bytes: gifHeader(w, h), width: w, height: h, format: 'gif' })),
  fc.tuple(dim(16383), dim(16383)).map(([w, h]) => ({ bytes: webpHeader(w, h, 'VP8 '), width: w, height: h, format: 'webp-vp8' })),
  fc.tuple(dim(16384), dim(16384)).map(([w, h]) => ({ bytes: webpHeader(w, h, 'VP8L'), width: w, height: h, format: 'webp-vp8l' })),
  fc.tuple(dim(1 << 24), dim(1 << 24)).map(([w, h]) => ({ bytes: webpHeader(w, h, 'VP8X'), width: w, height: h, format: 'webp-vp8x' })),
  fc.tuple(dim(0x7fffffff), dim(0x7fffffff)).map(([w, h]) => ({ bytes: bmpHeader(w, h), width: w, height: h, format: 'bmp' })),
  fc.tuple(dim(0x7fffffff), dim(0x7fffffff)).map(([w, h]) => ({ bytes: icoWithPng(w, h), width: Math.max(w, 256), height: Math.max(h, 256), format: 'ico' })),
  fc.array(fc.tuple(dim(0xffffffff), dim(0xffffffff)), { minLength: 1, maxLength: 4 }).map((sizes) => ({
    bytes: avifHeader(sizes),
    width: Math.max(...sizes.map((s) => s[0])),
    height: Math.max(...sizes.map((s) => s[1])),
    format: 'avif',
  })),
);

describe('header readers under fuzzing', { timeout: 180_000 }, () => {
  it(`survive ${RUNS} random byte strings`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => readAll(b)), { numRuns: RUNS });
    summary.push(`${RUNS} random byte strings: no exception, bounded steps`);
  });

  it(`survive ${RUNS} random tails after each format's signature`, () => {
    const signatures = [pngHeader(1, 1).subarray(0, 8), new Uint8Array([0xff, 0xd8, 0xff]), new TextEncoder().encode('GIF89a'), webpHeader(1, 1, 'VP8X').subarray(0, 16), new TextEncoder().encode('BM'), new Uint8Array([0, 0, 1, 0]), avifHeader([[1, 1]]).subarray(0, 12)];
    const sniffed = new Map<string, number>();
    fc.assert(
      fc.property(fc.constantFrom(...signatures), fc.uint8Array({ maxLength: 400 }), (sig, tail) => {
        const b = new Uint8Array([...sig, ...tail]);
        readAll(b);
        const t = String(sniffImageType(b));
        sniffed.set(t, (sniffed.get(t) ?? 0) + 1);
      }),
      { numRuns: RUNS },
    );
    summary.push(`${RUNS} signatures with random tails: sniffed ${JSON.stringify(Object.fromEntries(sniffed))}`);
  });

  it(`give the true size of ${RUNS} valid headers of random sizes, and "incomplete" for every shorter prefix`, () => {
    const formats = new Map<string, number>();
    fc.assert(
      fc.property(madeArb, fc.nat(), (made, cutAt) => {
        formats.set(made.format, (formats.get(made.format) ?? 0) + 1);
        const type = sniffImageType(made.bytes);
        expect(type, made.format).not.toBeNull();
        const meter: StepMeter = { steps: 0 };
        expect(readImageSize(made.bytes, type as ImageType, meter)).toEqual({ kind: 'size', width: made.width, height: made.height });
        expect(meter.steps).toBeLessThanOrEqual(2 * made.bytes.length + 8);
        // A prefix gives the true size or asks for more, never a wrong size.
        const prefix = made.bytes.subarray(0, cutAt % (made.bytes.length + 1));
        const r = readImageSize(prefix, type as ImageType);
        if (r.kind === 'size') expect(r).toEqual({ kind: 'size', width: made.width, height: made.height });
        else expect(r.kind, `${made.format} cut at ${prefix.length}`).toBe('incomplete');
        // The fetch's decision agrees with the pixel cap.
        const seen = judgeHead(made.bytes, true, DEFAULT_MAX_PIXELS);
        if (made.width * made.height > DEFAULT_MAX_PIXELS) expect(seen instanceof FetchFailure && seen.reason).toBe('too-large');
        else if (!(seen instanceof FetchFailure)) expect(seen).toEqual({ type, width: made.width, height: made.height });
      }),
      { numRuns: RUNS },
    );
    summary.push(`${RUNS} valid headers, true size every time: ${JSON.stringify(Object.fromEntries(formats))}`);
  });

  it(`survive ${RUNS} valid headers with bytes overwritten, inserted or removed`, () => {
    let sizes = 0;
    fc.assert(
      fc.property(madeArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'remove')), { minLength: 1, maxLength: 6 }), (made, edits) => {
        const b = Array.from(made.bytes);
        for (const [at, value, op] of edits) {
          const i = at % (b.length + 1);
          if (op === 'set' && i < b.length) b[i] = value;
          else if (op === 'insert') b.splice(i, 0, value);
          else b.splice(i, 1);
        }
        const bytes = new Uint8Array(b);
        readAll(bytes);
        const type = sniffImageType(bytes);
        if (type && readImageSize(bytes, type).kind === 'size') sizes++;
      }),
      { numRuns: RUNS },
    );
    summary.push(`${RUNS} mutated headers: no exception, bounded steps, ${sizes} still gave a size`);
  });

  it('stay linear on long adversarial inputs (many tiny JPEG segments, many GIF extensions, deep AVIF)', () => {
    const jpeg = jpegHeader(10, 10, { padding: 20_000 });
    const gif = new Uint8Array([...gifHeader(1, 1).subarray(0, 13), ...Array.from({ length: 30_000 }, () => [0x21, 0xfe, 1, 0x41, 0]).flat(), 0x2c, 0, 0, 0, 0, 5, 0, 6, 0, 0]);
    const fills = new Uint8Array([0xff, 0xd8, ...new Array<number>(100_000).fill(0xff)]);
    for (const [b, type, expected] of [
      [jpeg, 'jpeg', 'size'],
      [gif, 'gif', 'size'],
      [fills, 'jpeg', 'incomplete'],
    ] as Array<[Uint8Array, ImageType, string]>) {
      const meter: StepMeter = { steps: 0 };
      expect(readImageSize(b, type, meter).kind).toBe(expected);
      expect(meter.steps).toBeLessThanOrEqual(2 * b.length + 8);
      summary.push(`${type} of ${b.length} bytes: ${meter.steps} steps`);
    }
  });
});
