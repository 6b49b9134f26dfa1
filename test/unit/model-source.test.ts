// Model download URLs: https anywhere, http only on loopback; the ONNX file beside the manifest;
// a Range answer continues a download only when it starts where asked.

import { describe, expect, it } from 'vitest';
import { checkModelUrl, onnxUrlOf, resumesAt } from '../../src/detector/model-source';

describe('checkModelUrl', () => {
  it.each(['https://example.org/m/manifest.json', 'http://127.0.0.1:8080/manifest.json', 'http://127.5.6.7/m.json', 'http://localhost/m.json', 'http://[::1]:9/m.json'])(
    'accepts %s',
    (u) => expect(checkModelUrl(u).ok).toBe(true),
  );
  it.each([
    ['http://example.org/manifest.json', /plain http is accepted only from this machine/],
    ['http://192.168.1.2/manifest.json', /plain http is accepted only/],
    ['http://127.0.0.1.example.org/m.json', /plain http is accepted only/],
    ['ftp://example.org/m.json', /ftp: URLs are not accepted/],
    ['file:///tmp/m.json', /file: URLs are not accepted/],
    ['https://user:pw@example.org/m.json', /user name or password/],
    ['manifest.json', /is not a URL/],
  ])('refuses %s', (u, why) => {
    const d = checkModelUrl(u);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.detail).toMatch(why);
  });
});

describe('onnxUrlOf', () => {
  it('resolves the file next to the manifest', () => {
    expect(onnxUrlOf(new URL('https://h.org/a/b/manifest.json?x=1'), 'model.onnx').href).toBe('https://h.org/a/b/model.onnx');
  });
});

describe('resumesAt', () => {
  it('continues only a 206 that starts where asked, for the same total', () => {
    expect(resumesAt(206, 'bytes 100-999/1000', 100, 1000)).toBe(true);
    expect(resumesAt(206, 'bytes 100-999/*', 100, 1000)).toBe(true);
    expect(resumesAt(200, null, 100, 1000)).toBe(false);
    expect(resumesAt(206, 'bytes 0-999/1000', 100, 1000)).toBe(false);
    expect(resumesAt(206, 'bytes 100-999/2000', 100, 1000)).toBe(false);
    expect(resumesAt(206, null, 100, 1000)).toBe(false);
  });
});
