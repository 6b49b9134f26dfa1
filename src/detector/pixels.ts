// Types shared by the pure image code (resizers, preprocessing).

/** Interleaved 8-bit pixels, row by row. */
export type Pixels = Uint8Array | Uint8ClampedArray;

/** A resize's arguments: the source, its size and channels per pixel, and the output size. */
export type ResizeArgs<Source> = [source: Source, width: number, height: number, channels: number, outWidth: number, outHeight: number];
