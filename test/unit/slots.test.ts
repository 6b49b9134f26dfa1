// The slots a step many jobs share: first come, first served, bounded overall (decoding and
// inference in the offscreen document) and per key (a page's downloads).

import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/shared/slots';
import { deferred } from '../support/deferred';

describe('Slots', () => {
  it('runs at most `overall` calls at once, first come first served, and frees a slot when one fails', async () => {
    const slots = new Slots(2);
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const holds = new Map<string, ReturnType<typeof deferred<void>>>();
    const call = (name: string, fail = false) =>
      slots.run(async () => {
        started.push(name);
        running++;
        most = Math.max(most, running);
        const hold = deferred<void>();
        holds.set(name, hold);
        await hold.promise;
        running--;
        if (fail) throw new Error(name);
        return name;
      });
    const a = call('a', true);
    const b = call('b');
    const c = call('c');
    const d = call('d');
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    holds.get('a')?.resolve();
    await expect(a).rejects.toThrow('a');
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual(['a', 'b', 'c']);
    holds.get('b')?.resolve();
    holds.get('c')?.resolve();
    await expect(b).resolves.toBe('b');
    await expect(c).resolves.toBe('c');
    await new Promise((r) => setTimeout(r, 0));
    holds.get('d')?.resolve();
    await expect(d).resolves.toBe('d');
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(most).toBe(2);
    // Every slot was given back, and no more than that: of three new calls, two start at once.
    const e = call('e');
    const f = call('f');
    const g = call('g');
    await Promise.resolve();
    expect(started.slice(4)).toEqual(['e', 'f']);
    holds.get('e')?.resolve();
    holds.get('f')?.resolve();
    await Promise.all([e, f]);
    await new Promise((r) => setTimeout(r, 0));
    holds.get('g')?.resolve();
    await g;
    expect(most).toBe(2);
  });

  it('runs at most the overall and per-page number at once, and lets the others in as slots free up', async () => {
    const slots = new Slots(3, 2);
    const started: string[] = [];
    const releases: Array<() => void> = [];
    const ask = (key: string): void => {
      void slots.acquire(key).then((release) => {
        started.push(key);
        releases.push(release);
      });
    };
    for (const k of ['a', 'a', 'a', 'b', 'b', 'c']) ask(k);
    await Promise.resolve();
    await Promise.resolve();
    // Page a gets two, b the third; the third a waits although it asked before b.
    expect(started).toEqual(['a', 'a', 'b']);
    expect(slots.active()).toBe(3);
    releases[0]?.();
    releases[0]?.(); // a second release of the same slot changes nothing
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual(['a', 'a', 'b', 'a']);
    expect(slots.active()).toBe(3);
    for (let i = 1; i < 6; i++) {
      releases[i]?.();
      await Promise.resolve();
      await Promise.resolve();
    }
    expect(started.sort()).toEqual(['a', 'a', 'a', 'b', 'b', 'c']);
  });
});
