// A stored model's bytes for ORT, read by a worker with OPFS synchronous access handles
// (parts-read-worker.ts) instead of through Blob streams. ORT's JSPI build reads each weight as
// `blob.slice(a, b).stream()`, 1 MB at a time through the browser process; for ConvNeXt-Large that
// is 344 streams, and the engine's main thread sat idle or in the browser's own code for about 5 s
// of a 10.7 s session (the engine bench's CPU profile). Here each piece is read in the worker
// straight into one shared buffer, and handed to ORT as a view of it.
//
// ORT sees a Blob (it checks `instanceof Blob`) whose slices stream from the worker. One stream
// reads at a time (the next waits until it ends), and each chunk is a view of the shared buffer
// that stays valid until the same stream's next read: ORT copies every chunk before asking for the
// next, and a pull-driven stream (high-water mark 0) reads nothing ahead.

import type { StoredParts } from '../shared/model-store';

export type PartsReadRequest =
  | { kind: 'open'; handles: FileSystemFileHandle[]; buffer: SharedArrayBuffer }
  | { kind: 'read'; at: number; length: number }
  | { kind: 'close' };
export type PartsReadReply = { kind: 'opened' } | { kind: 'read'; bytes: number } | { kind: 'closed' } | { kind: 'error'; message: string };

/** Bytes per read (the shared buffer's size): large enough that the worker's round trips do not count, small next to the heap. */
export const PIECE_BYTES = 8 * 1024 * 1024;

class Source {
  private queue: Promise<unknown> = Promise.resolve();
  private streamLock: Promise<void> = Promise.resolve();

  constructor(
    private readonly worker: Worker,
    readonly shared: SharedArrayBuffer,
    private readonly delayMs: number,
  ) {}

  /** One request at a time; its reply is the next message. */
  ask(m: PartsReadRequest): Promise<PartsReadReply> {
    const reply = this.queue.then(
      () =>
        new Promise<PartsReadReply>((resolve, reject) => {
          this.worker.onmessage = (e: MessageEvent<PartsReadReply>) => resolve(e.data);
          this.worker.onerror = (e) => reject(new Error(`model reader failed: ${e.message}`));
          this.worker.postMessage(m);
        }),
    );
    this.queue = reply.catch(() => undefined);
    return reply;
  }

  /** Waits for the stream before it to end; the returned function ends this one's turn. */
  async turn(): Promise<() => void> {
    let release = (): void => undefined;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.streamLock;
    this.streamLock = before.then(() => mine);
    await before;
    return release;
  }

  async read(at: number, length: number): Promise<Uint8Array> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const r = await this.ask({ kind: 'read', at, length });
    if (r.kind !== 'read') throw new Error(`model file could not be read: ${r.kind === 'error' ? r.message : r.kind}`);
    return new Uint8Array(this.shared, 0, r.bytes);
  }
}

/** Bytes [start, end) of the stored file, as a Blob whose reads go through the worker. */
class PartsRange extends Blob {
  constructor(
    private readonly source: Source,
    private readonly start: number,
    private readonly end: number,
  ) {
    super();
    // Blob's own size is a getter on its prototype, reading its (empty) internal bytes.
    Object.defineProperty(this, 'size', { value: end - start });
  }

  override slice(start = 0, end: number = this.end - this.start): Blob {
    const size = this.end - this.start;
    const clamp = (i: number) => Math.min(size, Math.max(0, i < 0 ? size + i : i));
    const from = clamp(start);
    return new PartsRange(this.source, this.start + from, this.start + Math.max(from, clamp(end)));
  }

  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const { source, end } = this;
    let at = this.start;
    let release: (() => void) | null = null;
    const finish = (): void => {
      release?.();
      release = null;
    };
    return new ReadableStream<Uint8Array<ArrayBuffer>>(
      {
        async pull(controller) {
          try {
            release ??= await source.turn();
            if (at < end) {
              const n = Math.min(source.shared.byteLength, end - at);
              const chunk = await source.read(at, n);
              at += n;
              // A view of the shared buffer, valid until this stream's next read.
              controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
            }
            if (at >= end) {
              controller.close();
              finish();
            }
          } catch (e) {
            finish();
            controller.error(e);
          }
        },
        cancel: finish,
      },
      { highWaterMark: 0 },
    );
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.bytes()).buffer;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(this.end - this.start);
    let at = 0;
    const reader = this.stream().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      out.set(r.value, at);
      at += r.value.length;
    }
    return out;
  }

  override async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }
}

export interface PartsReader {
  /** The whole stored file, for ORT's external data. */
  blob: Blob;
  /** Closes the parts (the model can be removed or replaced again) and ends the worker. */
  close: () => Promise<void>;
}

/**
 * A reader of `parts` through the worker, or null where it cannot be had here (no shared memory,
 * no shared read-only access handles): the caller then gives ORT `parts.blob` as before.
 */
export async function openPartsReader(parts: StoredParts, pieceBytes = PIECE_BYTES, delayMs = 0): Promise<PartsReader | null> {
  if (typeof SharedArrayBuffer !== 'function' || !crossOriginIsolated || parts.handles.length === 0) return null;
  const worker = new Worker(new URL('./parts-read-worker.ts', import.meta.url), { type: 'module' });
  const source = new Source(worker, new SharedArrayBuffer(pieceBytes), delayMs);
  const opened = await source.ask({ kind: 'open', handles: parts.handles, buffer: source.shared }).catch((e: unknown) => ({ kind: 'error' as const, message: String(e) }));
  const close = async (): Promise<void> => {
    await source.ask({ kind: 'close' }).catch(() => undefined);
    worker.terminate();
  };
  if (opened.kind !== 'opened') {
    await close();
    return null;
  }
  return { blob: new PartsRange(source, 0, parts.blob.size), close };
}
