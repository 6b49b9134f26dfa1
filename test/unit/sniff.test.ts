import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sniffImageType } from '../../src/detector/sniff';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('sniffImageType', () => {
  it('recognises each format by its signature (from the format specifications)', () => {
    expect(sniffImageType(bytes(0xff, 0xd8, 0xff, 0xe0, 0, 0x10))).toBe('jpeg');
    expect(sniffImageType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0))).toBe('png');
    expect(sniffImageType(text('GIF89a\x01\x00'))).toBe('gif');
    expect(sniffImageType(text('GIF87a\x01\x00'))).toBe('gif');
    expect(sniffImageType(text('RIFF\x10\x00\x00\x00WEBPVP8 '))).toBe('webp');
    expect(sniffImageType(text('BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00'))).toBe('bmp');
    expect(sniffImageType(text('\x00\x00\x00\x1cftypavif\x00\x00\x00\x00'))).toBe('avif');
  });

  it('refuses what is not an image, whatever a server claims', () => {
    expect(sniffImageType(text('<!doctype html><html>'))).toBeNull();
    expect(sniffImageType(text('RIFF\x10\x00\x00\x00WAVEfmt '))).toBeNull();
    expect(sniffImageType(text('\x00\x00\x00\x1cftypisom'))).toBeNull();
    expect(sniffImageType(new Uint8Array(0))).toBeNull();
    expect(sniffImageType(bytes(0xff, 0xd8))).toBeNull();
  });

  it('recognises the real photographs of the fixtures', () => {
    const dir = join(import.meta.dirname, '../fixtures/photos');
    const files = readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const expected = /\.png$/i.test(f) ? 'png' : 'jpeg';
      expect(sniffImageType(new Uint8Array(readFileSync(join(dir, f)))), f).toBe(expected);
    }
  });
});
