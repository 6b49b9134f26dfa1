// C2PA manifests made at test time by @trustnxt/c2pa-ts (see test/support/c2pa.ts), read by the
// extension's own JUMBF/CBOR reader: claim generator and digital source type, unvalidated.
// The signature itself is checked by the official library in the browser (test/e2e/provenance).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JPEG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { DigitalSourceType, ManifestStore } from '@trustnxt/c2pa-ts/manifest';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectMetadata, readEvidence } from '../../src/detector/provenance';
import { parseEvidence } from '../../src/shared/protocol/shapes';
import { signWithC2pa, TEST_CLAIM_GENERATOR } from '../support/c2pa';
import { PYTHON, REPO } from '../support/python';

let plainJpeg: Uint8Array;
let plainPng: Uint8Array;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'rfl-c2pa-'));
  execFileSync(PYTHON, [join(REPO, 'tools/provenance_fixtures.py'), dir], { stdio: 'pipe' });
  plainJpeg = new Uint8Array(readFileSync(join(dir, 'plain.jpg')));
  plainPng = new Uint8Array(readFileSync(join(dir, 'plain.png')));
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('C2PA manifest store in JPEG APP11 and PNG caBX (signed by c2pa-ts)', () => {
  it('the writer itself validates what it wrote (the fixture is sound)', async () => {
    const signed = await signWithC2pa(plainJpeg);
    const asset = new JPEG(signed);
    const store = ManifestStore.read(SuperBox.fromBuffer(asset.getManifestJUMBF() as Uint8Array<ArrayBuffer>));
    const result = await store.validate(asset);
    const failures = result.statusEntries.filter((s) => !s.success).map((s) => s.code);
    // Only trust can fail: the test CA is on no trust list.
    expect(failures.filter((c) => !/untrusted|Untrusted/.test(c))).toEqual([]);
  });

  it('reads the claim generator and trainedAlgorithmicMedia, marked "not validated"', async () => {
    const signed = await signWithC2pa(plainJpeg);
    const scan = collectMetadata(signed);
    expect(scan.error).toBeNull();
    expect(scan.items.map((i) => i.where)).toEqual([expect.stringMatching(/^JPEG APP11 JUMBF #\d+$/)]);
    const e = await readEvidence(scan);
    expect(parseEvidence(e)).toEqual(e);
    expect(e.state).toBe('found');
    expect(e.findings).toHaveLength(1);
    expect(e.findings[0]).toMatchObject({
      kind: 'c2pa',
      declaresAI: true,
      details: {
        claimGenerator: `${TEST_CLAIM_GENERATOR} 1.0`,
        digitalSourceType: DigitalSourceType.TrainedAlgorithmicMedia,
        softwareAgent: 'Test Diffusion',
        validation: 'not validated',
        manifests: '1',
      },
    });
  });

  it('the same manifest in a PNG caBX chunk', async () => {
    const scan = collectMetadata(await signWithC2pa(plainPng));
    expect(scan.items.map((i) => i.where)).toEqual(['PNG caBX']);
    const e = await readEvidence(scan);
    expect(e.findings[0]).toMatchObject({ kind: 'c2pa', declaresAI: true, details: { claimGenerator: `${TEST_CLAIM_GENERATOR} 1.0` } });
  });

  it('a camera capture declared in C2PA is evidence, but no AI declaration', async () => {
    const signed = await signWithC2pa(plainJpeg, DigitalSourceType.DigitalCapture);
    const e = await readEvidence(collectMetadata(signed));
    expect(e.findings[0]).toMatchObject({ kind: 'c2pa', declaresAI: false, details: { digitalSourceType: DigitalSourceType.DigitalCapture } });
  });
});
