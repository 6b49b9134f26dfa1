// DevTools protocol calls on the extension's own targets (the service worker, the offscreen
// document), which Playwright does not hand out as pages: attached through the browser session.

import type { CDPSession } from 'playwright-core';

export interface TargetInfo {
  targetId: string;
  type: string;
  url: string;
}

type Send = (method: string, params?: object) => Promise<unknown>;

export async function listTargets(browserCdp: CDPSession): Promise<TargetInfo[]> {
  const { targetInfos } = (await (browserCdp.send as Send)('Target.getTargets')) as { targetInfos: TargetInfo[] };
  return targetInfos;
}

/** A DevTools session on one target, attached in non-flat mode, kept until `detach`. */
export interface TargetSession {
  call: (method: string, params?: object) => Promise<unknown>;
  detach: () => Promise<void>;
}

export async function attachTo(browserCdp: CDPSession, targetId: string): Promise<TargetSession> {
  const send = browserCdp.send.bind(browserCdp) as Send;
  const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: false })) as { sessionId: string };
  const waiting = new Map<number, (m: { result?: unknown; error?: { message: string } }) => void>();
  const onMessage = (e: { sessionId: string; message: string }): void => {
    if (e.sessionId !== sessionId) return;
    const m = JSON.parse(e.message) as { id?: number; result?: unknown; error?: { message: string } };
    if (m.id !== undefined) waiting.get(m.id)?.(m);
  };
  const events = browserCdp as unknown as { on(ev: string, f: typeof onMessage): void; off(ev: string, f: typeof onMessage): void };
  events.on('Target.receivedMessageFromTarget', onMessage);
  let id = 0;
  return {
    async call(method, params = {}) {
      const callId = ++id;
      const reply = await new Promise<{ result?: unknown; error?: { message: string } }>((resolve, reject) => {
        waiting.set(callId, resolve);
        send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: callId, method, params }) }).catch(reject);
      });
      waiting.delete(callId);
      if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
      return reply.result;
    },
    async detach() {
      events.off('Target.receivedMessageFromTarget', onMessage);
      await send('Target.detachFromTarget', { sessionId }).catch(() => undefined);
    },
  };
}

/** Runs `calls` in order on one target, returning their results. */
export async function onTarget(
  browserCdp: CDPSession,
  targetId: string,
  calls: Array<{ method: string; params?: object }>,
): Promise<unknown[]> {
  const target = await attachTo(browserCdp, targetId);
  try {
    const results: unknown[] = [];
    for (const c of calls) results.push(await target.call(c.method, c.params));
    return results;
  } finally {
    await target.detach();
  }
}

/** JS heap in use on a target after a full garbage collection (bytes). */
export async function heapAfterGc(browserCdp: CDPSession, targetId: string): Promise<number> {
  const [, , usage] = await onTarget(browserCdp, targetId, [
    { method: 'HeapProfiler.enable' },
    { method: 'HeapProfiler.collectGarbage' },
    { method: 'Runtime.getHeapUsage' },
  ]);
  return (usage as { usedSize: number }).usedSize;
}
