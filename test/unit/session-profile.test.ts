// The engine bench's split of session creation from a CPU profile (bench/session-profile.ts),
// on a hand-written WebAssembly module and a hand-written profile.

import { describe, expect, it } from 'vitest';
import { sessionSplit, wasmExportIndex, type CpuProfile } from '../../bench/session-profile';

/**
 * (module (import "env" "f" (func)) (func (result i32) i32.const 7) (func (result i32) i32.const 42)
 *   (export "seven" (func 1)) (export "answer" (func 2)))
 */
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // types: () -> (), () -> i32
  0x01, 0x08, 0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x01, 0x7f,
  // import env.f: func of type 0
  0x02, 0x09, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x66, 0x00, 0x00,
  // two functions of type 1
  0x03, 0x03, 0x02, 0x01, 0x01,
  // exports
  0x07, 0x12, 0x02, 0x05, 0x73, 0x65, 0x76, 0x65, 0x6e, 0x00, 0x01, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x00, 0x02,
  // code
  0x0a, 0x0b, 0x02, 0x04, 0x00, 0x41, 0x07, 0x0b, 0x04, 0x00, 0x41, 0x2a, 0x0b,
]);

describe('wasmExportIndex', () => {
  it('finds an export by name in the function index space, imports first', async () => {
    const { instance } = await WebAssembly.instantiate(MODULE, { env: { f: () => undefined } });
    expect((instance.exports.answer as () => number)()).toBe(42);
    expect(wasmExportIndex(MODULE, 'answer')).toBe(2);
    expect(wasmExportIndex(MODULE, 'seven')).toBe(1);
    expect(() => wasmExportIndex(MODULE, 'missing')).toThrow(/no exported function/);
  });
});

describe('sessionSplit', () => {
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });
  // root > create (wasm 9) > fill (wasm 4), root > create > plan (wasm 5), root > loader JS, idle, program, GC; and wasm 4 outside create.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 6, 7, 8, 9, 10] },
      { id: 2, callFrame: frame('wasm-function[9]'), children: [3, 4] },
      { id: 3, callFrame: frame('wasm-function[4]') },
      { id: 4, callFrame: frame('wasm-function[5]') },
      { id: 6, callFrame: frame('', 'chrome-extension://x/assets/ort-wasm-simd-threaded.jspi-AbC.mjs') },
      { id: 7, callFrame: frame('(idle)') },
      { id: 8, callFrame: frame('(program)') },
      { id: 9, callFrame: frame('(garbage collector)') },
      { id: 10, callFrame: frame('wasm-function[4]') },
    ],
    // Each sample stands for the time to the next: 1 ms steps, in microseconds.
    samples: [10, 3, 3, 6, 7, 4, 3, 8, 9, 2, 10, 10],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };

  it('splits the time between the first and the last sample inside the session', () => {
    const s = sessionSplit(profile, 9);
    expect(s.windowMs).toBe(8); // samples 1 to 9
    expect(s.busiest).toEqual({ index: 4, ms: 3 });
    expect(s.ortRestMs).toBe(2); // wasm 5 and create itself
    expect(s.loaderMs).toBe(1);
    expect(s.idleMs).toBe(1);
    expect(s.programMs).toBe(1);
    expect(s.gcMs).toBe(1);
    expect(s.otherMs).toBe(0);
  });

  it('refuses a profile in which the session never ran', () => {
    expect(() => sessionSplit(profile, 77)).toThrow(/no sample inside/);
  });
});
