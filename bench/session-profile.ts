// Where the engine's session creation goes: a CPU profile (DevTools sampling profiler, 1 ms) of the
// offscreen document's main thread over one cold load, its samples split by what ran while ORT's
// OrtCreateSession was on the stack. ORT's release binary has no function names, so the session's
// window is found by that export's index in the binary the build packs, and its busiest function
// is printed by index beside an estimate the reader can compare it with.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CDPSession } from 'playwright-core';
import type { ExtensionSession } from '../test/support/chrome';
import { fromExtensionPage } from '../test/support/contexts';
import { attachTo, listTargets } from '../test/support/targets';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The function index of export `name` in a WebAssembly binary (the index V8's profiles name it by). */
export function wasmExportIndex(bytes: Uint8Array, name: string): number {
  let at = 8;
  const leb = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++] as number;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  const text = (): string => {
    const n = leb();
    at += n;
    return new TextDecoder().decode(bytes.subarray(at - n, at));
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const exported = text();
        const kind = bytes[at++];
        const index = leb();
        if (kind === 0 && exported === name) return index;
      }
    }
    at = end;
  }
  throw new Error(`no exported function ${name}`);
}

/** The index of OrtCreateSession in the JSPI build of ORT that `dist` packs. */
export function createSessionIndex(dist: string): number {
  const assets = join(dist, 'assets');
  const wasm = readdirSync(assets).find((f) => /^ort-wasm-simd-threaded\.jspi.*\.wasm$/.test(f));
  if (!wasm) throw new Error(`no ORT JSPI binary in ${assets}`);
  return wasmExportIndex(readFileSync(join(assets, wasm)), 'OrtCreateSession');
}

/**
 * Opens the offscreen document (as the service worker would for the next picture) and starts the
 * sampling profiler on it; the returned function stops it and hands back the profile.
 */
export async function profileOffscreen(ext: ExtensionSession, browserCdp: CDPSession): Promise<() => Promise<CpuProfile>> {
  const path = 'src/offscreen/index.html';
  await (await ext.serviceWorker()).evaluate(
    (url) => chrome.offscreen.createDocument({ url, reasons: [chrome.offscreen.Reason.WORKERS], justification: 'bench: CPU profile of a cold load' }),
    path,
  );
  const target = (await listTargets(browserCdp)).find((t) => t.url === `chrome-extension://${ext.extensionId}/${path}`);
  if (!target) throw new Error('the offscreen document has no DevTools target');
  const session = await attachTo(browserCdp, target.targetId);
  await session.call('Profiler.enable');
  await session.call('Profiler.setSamplingInterval', { interval: 1000 });
  await session.call('Profiler.start');
  return async () => {
    try {
      return ((await session.call('Profiler.stop')) as { profile: CpuProfile }).profile;
    } finally {
      await session.detach();
    }
  };
}

/**
 * What a WebAssembly heap of `bytes` costs to touch for the first time in an extension page (the
 * engine's kind of process), ms, median of 3: every cold load writes the weights into such a heap.
 */
export async function freshHeapMs(ext: ExtensionSession, bytes: number): Promise<number> {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    runs.push(
      await fromExtensionPage<number>(
        ext,
        `(bytes) => {
          const pages = Math.ceil(bytes / 65536);
          const memory = new WebAssembly.Memory({ initial: 1, maximum: pages + 1, shared: true });
          const t0 = performance.now();
          memory.grow(pages);
          const heap = new Uint8Array(memory.buffer);
          for (let i = 0; i < heap.length; i += 4096) heap[i] = 1;
          return performance.now() - t0;
        }`,
        bytes,
      ),
    );
  }
  return runs.sort((a, b) => a - b)[1] as number;
}

export interface SessionSplit {
  /** From the first to the last sample with OrtCreateSession on the stack, ms. */
  windowMs: number;
  /** The wasm function (by index) with the most self time under OrtCreateSession, and that time. */
  busiest: { index: number; ms: number };
  /** The rest of ORT's session code in WebAssembly (graph, optimisation, allocation plan), ms. */
  ortRestMs: number;
  /** ORT's JavaScript that reads each weight from the Blob and copies it into the heap, ms. */
  loaderMs: number;
  /** The main thread idle: awaiting a weight's read (JSPI suspends the session meanwhile), ms. */
  idleMs: number;
  /** The browser's own native code on this thread (blob reading, messages), ms. */
  programMs: number;
  gcMs: number;
  otherMs: number;
}

const WASM_FUNCTION = /^wasm-function\[(\d+)\]$/;

export function sessionSplit(profile: CpuProfile, createSession: number): SessionSplit {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inSession = new Map<number, boolean>();
  const underCreate = (id: number): boolean => {
    let hit = inSession.get(id);
    if (hit === undefined) {
      const fn = byId.get(id)?.callFrame.functionName ?? '';
      const up = parent.get(id);
      hit = fn === `wasm-function[${createSession}]` || (up !== undefined && underCreate(up));
      inSession.set(id, hit);
    }
    return hit;
  };
  // Sample i was taken at the sum of the deltas up to it; it stands for the time to the next one.
  const times: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) times.push((t += d));
  const marked = profile.samples.flatMap((id, i) => (underCreate(id) ? [times[i] as number] : []));
  if (marked.length === 0) throw new Error('no sample inside OrtCreateSession');
  const from = Math.min(...marked);
  const to = Math.max(...marked);
  const split = { ortMs: 0, loaderMs: 0, idleMs: 0, programMs: 0, gcMs: 0, otherMs: 0 };
  const selfByWasm = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const at = times[i] as number;
    if (at < from || at > to) return;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const { functionName, url } = (byId.get(id) as ProfileNode).callFrame;
    const wasm = WASM_FUNCTION.exec(functionName);
    if (wasm && underCreate(id)) {
      split.ortMs += ms;
      selfByWasm.set(Number(wasm[1]), (selfByWasm.get(Number(wasm[1])) ?? 0) + ms);
    } else if (/\/ort-wasm-simd-threaded\.jspi[^/]*\.mjs$/.test(url)) split.loaderMs += ms;
    else if (functionName === '(idle)') split.idleMs += ms;
    else if (functionName === '(program)') split.programMs += ms;
    else if (functionName === '(garbage collector)') split.gcMs += ms;
    else split.otherMs += ms;
  });
  const [index, ms] = [...selfByWasm].sort((a, b) => b[1] - a[1])[0] as [number, number];
  const { ortMs, ...rest } = split;
  return { windowMs: (to - from) / 1000, busiest: { index, ms }, ortRestMs: ortMs - ms, ...rest };
}
