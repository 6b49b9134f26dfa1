// JUMBF (ISO/IEC 19566-5) boxes and the C2PA manifest store inside them. Reads, without
// validating anything, what a manifest says about itself: the claim generator, and the
// digitalSourceType of its actions (trainedAlgorithmicMedia: made by generative AI).
// Nesting depth and box count are capped; every length is checked.

import { decodeCbor, type CborValue } from './cbor';
import { LIMITS, ProvenanceError } from './types';

export interface JumbfBox {
  /** The description box's type: its UUID's first four bytes as text ("c2pa", "c2ma", "c2cl", …). */
  type: string;
  label: string;
  children: JumbfBox[];
  /** Content boxes (cbor, json, …) in order. */
  content: Array<{ box: string; data: Uint8Array }>;
}

function u32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) >>> 0) + ((b[at + 1] ?? 0) << 16) + ((b[at + 2] ?? 0) << 8) + (b[at + 3] ?? 0);
}

function ascii(b: Uint8Array, at: number, len: number): string {
  return String.fromCharCode(...b.subarray(at, at + len));
}

interface Walk {
  boxes: number;
}

/** The boxes in b[start, end): [type, payload start, payload end]. */
function* boxes(b: Uint8Array, start: number, end: number, w: Walk): Generator<[string, number, number]> {
  let at = start;
  while (at < end) {
    if (++w.boxes > LIMITS.maxJumbfBoxes) throw new ProvenanceError('too many JUMBF boxes');
    if (at + 8 > end) throw new ProvenanceError('truncated JUMBF box header');
    let size = u32(b, at);
    const type = ascii(b, at + 4, 4);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end || u32(b, at + 8) !== 0) throw new ProvenanceError('JUMBF box longer than its parent');
      size = u32(b, at + 12);
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) throw new ProvenanceError('JUMBF box longer than its parent');
    yield [type, at + header, at + size];
    at += size;
  }
}

function superbox(b: Uint8Array, start: number, end: number, depth: number, w: Walk): JumbfBox {
  if (depth > LIMITS.maxJumbfDepth) throw new ProvenanceError('JUMBF nested too deeply');
  const out: JumbfBox = { type: '', label: '', children: [], content: [] };
  let first = true;
  for (const [type, s, e] of boxes(b, start, end, w)) {
    if (first) {
      // The description box: 16-byte type UUID, toggles, then an optional NUL-terminated label.
      if (type !== 'jumd' || e - s < 17) throw new ProvenanceError('JUMBF superbox without description');
      out.type = ascii(b, s, 4);
      const toggles = b[s + 16] ?? 0;
      if (toggles & 0x02) {
        let nul = s + 17;
        while (nul < e && b[nul] !== 0) nul++;
        out.label = new TextDecoder('utf-8').decode(b.subarray(s + 17, nul)).slice(0, 256);
      }
      first = false;
    } else if (type === 'jumb') out.children.push(superbox(b, s, e, depth + 1, w));
    else out.content.push({ box: type, data: b.subarray(s, e) });
  }
  if (first) throw new ProvenanceError('empty JUMBF superbox');
  return out;
}

/** Parses the outermost JUMBF superbox of `data`. */
export function parseJumbf(data: Uint8Array): JumbfBox {
  const w: Walk = { boxes: 0 };
  const it = boxes(data, 0, data.length, w).next();
  if (it.done || it.value[0] !== 'jumb') throw new ProvenanceError('not a JUMBF box');
  return superbox(data, it.value[1], it.value[2], 1, w);
}

// ---- C2PA -------------------------------------------------------------------------------

export interface C2paSummary {
  /** The active (last) manifest's claim generator: name and version where given. */
  claimGenerator: string | null;
  title: string | null;
  manifests: number;
  /** Every digitalSourceType any action of any manifest declares (URIs). */
  digitalSourceTypes: string[];
  /** softwareAgent names of actions that declare a source type (e.g. the model used). */
  softwareAgents: string[];
}

function asRecord(v: CborValue): { [k: string]: CborValue } | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) ? v : null;
}

function str(v: CborValue | undefined): string | null {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 300) : null;
}

function contentValue(box: JumbfBox): CborValue {
  for (const c of box.content) {
    if (c.box === 'cbor') return decodeCbor(c.data);
    if (c.box === 'json') return JSON.parse(new TextDecoder('utf-8').decode(c.data)) as CborValue;
  }
  return null;
}

function generatorOf(claim: { [k: string]: CborValue }): string | null {
  const info = claim.claim_generator_info;
  const first = Array.isArray(info) ? info[0] : info;
  const rec = first === undefined ? null : asRecord(first);
  const name = rec ? str(rec.name) : null;
  if (name) {
    const version = rec ? str(rec.version) : null;
    return version ? `${name} ${version}` : name;
  }
  return str(claim.claim_generator);
}

export const AI_SOURCE_TYPES = ['trainedAlgorithmicMedia', 'compositeWithTrainedAlgorithmicMedia'];

export function isAiSourceType(uri: string): boolean {
  const last = uri.split('/').pop() ?? '';
  return AI_SOURCE_TYPES.includes(last);
}

/** What a C2PA manifest store says (unvalidated). Throws ProvenanceError when it is malformed. */
export function summarizeC2pa(store: JumbfBox): C2paSummary {
  if (store.type !== 'c2pa') throw new ProvenanceError('JUMBF box is not a C2PA manifest store');
  const manifests = store.children.filter((m) => m.type === 'c2ma' || m.type === 'c2um');
  const out: C2paSummary = { claimGenerator: null, title: null, manifests: manifests.length, digitalSourceTypes: [], softwareAgents: [] };
  manifests.forEach((m, i) => {
    const active = i === manifests.length - 1;
    for (const child of m.children) {
      if (child.type === 'c2cl' && active) {
        const claim = asRecord(contentValue(child));
        if (claim) {
          out.claimGenerator = generatorOf(claim);
          out.title = str(claim['dc:title']);
        }
      } else if (child.type === 'c2as') {
        for (const a of child.children) {
          if (!a.label.startsWith('c2pa.actions')) continue;
          const actions = asRecord(contentValue(a))?.actions;
          if (!Array.isArray(actions)) continue;
          for (const action of actions.slice(0, 100)) {
            const rec = asRecord(action);
            const dst = rec ? str(rec.digitalSourceType) : null;
            if (!rec || !dst) continue;
            if (!out.digitalSourceTypes.includes(dst)) out.digitalSourceTypes.push(dst);
            const agent = str(rec.softwareAgent) ?? str(asRecord(rec.softwareAgent ?? null)?.name);
            if (agent && !out.softwareAgents.includes(agent)) out.softwareAgents.push(agent);
          }
        }
      }
    }
  });
  return out;
}
