// One image in two steps, so the background can consult its cache by content hash in between:
// fetchAndHold() downloads and hashes the bytes and keeps them under a token; judgeHeld() decodes,
// preprocesses, infers, scores and makes the history thumbnail.

import { preprocessImage } from '../detector/preprocess';
import { readEvidence, type MetadataScan } from '../detector/provenance';
import { scoreLogits } from '../detector/scores';
import type { EngineOptions } from '../shared/protocol/shapes';
import type { FetchReply, JudgeReply } from '../shared/protocol/offscreen';
import { DecodeError, decodeImage } from './decode';
import { evidenceOptions } from './c2pa-validator';
import type { Engine } from './engine';
import { FetchFailure, fetchImage, type FetchManner } from './fetch-image';
import { makeThumbnail } from './thumbnail';

/** Bytes wait this long for the background's decision, and no more than this many at once. */
const HOLD_MS = 60_000;
const MAX_HELD = 64;

interface Held {
  blob: Blob;
  /** The file's metadata payloads, read into provenance evidence while the model runs. */
  metadata: MetadataScan;
  timer: ReturnType<typeof setTimeout>;
}
const held = new Map<string, Held>();

function newToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function release(token: string): void {
  const h = held.get(token);
  if (!h) return;
  clearTimeout(h.timer);
  held.delete(token);
}

export async function fetchAndHold(
  engine: Engine,
  url: string,
  pageUrl: string,
  options: EngineOptions,
  manner: FetchManner = {},
): Promise<FetchReply> {
  // Load the model while the image downloads (most fetches end in an inference).
  void engine.ensureLoaded(options).catch(() => undefined);
  const done = engine.hold(options);
  try {
    const fetched = await fetchImage(url, pageUrl, {}, manner);
    if ('notModified' in fetched) return { ok: true, notModified: true, validators: fetched.validators };
    if (held.size >= MAX_HELD) {
      const oldest = held.keys().next().value;
      if (oldest !== undefined) release(oldest);
    }
    const token = newToken();
    held.set(token, { blob: fetched.blob, metadata: fetched.metadata, timer: setTimeout(() => release(token), HOLD_MS) });
    return { ok: true, token, sha256: fetched.sha256, bytes: fetched.bytes, validators: fetched.validators };
  } catch (e) {
    if (e instanceof FetchFailure) return { ok: false, reason: e.reason, detail: e.detail, ...(e.status === undefined ? {} : { status: e.status }) };
    return { ok: false, reason: 'network', detail: e instanceof Error ? e.message : String(e) };
  } finally {
    done();
  }
}

export async function judgeHeld(engine: Engine, token: string, minSide: number, options: EngineOptions): Promise<JudgeReply> {
  const h = held.get(token);
  if (!h) return { ok: false, reason: 'model-error', detail: 'image bytes no longer held', tokenLost: true };
  release(token);
  const done = engine.hold(options);
  // Provenance is read alongside the model; it never throws and never affects the score.
  const evidence = readEvidence(h.metadata, evidenceOptions(h.metadata, h.blob));
  try {
    // Decoded while the model may still be loading: the first verdicts then wait for the load and
    // their inference only.
    const image = await decodeImage(h.blob);
    if (Math.min(image.width, image.height) < minSide) {
      return { ok: false, reason: 'too-small', detail: `${image.width}x${image.height} px` };
    }
    // Made before the inference, so the reply goes out as soon as the logits are known: the next
    // batch's inference holds this thread, and the thumbnail's encoding needs it.
    const thumbnail = await makeThumbnail(image).catch(() => null);
    // Prepared for the model while it may still load, so its inference can start once it is ready.
    const input = preprocessImage(image, (await engine.chosenManifest(options)).preprocessing);
    const { logits, backend, manifest, chosenId } = await engine.infer(input, options);
    const { pGenerated } = scoreLogits(logits, manifest);
    if (!Number.isFinite(pGenerated)) {
      return { ok: false, reason: 'model-error', detail: 'model returned no usable score' };
    }
    return { ok: true, pGenerated, logits: Array.from(logits), backend, modelId: chosenId, thumbnail, evidence: await evidence };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, reason: 'undecodable', detail: e.message };
    return { ok: false, reason: 'model-error', detail: e instanceof Error ? e.message : String(e) };
  } finally {
    done();
  }
}
