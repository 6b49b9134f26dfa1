// Writes many distinct, deterministic test pictures as PNG files (no image library needed):
// smooth colour fields from a seeded generator, so each one scores differently.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { seededUniform } from '../../src/detector/synthetic-pictures';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An 8-bit RGB PNG of `rgb` (row-major, 3 bytes per pixel). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}


/** Writes `count` pictures `dir/pic-NNN.png` of `size`x`size` and returns their file names. */
export function writeSyntheticPictures(dir: string, count: number, size = 160, seed = 7): string[] {
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const rand = seededUniform(seed * 1000 + i);
    const waves = Array.from({ length: 9 }, () => [rand() * 0.2, rand() * 0.2, rand() * 6.28, 60 + rand() * 60]);
    const rgb = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          let v = 128;
          for (let k = c * 3; k < c * 3 + 3; k++) {
            const [fx, fy, ph, amp] = waves[k] as [number, number, number, number];
            v += (amp / 3) * Math.sin(fx * x + fy * y + ph);
          }
          rgb[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v + (rand() - 0.5) * 24)));
        }
      }
    }
    const name = `pic-${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, name), encodePng(size, size, rgb));
    names.push(name);
  }
  return names;
}
