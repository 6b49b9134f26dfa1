// A response body read chunk by chunk, for the downloads that store what they receive (converted
// models, checkpoints). A dropped connection becomes the caller's own error, knowing how far it
// got; a reader that stops early (an error of its own, a file larger than promised) cancels the body.

export async function* responseChunks(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
  dropped: (cause: unknown, received: number) => Error,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let received = 0;
  let ended = false;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        ended = true;
        if (signal.aborted) throw e;
        throw dropped(e, received);
      }
      if (r.done) {
        ended = true;
        return;
      }
      received += r.value.length;
      yield r.value;
    }
  } finally {
    if (!ended) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
