// Provenance evidence from an image's own metadata, kept apart from the model's score:
// collectMetadata() walks the container (synchronous, bounded, done where the bytes are),
// readEvidence() recognises generators and C2PA manifests in what it found, and asks an optional
// C2PA validator (the official library, where it can run) about the signature. Nothing here
// throws: a fault is the "unreadable" state, with the findings made before it.

import type { Evidence, EvidenceFinding } from './evidence';
import { recogniseExif, recogniseTextChunks, recogniseXmp } from './generators';
import { inflateCapped } from './inflate';
import { isAiSourceType, parseJumbf, summarizeC2pa } from './jumbf';
import { readExif } from './tiff';
import { LIMITS, ProvenanceError, type MetadataScan } from './types';
import { readXmp } from './xmp';
import { withTimeout } from '../timeout';

export { collectMetadata } from './containers';
export type { MetadataScan } from './types';

/** What a C2PA validator (c2pa-rs, via @contentauth/c2pa-wasm) says about the manifest store. */
export interface C2paValidation {
  /** c2pa-rs's validation_state: Invalid, Valid (well-formed, signature checks out), Trusted. */
  state: 'invalid' | 'valid' | 'trusted';
  /** Who signed, from the signing certificate (issuer / common name). */
  signer: string | null;
  claimGenerator: string | null;
  digitalSourceTypes: string[];
  /** Failure codes (e.g. "assertion.dataHash.mismatch"), at most a few. */
  failures: string[];
}

export type C2paValidator = () => Promise<C2paValidation | null>;

export interface ReadOptions {
  validateC2pa?: C2paValidator;
  timeoutMs?: number;
}

const ORDER: Record<EvidenceFinding['kind'], number> = { c2pa: 0, 'generator-parameters': 1, xmp: 2, exif: 3 };

function message(e: unknown): string {
  return e instanceof ProvenanceError ? e.message : `unreadable (${e instanceof Error ? e.name : 'error'})`;
}

/** The manifest store as read here, with the validator's verdict where it could give one. */
async function c2paFinding(data: Uint8Array, validate: C2paValidator | undefined): Promise<EvidenceFinding> {
  const summary = summarizeC2pa(parseJumbf(data));
  let validation: C2paValidation | null = null;
  let validationError: string | null = null;
  if (validate) {
    try {
      validation = await validate();
    } catch (e) {
      // The manifest was still read: the finding stands, marked "not validated", with the reason.
      validationError = e instanceof Error ? e.message.slice(0, 200) : 'error';
    }
  }
  const sourceTypes = [...new Set([...summary.digitalSourceTypes, ...(validation?.digitalSourceTypes ?? [])])];
  const declaresAI = sourceTypes.some(isAiSourceType);
  const generator = validation?.claimGenerator ?? summary.claimGenerator;
  const finding: EvidenceFinding = {
    kind: 'c2pa',
    summary: `C2PA Content Credentials${generator ? ` (claim generator ${generator.slice(0, 80)})` : ''}`,
    declaresAI,
    details: {},
  };
  const d = finding.details;
  if (generator) d.claimGenerator = generator.slice(0, 300);
  if (summary.title) d.title = summary.title;
  d.manifests = String(summary.manifests);
  if (sourceTypes.length) d.digitalSourceType = sourceTypes.join(' ').slice(0, 500);
  if (summary.softwareAgents.length) d.softwareAgent = summary.softwareAgents.join(', ').slice(0, 300);
  d.validation = validation ? validation.state : 'not validated';
  if (validation?.signer) d.signer = validation.signer.slice(0, 300);
  if (validation?.failures.length) d.failures = validation.failures.slice(0, 5).join(', ').slice(0, 500);
  if (validationError) d.validationError = validationError;
  return finding;
}

async function read(scan: MetadataScan, opts: ReadOptions, notes: string[], findings: EvidenceFinding[]): Promise<void> {
  const texts = new Map<string, string>();
  for (const item of scan.items) {
    try {
      if (item.type === 'text') {
        if (!texts.has(item.key)) texts.set(item.key, item.text);
      } else if (item.type === 'ztext') {
        const bytes = await inflateCapped(item.data);
        const text = new TextDecoder(item.utf8 ? 'utf-8' : 'latin1').decode(bytes);
        if (!texts.has(item.key)) texts.set(item.key, text);
      } else if (item.type === 'exif') {
        findings.push(...recogniseExif(readExif(item.tiff)));
      } else if (item.type === 'xmp') {
        findings.push(...recogniseXmp(readXmp(item.xml)));
      } else {
        findings.push(await c2paFinding(item.data, opts.validateC2pa));
      }
    } catch (e) {
      notes.push(`${item.where}: ${message(e)}`);
    }
  }
  findings.push(...recogniseTextChunks(texts));
}

/** The evidence an image's metadata gives; never throws, never takes longer than the time cap. */
export async function readEvidence(scan: MetadataScan, opts: ReadOptions = {}): Promise<Evidence> {
  const notes: string[] = scan.error ? [scan.error] : [];
  const findings: EvidenceFinding[] = [];
  try {
    const result = await withTimeout<'done' | 'timeout'>(
      read(scan, opts, notes, findings).then(() => 'done'),
      opts.timeoutMs ?? LIMITS.timeoutMs,
      () => 'timeout',
    );
    if (result === 'timeout') notes.push('reading metadata took too long');
  } catch (e) {
    notes.push(message(e));
  }
  const seen = new Set<string>();
  const kept = [...findings]
    .sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || Number(b.declaresAI) - Number(a.declaresAI))
    .filter((f) => !seen.has(f.summary) && seen.add(f.summary))
    .slice(0, 8);
  if (notes.length) return { state: 'unreadable', findings: kept, note: notes.join('; ').slice(0, 200) };
  return { state: kept.length ? 'found' : 'none', findings: kept, note: null };
}
