// describeEvidence(): the words shown for provenance evidence (popup history, badge card), and the
// protocol's validation of evidence, which must drop bad evidence without costing the verdict.

import { describe, expect, it } from 'vitest';
import { describeEvidence } from '../../src/shared/evidence-text';
import { parseBackgroundToContent } from '../../src/shared/protocol/content';
import { parseEvidence } from '../../src/shared/protocol/shapes';
import type { Evidence, EvidenceFinding } from '../../src/detector/provenance/evidence';

const c2pa = (details: Record<string, string>, declaresAI = true): EvidenceFinding => ({ kind: 'c2pa', summary: 'C2PA Content Credentials', declaresAI, details });
const found = (...findings: EvidenceFinding[]): Evidence => ({ state: 'found', findings, note: null });

describe('describeEvidence', () => {
  it('a validated C2PA AI declaration names its signer (common name only)', () => {
    const t = describeEvidence(found(c2pa({ validation: 'valid', signer: 'Firefly Signer (Adobe Inc.)', claimGenerator: 'Adobe Firefly' })));
    expect(t?.label).toBe('Declared AI-generated (C2PA, signed by Firefly Signer)');
    expect(t?.declaresAI).toBe(true);
    expect(t?.text).toContain('signer: Firefly Signer (Adobe Inc.)');
    expect(t?.text).toContain('not checked against a trust list');
  });

  it('unvalidated and invalid C2PA say so', () => {
    expect(describeEvidence(found(c2pa({ validation: 'not validated', claimGenerator: 'GPT-4o' })))?.label).toBe('Declared AI-generated (C2PA, by GPT-4o, not validated)');
    expect(describeEvidence(found(c2pa({ validation: 'invalid', signer: 'X' })))?.label).toBe('Declared AI-generated (C2PA, signature invalid)');
    expect(describeEvidence(found(c2pa({ validation: 'trusted', signer: 'Leica Camera AG' }, false)))?.label).toBe('Content Credentials (C2PA, signed by Leica Camera AG)');
  });

  it('generator parameters name the sampler; an AI declaration outranks camera metadata', () => {
    const params: EvidenceFinding = { kind: 'generator-parameters', summary: 'Stable Diffusion parameters (AUTOMATIC1111 / Forge)', declaresAI: true, details: { generator: 'AUTOMATIC1111 / Forge', sampler: 'Euler a', seed: '1' } };
    const camera: EvidenceFinding = { kind: 'exif', summary: 'EXIF names a camera: Canon', declaresAI: false, details: { camera: 'Canon' } };
    expect(describeEvidence(found(camera, params))?.label).toBe('Stable Diffusion parameters found (sampler Euler a)');
    expect(describeEvidence(found(camera))?.label).toBe('Camera metadata: Canon (unverified)');
    const comfy: EvidenceFinding = { kind: 'generator-parameters', summary: 'ComfyUI workflow', declaresAI: true, details: { generator: 'ComfyUI', model: 'sdxl.safetensors' } };
    expect(describeEvidence(found(comfy))?.label).toBe('ComfyUI metadata found (model sdxl.safetensors)');
  });

  it('none, unreadable, and absent evidence', () => {
    expect(describeEvidence({ state: 'none', findings: [], note: null })?.label).toBe('No provenance metadata');
    const bad = describeEvidence({ state: 'unreadable', findings: [], note: 'too many chunks' });
    expect(bad?.label).toBe("Couldn't read credentials");
    expect(bad?.text).toContain('too many chunks');
    expect(describeEvidence(undefined)).toBeNull();
  });
});

describe('evidence in the protocol', () => {
  const verdict = { status: 'done', pGenerated: 0.5, threshold: 0.5, model: { id: 'm', name: 'M', fixture: true }, fromCache: false };
  const msg = (evidence: unknown) => parseBackgroundToContent({ kind: 'verdict', requestId: 'r', url: 'https://x/a.png', verdict: { ...verdict, evidence } });

  it('valid evidence travels with the verdict', () => {
    const e = found(c2pa({ validation: 'valid' }));
    expect(msg(e)).toMatchObject({ verdict: { evidence: e } });
  });

  it('malformed evidence is dropped, the verdict kept', () => {
    const bad = [
      { state: 'maybe', findings: [], note: null },
      { state: 'found', findings: [{ kind: 'rumour', summary: 's', details: {}, declaresAI: true }], note: null },
      { state: 'found', findings: [c2pa({ k: 'x'.repeat(501) })], note: null },
      { state: 'found', findings: new Array(9).fill(c2pa({})), note: null },
      { state: 'found', findings: [{ ...c2pa({}), details: { n: 1 } }], note: null },
    ];
    for (const e of bad) {
      expect(parseEvidence(e)).toBeNull();
      const m = msg(e);
      expect(m?.kind === 'verdict' && m.verdict.status === 'done' && !('evidence' in m.verdict)).toBe(true);
    }
  });
});
