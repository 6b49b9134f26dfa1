// What the container walkers hand to the recognisers: raw metadata payloads, copied out of the
// file (small, capped), each named by where it was found. Nothing here is trusted yet.

export type ContainerType = 'png' | 'jpeg' | 'webp' | 'bmff';

export type RawItem =
  /** A text chunk (PNG tEXt/iTXt, JPEG COM), already decoded. */
  | { type: 'text'; key: string; text: string; where: string }
  /** A compressed text chunk (PNG zTXt, compressed iTXt): zlib data, inflated later with a cap. */
  | { type: 'ztext'; key: string; data: Uint8Array; utf8: boolean; where: string }
  /** An EXIF block: TIFF header and IFDs. */
  | { type: 'exif'; tiff: Uint8Array; where: string }
  /** An XMP packet. */
  | { type: 'xmp'; xml: string; where: string }
  /** A JUMBF box (C2PA manifest store candidate). */
  | { type: 'jumbf'; data: Uint8Array; where: string };

export interface MetadataScan {
  container: ContainerType | null;
  items: RawItem[];
  /** Why the walk stopped early (truncated, oversized, too many chunks), or null. */
  error: string | null;
}

/** Bounds for reading metadata: an image is at most 20 MB, its metadata far less. */
export const LIMITS = {
  /** All copied metadata payloads together. */
  maxMetadataBytes: 2 * 1024 * 1024,
  /** Chunks / segments / boxes walked in one file. */
  maxChunks: 200_000,
  /** One inflated text chunk. */
  maxInflatedBytes: 1024 * 1024,
  /** JUMBF superbox nesting (C2PA needs about 5). */
  maxJumbfDepth: 16,
  /** JUMBF boxes in one manifest store. */
  maxJumbfBoxes: 5_000,
  /** CBOR nesting and items in one assertion. */
  maxCborDepth: 32,
  maxCborItems: 100_000,
  /** Wall time for the whole reading, C2PA validation included. */
  timeoutMs: 3_000,
} as const;

export class ProvenanceError extends Error {
  override name = 'ProvenanceError';
}
