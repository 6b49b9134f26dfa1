// What an image's provenance evidence says, in plain words: a short label for a badge card or a
// history row, and a longer text for its tooltip. Pure, so every view and the tests agree.
// The evidence is kept apart from the model's score: it says what the file claims about itself.

import type { Evidence, EvidenceFinding } from '../detector/provenance/evidence';

export interface EvidenceText {
  /** Short: "Declared AI-generated (C2PA, signed by …)", "Stable Diffusion parameters found (sampler …)". */
  label: string;
  /** Longer: every finding, one per line, and what the evidence is worth. */
  text: string;
  /** The file itself says it was made by generative AI. */
  declaresAI: boolean;
}

const CAVEAT = 'Metadata is easy to remove or forge; only a validated C2PA signature ties a claim to its signer.';

function c2paLabel(f: EvidenceFinding): string {
  const v = f.details.validation;
  // The label names the signer's common name; the organisation in brackets is left to the text.
  const signer = f.details.signer?.replace(/ \(.*\)$/, '');
  const by = signer ? `signed by ${signer}` : f.details.claimGenerator ? `by ${f.details.claimGenerator}` : '';
  const state =
    v === 'invalid' ? 'signature invalid' : v === 'valid' || v === 'trusted' ? by || 'signature valid' : `${by ? `${by}, ` : ''}not validated`;
  return f.declaresAI ? `Declared AI-generated (C2PA, ${state})` : `Content Credentials (C2PA, ${state})`;
}

function parametersLabel(f: EvidenceFinding): string {
  const d = f.details;
  const tool = d.generator ?? 'generator';
  const what = /AUTOMATIC1111|Forge/.test(tool) ? 'Stable Diffusion parameters' : `${tool} metadata`;
  const extra = d.sampler ? `sampler ${d.sampler}` : d.model ? `model ${d.model}` : '';
  return `${what} found${extra ? ` (${extra})` : ''}`;
}

/** The label of one finding. */
export function findingLabel(f: EvidenceFinding): string {
  switch (f.kind) {
    case 'c2pa':
      return c2paLabel(f);
    case 'generator-parameters':
      return parametersLabel(f);
    case 'xmp':
      if (f.declaresAI && f.details.digitalSourceType) return 'Declared AI-generated (IPTC digital source type)';
      return f.details.generator ? `Metadata names ${f.details.generator}` : f.summary;
    case 'exif':
      if (f.details.generator) return `Metadata names ${f.details.generator}`;
      return f.details.camera ? `Camera metadata: ${f.details.camera} (unverified)` : f.summary;
  }
}

/** Which finding speaks first: AI declarations, signed ones, then the rest in kind order. */
function rank(f: EvidenceFinding): number {
  const kind = { c2pa: 0, 'generator-parameters': 1, xmp: 2, exif: 3 }[f.kind];
  return (f.declaresAI ? 0 : 10) + kind;
}

function findingLine(f: EvidenceFinding): string {
  const keys = ['generator', 'claimGenerator', 'signer', 'validation', 'digitalSourceType', 'softwareAgent', 'sampler', 'steps', 'cfg', 'seed', 'model', 'modelHash', 'camera', 'software', 'prompt'];
  const parts = keys.filter((k) => f.details[k]).map((k) => `${k}: ${f.details[k]}`);
  return `${f.summary}${parts.length ? ` (${parts.join('; ')})` : ''}`;
}

export function describeEvidence(evidence: Evidence | null | undefined): EvidenceText | null {
  if (!evidence) return null;
  const sorted = [...evidence.findings].sort((a, b) => rank(a) - rank(b));
  const first = sorted[0];
  const declaresAI = sorted.some((f) => f.declaresAI);
  if (evidence.state === 'unreadable' && !first) {
    return { label: "Couldn't read credentials", text: `The image's metadata could not be read: ${evidence.note ?? 'malformed'}. The model's score is unaffected.`, declaresAI };
  }
  if (!first) return { label: 'No provenance metadata', text: `The file carries no C2PA credentials or generator metadata. ${CAVEAT}`, declaresAI };
  const lines = sorted.map(findingLine);
  if (sorted.some((f) => f.kind === 'c2pa' && f.details.validation === 'valid')) {
    lines.push('The C2PA signature and hashes check out; the signer was not checked against a trust list.');
  }
  if (evidence.state === 'unreadable') lines.push(`Part of the metadata could not be read: ${evidence.note ?? 'malformed'}.`);
  lines.push(CAVEAT);
  return { label: findingLabel(first), text: lines.join('\n'), declaresAI };
}
