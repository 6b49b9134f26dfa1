// What the provenance readers find in an image's own metadata, kept apart from the score. The
// message layer carries and validates it (src/shared/protocol/shapes.ts: parseEvidence).

export type EvidenceKind = 'c2pa' | 'generator-parameters' | 'exif' | 'xmp';
export const EVIDENCE_KINDS: readonly EvidenceKind[] = ['c2pa', 'generator-parameters', 'exif', 'xmp'];

export interface EvidenceFinding {
  kind: EvidenceKind;
  /** One line, e.g. "Stable Diffusion parameters (AUTOMATIC1111 / Forge)". */
  summary: string;
  /** Named values (generator, sampler, seed, claimGenerator, signer, validation, …). */
  details: Record<string, string>;
  /** The metadata itself says the picture was made by generative AI. */
  declaresAI: boolean;
}

export interface Evidence {
  /** none: no provenance metadata; unreadable: malformed, too large or too slow (findings so far kept). */
  state: 'none' | 'found' | 'unreadable';
  findings: EvidenceFinding[];
  /** Why it was unreadable. */
  note: string | null;
}

export const EVIDENCE_LIMITS = { findings: 8, details: 16, key: 40, value: 500, summary: 200, note: 200 } as const;
