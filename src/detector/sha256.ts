// Incremental SHA-256 (FIPS 180-4). WebCrypto only digests a whole buffer at once, but a model
// download must be hashed while it streams (800 MB never sits in memory twice) and the hash state
// must survive an interrupted download, so it can be saved and restored (`state()`, `fromState`).

// Int32Array throughout: V8 keeps signed 32-bit values as small integers (unsigned ones above 2^31
// become heap numbers).
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** A saved hash: enough to go on hashing where it stopped (plain JSON). */
export interface Sha256State {
  h: number[];
  /** Bytes hashed so far. */
  length: number;
  /** The bytes of an unfinished 64-byte block, as hex. */
  pending: string;
}

const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export class Sha256 {
  private readonly h = new Int32Array(INITIAL);
  private readonly w = new Int32Array(64);
  private readonly block = new Uint8Array(64);
  private blockLen = 0;
  private length = 0;
  private done = false;

  static fromState(s: Sha256State): Sha256 {
    const pending = s.pending.match(/../g)?.map((x) => parseInt(x, 16)) ?? [];
    const valid =
      s.h.length === 8 && s.h.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff) &&
      Number.isSafeInteger(s.length) && s.length >= 0 && pending.length === s.length % 64 && pending.every((x) => x >= 0);
    if (!valid) throw new Error('invalid SHA-256 state');
    const out = new Sha256();
    out.h.set(s.h);
    out.block.set(pending);
    out.blockLen = pending.length;
    out.length = s.length;
    return out;
  }

  get bytesHashed(): number {
    return this.length;
  }

  state(): Sha256State {
    return { h: Array.from(this.h, (x) => x >>> 0), length: this.length, pending: toHex(this.block.subarray(0, this.blockLen)) };
  }

  update(data: Uint8Array): this {
    if (this.done) throw new Error('SHA-256: update after digest');
    let at = 0;
    this.length += data.length;
    if (this.blockLen > 0) {
      const take = Math.min(64 - this.blockLen, data.length);
      this.block.set(data.subarray(0, take), this.blockLen);
      this.blockLen += take;
      at = take;
      if (this.blockLen < 64) return this;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    for (; at + 64 <= data.length; at += 64) this.compress(data, at);
    this.block.set(data.subarray(at), 0);
    this.blockLen = data.length - at;
    return this;
  }

  digest(): Uint8Array {
    if (this.done) throw new Error('SHA-256: digest called twice');
    const bits = this.length * 8;
    const tail = new Uint8Array(this.blockLen < 56 ? 64 : 128);
    tail.set(this.block.subarray(0, this.blockLen));
    tail[this.blockLen] = 0x80;
    // The length in bits as a 64-bit big-endian number (exact for any safe integer of bytes).
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(tail.length - 4, bits >>> 0);
    for (let at = 0; at < tail.length; at += 64) this.compress(tail, at);
    this.done = true;
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    this.h.forEach((x, i) => outView.setUint32(i * 4, x));
    return out;
  }

  hex(): string {
    return toHex(this.digest());
  }

  // The hot loop: `!` on typed-array reads whose index is always in range (no `?? 0` branches).
  private compress(data: Uint8Array, at: number): void {
    const w = this.w;
    for (let i = 0; i < 16; i++) {
      const j = at + i * 4;
      w[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    const h = this.h;
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!;
    let e = h[4]!, f = h[5]!, g = h[6]!, k = h[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
    h[5] = (h[5]! + f) | 0;
    h[6] = (h[6]! + g) | 0;
    h[7] = (h[7]! + k) | 0;
  }
}

/** SHA-256 of `data` as 64 lowercase hex digits. */
export function sha256Hex(data: Uint8Array): string {
  return new Sha256().update(data).hex();
}
