// Provenance evidence from files written by independent tools at test time: PIL's PngInfo
// (A1111 `parameters`, ComfyUI, NovelAI, InvokeAI; tEXt, zTXt and compressed iTXt), PIL's Exif and
// exiftool (EXIF UserComment/Software, XMP with the IPTC digital source type) in JPEG and WebP.
// Each file's findings are checked against what the writer was told to write.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectMetadata, readEvidence } from '../../src/detector/provenance';
import { parseEvidence } from '../../src/shared/protocol/shapes';
import type { Evidence } from '../../src/detector/provenance/evidence';
import { PYTHON, REPO } from '../support/python';

let dir: string;

async function evidenceOf(name: string): Promise<Evidence> {
  const scan = collectMetadata(new Uint8Array(readFileSync(join(dir, name))));
  const evidence = await readEvidence(scan);
  // Whatever the reader makes must pass the protocol's own validator unchanged.
  expect(parseEvidence(evidence)).toEqual(evidence);
  return evidence;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rfl-provenance-'));
  try {
    execFileSync(PYTHON, [join(REPO, 'tools/provenance_fixtures.py'), dir], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`tools/provenance_fixtures.py failed (needs PIL and exiftool: run scripts/setup.sh): ${String(e)}`);
  }
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generator parameters in PNG text chunks (written by PIL)', () => {
  it('AUTOMATIC1111 `parameters` (tEXt): prompt, negative prompt, steps, sampler, CFG, seed, model, hash', async () => {
    const e = await evidenceOf('a1111.png');
    expect(e.state).toBe('found');
    expect(e.findings).toHaveLength(1);
    const f = e.findings[0]!;
    expect(f).toMatchObject({ kind: 'generator-parameters', declaresAI: true });
    expect(f.details).toEqual({
      generator: 'AUTOMATIC1111 / Forge',
      prompt: 'a photograph of an astronaut riding a horse, highly detailed',
      negativePrompt: 'blurry, lowres',
      steps: '28',
      sampler: 'DPM++ 2M Karras',
      cfg: '7.5',
      seed: '1234567890',
      size: '512x512',
      model: 'v1-5-pruned-emaonly',
      modelHash: '6ce0161689',
      version: 'v1.9.4',
    });
  });

  it('the same parameters in a compressed iTXt chunk', async () => {
    const e = await evidenceOf('a1111-itxt-z.png');
    expect(e.findings[0]?.details).toMatchObject({ sampler: 'DPM++ 2M Karras', seed: '1234567890' });
  });

  it('ComfyUI `prompt` graph: follows the sampler to its positive prompt and checkpoint', async () => {
    const e = await evidenceOf('comfyui.png');
    expect(e.findings).toHaveLength(1);
    expect(e.findings[0]).toMatchObject({
      kind: 'generator-parameters',
      summary: 'ComfyUI workflow',
      declaresAI: true,
      details: {
        generator: 'ComfyUI',
        nodes: '7',
        prompt: 'a cat wearing a space suit',
        sampler: 'euler',
        steps: '20',
        cfg: '8',
        seed: '42',
        model: 'sd_xl_base_1.0.safetensors',
      },
    });
  });

  it('ComfyUI graph in a zTXt chunk', async () => {
    const e = await evidenceOf('comfyui-ztxt.png');
    expect(e.findings[0]?.details).toMatchObject({ generator: 'ComfyUI', seed: '42' });
  });

  it('NovelAI: Software chunk and Comment JSON', async () => {
    const e = await evidenceOf('novelai.png');
    expect(e.findings[0]).toMatchObject({
      summary: 'NovelAI generation metadata',
      declaresAI: true,
      details: { generator: 'NovelAI', prompt: '1girl, masterpiece', steps: '28', sampler: 'k_euler_ancestral', seed: '777', cfg: '5' },
    });
  });

  it('InvokeAI: invokeai_metadata (iTXt)', async () => {
    const e = await evidenceOf('invokeai.png');
    expect(e.findings[0]).toMatchObject({
      details: { generator: 'InvokeAI', prompt: 'a lighthouse at dusk', steps: '30', seed: '99', model: 'stable-diffusion-v1-5' },
    });
  });

  it('the same text inside pixel data (an uncompressed IDAT) is not evidence', async () => {
    const bytes = readFileSync(join(dir, 'params-in-pixels.png'));
    expect(bytes.includes(Buffer.from('Sampler: DPM++ 2M Karras'))).toBe(true); // the text really is in the file
    expect(await evidenceOf('params-in-pixels.png')).toEqual({ state: 'none', findings: [], note: null });
  });

  it('a plain PNG has none', async () => {
    expect(await evidenceOf('plain.png')).toEqual({ state: 'none', findings: [], note: null });
  });
});

describe('EXIF and XMP (written by exiftool and PIL)', () => {
  it('A1111 parameters in a JPEG EXIF UserComment (UTF-16)', async () => {
    const e = await evidenceOf('a1111-exif.jpg');
    expect(e.findings[0]).toMatchObject({
      kind: 'generator-parameters',
      declaresAI: true,
      details: { sampler: 'DPM++ 2M Karras', seed: '1234567890', negativePrompt: 'blurry, lowres' },
    });
  });

  it('XMP IPTC digitalSourceType trainedAlgorithmicMedia and a generator in EXIF Software', async () => {
    const e = await evidenceOf('midjourney-xmp.jpg');
    expect(e.state).toBe('found');
    const xmp = e.findings.find((f) => f.kind === 'xmp');
    const exif = e.findings.find((f) => f.kind === 'exif');
    expect(xmp).toMatchObject({
      declaresAI: true,
      summary: 'XMP declares IPTC digital source type trainedAlgorithmicMedia',
      details: { digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia', creatorTool: 'Midjourney' },
    });
    expect(exif).toMatchObject({ declaresAI: true, details: { generator: 'Midjourney', field: 'Software' } });
  });

  it('a camera JPEG: evidence found, but no AI declaration', async () => {
    const e = await evidenceOf('camera.jpg');
    expect(e.findings).toEqual([
      {
        kind: 'exif',
        summary: 'EXIF names a camera: Canon Canon EOS 5D Mark IV',
        declaresAI: false,
        details: { camera: 'Canon Canon EOS 5D Mark IV', software: 'Firmware 1.2.0' },
      },
    ]);
  });

  it('WebP: EXIF Software (PIL) and XMP compositeWithTrainedAlgorithmicMedia (exiftool)', async () => {
    const e = await evidenceOf('firefly.webp');
    expect(e.findings.map((f) => [f.kind, f.declaresAI])).toEqual([
      ['xmp', true],
      ['exif', true],
    ]);
    expect(e.findings[0]?.details.digitalSourceType).toMatch(/compositeWithTrainedAlgorithmicMedia$/);
    expect(e.findings[1]?.details.generator).toBe('Adobe Firefly');
  });
});
