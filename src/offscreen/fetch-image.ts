// Fetches an image's bytes with the extension's host permission, the careful way:
// no cookies, no referrer, a timeout, a streamed byte cap, and a magic-byte check.

import { mimeOf, sniffImageType, type ImageType } from '../detector/sniff';
import type { FailureReason } from '../shared/protocol';
import { checkImageUrl } from '../shared/url-policy';

export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 20_000;

export class FetchFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'FetchFailure';
  }
}

export interface FetchedImage {
  blob: Blob;
  type: ImageType;
  bytes: number;
  /** Hex SHA-256 of the bytes: the cache's second key (the same picture under another URL). */
  sha256: string;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new FetchFailure('too-large', `larger than ${Math.round(maxBytes / 1048576)} MB`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export async function fetchImage(
  rawUrl: string,
  pageUrl: string,
  { maxBytes = DEFAULT_MAX_BYTES, timeoutMs = DEFAULT_TIMEOUT_MS } = {},
): Promise<FetchedImage> {
  const decision = checkImageUrl(rawUrl, pageUrl);
  if (!decision.ok) throw new FetchFailure(decision.reason, decision.detail);

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let response: Response;
    try {
      response = await fetch(decision.url, {
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        redirect: 'follow',
        signal: controller.signal,
      });
    } catch {
      throw controller.signal.aborted
        ? new FetchFailure('timeout', `no answer within ${timeoutMs / 1000} s`)
        : new FetchFailure('network', 'network error');
    }
    if (response.redirected) {
      const again = checkImageUrl(response.url, pageUrl);
      if (!again.ok) {
        await response.body?.cancel();
        throw new FetchFailure(again.reason, `redirected: ${again.detail}`);
      }
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new FetchFailure('http-error', `HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel();
      throw new FetchFailure('too-large', `larger than ${Math.round(maxBytes / 1048576)} MB`);
    }
    let bytes: Uint8Array;
    try {
      bytes = response.body ? await readCapped(response.body, maxBytes) : new Uint8Array(0);
    } catch (e) {
      if (e instanceof FetchFailure) throw e;
      throw controller.signal.aborted
        ? new FetchFailure('timeout', `no answer within ${timeoutMs / 1000} s`)
        : new FetchFailure('network', 'connection broke off');
    }
    const type = sniffImageType(bytes);
    if (!type) throw new FetchFailure('not-an-image', 'not an image');
    return {
      blob: new Blob([bytes as BlobPart], { type: mimeOf(type) }),
      type,
      bytes: bytes.byteLength,
      sha256: await sha256Hex(bytes),
    };
  } finally {
    clearTimeout(timer);
  }
}
