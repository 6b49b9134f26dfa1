// Decode + the published model's preprocessing, timed inside a browser: the one measurement that
// bench/preprocess.bench.ts runs in the extension's offscreen document and
// bench/browsers-preprocess.bench.ts on a plain page in Chromium and Firefox. Self-contained (it
// is sent to the browser as source), so it reads decode.ts and preprocess.ts from the globals that
// bundleForPage defines.

export interface PrepareTiming {
  /** ms for decode + preprocess, median of the runs after the warm-up (the only run when there is one). */
  median: number;
  decode: number;
  /** Which way the picture was decoded (DecodedImage.via). */
  via: string;
  /** Values in the model input (3 x 224 x 224). */
  length: number;
}

export interface PrepareArgs {
  url: string;
  /** Runs after one warm-up run. */
  repeats: number;
  /** decodeImage's option; absent: its default. */
  jpegPlanes?: boolean;
}

export const measurePrepare = async (args: PrepareArgs): Promise<PrepareTiming> => {
  type Decode = typeof import('../src/offscreen/decode');
  type Pre = typeof import('../src/detector/preprocess');
  const g = globalThis as unknown as { RealfakeDecode: Decode; RealfakePreprocess: Pre };
  const blob = await (await fetch(args.url)).blob();
  // The published model's recipe (preset laion-realfake).
  const spec = {
    resize: { mode: 'square' as const, size: 256, interpolation: 'opencv-linear' as const },
    centerCrop: 224,
    mean: [0.485, 0.456, 0.406] as [number, number, number],
    std: [0.229, 0.224, 0.225] as [number, number, number],
    library: 'albumentations' as const,
  };
  const options = args.jpegPlanes === undefined ? {} : { jpegPlanes: args.jpegPlanes };
  const times: number[] = [];
  const decodeTimes: number[] = [];
  let length = 0;
  let via = '';
  for (let i = 0; i < args.repeats + 1; i++) {
    const t0 = performance.now();
    const img = await g.RealfakeDecode.decodeImage(blob, options);
    const t1 = performance.now();
    length = g.RealfakePreprocess.preprocessImage(img, spec).length;
    times.push(performance.now() - t0);
    decodeTimes.push(t1 - t0);
    via = img.via;
  }
  // The first run warms up, unless it is the only one.
  const median = (xs: number[]) => (xs.length > 1 ? xs.slice(1) : xs).sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
  return { median: median(times), decode: median(decodeTimes), via, length };
};
