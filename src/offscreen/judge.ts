// One image from URL to verdict: fetch, decode, preprocess, infer, score.

import { preprocess } from '../detector/preprocess';
import { softmax } from '../detector/scores';
import type { EngineOptions, JudgeReply } from '../shared/protocol';
import { DecodeError, decodeImage } from './decode';
import type { Engine } from './engine';
import { FetchFailure, fetchImage } from './fetch-image';

export async function judgeUrl(engine: Engine, url: string, pageUrl: string, options: EngineOptions): Promise<JudgeReply> {
  try {
    // Load the model while the image downloads.
    const model = engine.ensureLoaded(options);
    const fetched = await fetchImage(url, pageUrl);
    const image = await decodeImage(fetched.blob);
    const { manifest } = await model;
    const input = preprocess(image.rgba, image.width, image.height, manifest.preprocessing);
    const { logits, backend } = await engine.infer(input, 1, options);
    const probabilities = softmax(Array.from(logits));
    const pGenerated = probabilities[manifest.generatedIndex];
    if (pGenerated === undefined || !Number.isFinite(pGenerated)) {
      return { ok: false, reason: 'model-error', detail: 'model returned no usable score' };
    }
    return { ok: true, pGenerated, logits: Array.from(logits), backend };
  } catch (e) {
    if (e instanceof FetchFailure) return { ok: false, reason: e.reason, detail: e.detail };
    if (e instanceof DecodeError) return { ok: false, reason: 'undecodable', detail: e.message };
    return { ok: false, reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  }
}
