// A bounded CBOR (RFC 8949) decoder for C2PA claims and assertions: depth and item caps, every
// length checked against the input, maps with text keys as plain objects (other keys as strings),
// byte strings as views, tags dropped. Throws ProvenanceError on anything malformed.

import { LIMITS, ProvenanceError } from './types';

export type CborValue = number | bigint | string | boolean | null | undefined | Uint8Array | CborValue[] | { [k: string]: CborValue };

const BREAK = Symbol('break');

class Reader {
  at = 0;
  items = 0;
  constructor(readonly b: Uint8Array) {}

  byte(): number {
    const x = this.b[this.at];
    if (x === undefined) throw new ProvenanceError('CBOR truncated');
    this.at++;
    return x;
  }

  uint(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.byte();
    return v;
  }

  bytes(n: number): Uint8Array {
    if (n > this.b.length - this.at) throw new ProvenanceError('CBOR length beyond the data');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

function argument(r: Reader, info: number): number | null {
  if (info < 24) return info;
  if (info === 24) return r.uint(1);
  if (info === 25) return r.uint(2);
  if (info === 26) return r.uint(4);
  if (info === 27) return r.uint(8); // above 2^53 loses precision; lengths that large fail anyway
  if (info === 31) return null; // indefinite
  throw new ProvenanceError('CBOR reserved additional information');
}

function half(bits: number): number {
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const utf8 = new TextDecoder('utf-8');

function item(r: Reader, depth: number): CborValue | typeof BREAK {
  if (depth > LIMITS.maxCborDepth) throw new ProvenanceError('CBOR nested too deeply');
  if (++r.items > LIMITS.maxCborItems) throw new ProvenanceError('CBOR has too many items');
  const head = r.byte();
  const major = head >> 5;
  const info = head & 0x1f;
  if (major === 7) {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 23) return undefined;
    if (info === 25) return half(r.uint(2));
    if (info === 26) return new DataView(r.bytes(4).slice().buffer).getFloat32(0);
    if (info === 27) return new DataView(r.bytes(8).slice().buffer).getFloat64(0);
    if (info === 31) return BREAK;
    if (info < 24) return undefined; // unassigned simple values
    if (info === 24) {
      r.byte();
      return undefined;
    }
    throw new ProvenanceError('CBOR reserved simple value');
  }
  const n = argument(r, info);
  switch (major) {
    case 0:
      if (n === null) throw new ProvenanceError('CBOR indefinite integer');
      return n;
    case 1:
      if (n === null) throw new ProvenanceError('CBOR indefinite integer');
      return -1 - n;
    case 2:
    case 3: {
      if (n === null) throw new ProvenanceError('CBOR indefinite strings are not used by C2PA');
      const bytes = r.bytes(n);
      return major === 2 ? bytes : utf8.decode(bytes);
    }
    case 4: {
      const out: CborValue[] = [];
      for (let i = 0; n === null || i < n; i++) {
        const v = item(r, depth + 1);
        if (v === BREAK) {
          if (n === null) break;
          throw new ProvenanceError('CBOR unexpected break');
        }
        out.push(v);
      }
      return out;
    }
    case 5: {
      const out: { [k: string]: CborValue } = Object.create(null) as { [k: string]: CborValue };
      for (let i = 0; n === null || i < n; i++) {
        const k = item(r, depth + 1);
        if (k === BREAK) {
          if (n === null) break;
          throw new ProvenanceError('CBOR unexpected break');
        }
        const v = item(r, depth + 1);
        if (v === BREAK) throw new ProvenanceError('CBOR unexpected break');
        out[typeof k === 'string' ? k : String(k)] = v;
      }
      return out;
    }
    case 6: {
      // A tag: keep the tagged value, drop the tag.
      const v = item(r, depth + 1);
      if (v === BREAK) throw new ProvenanceError('CBOR unexpected break');
      return v;
    }
    default:
      throw new ProvenanceError('CBOR bad major type');
  }
}

/** Decodes one CBOR item that must fill `bytes`. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const r = new Reader(bytes);
  const v = item(r, 0);
  if (v === BREAK) throw new ProvenanceError('CBOR unexpected break');
  if (r.at !== bytes.length) throw new ProvenanceError('CBOR trailing bytes');
  return v;
}
