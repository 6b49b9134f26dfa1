import { describe, expect, it } from 'vitest';
import { CancelledError, JobQueue, ShedError } from '../../src/background/job-queue';
import { parseBackgroundToContent } from '../../src/shared/protocol/content';
import { deferred } from '../support/deferred';

describe('JobQueue', () => {
  it('runs at most `concurrency` jobs, most urgent first, FIFO within a priority', async () => {
    const q = new JobQueue(1);
    const order: string[] = [];
    const gate = deferred<void>();
    const first = q.run('a', 'rest', 1, async () => {
      order.push('a');
      await gate.promise;
    });
    const jobs = [
      q.run('r1', 'rest', 1, async () => void order.push('r1')),
      q.run('n1', 'near', 1, async () => void order.push('n1')),
      q.run('v1', 'visible', 1, async () => void order.push('v1')),
      q.run('v2', 'visible', 1, async () => void order.push('v2')),
      q.run('m1', 'menu', 1, async () => void order.push('m1')),
    ];
    expect(q.size).toEqual({ waiting: 5, running: 1 });
    gate.resolve();
    await Promise.all([first, ...jobs]);
    expect(order).toEqual(['a', 'm1', 'v1', 'v2', 'n1', 'r1']);
  });

  it('runs one task per key and gives every caller its result', async () => {
    const q = new JobQueue(2);
    let runs = 0;
    const work = async () => ++runs;
    const [x, y] = await Promise.all([q.run('k', 'visible', 1, work), q.run('k', 'visible', 2, work)]);
    expect([x, y, runs]).toEqual([1, 1, 1]);
    expect(await q.run('k', 'visible', 1, work)).toBe(2); // done work is not remembered here
  });

  it('moves a shared task up when a more urgent request joins it', async () => {
    const q = new JobQueue(1);
    const order: string[] = [];
    const gate = deferred<void>();
    const busy = q.run('busy', 'visible', 1, () => gate.promise);
    const a = q.run('a', 'near', 1, async () => void order.push('a'));
    const b = q.run('b', 'rest', 1, async () => void order.push('b'));
    void q.run('b', 'menu', 2, async () => void order.push('never'));
    gate.resolve();
    await Promise.all([busy, a, b]);
    expect(order).toEqual(['b', 'a']);
  });

  it('cancels waiting work only when every tab that wanted it is gone', async () => {
    const q = new JobQueue(1);
    const gate = deferred<void>();
    const busy = q.run('busy', 'visible', 1, () => gate.promise);
    const onlyTab1 = q.run('x', 'visible', 1, async () => 'x');
    const sharedTab1 = q.run('y', 'visible', 1, async () => 'y');
    const sharedTab2 = q.run('y', 'visible', 2, async () => 'y');
    expect(q.cancelTab(1)).toBe(1);
    await expect(onlyTab1).rejects.toBeInstanceOf(CancelledError);
    // Tab 1 stopped waiting for "y", tab 2 still gets it.
    await expect(sharedTab1).rejects.toBeInstanceOf(CancelledError);
    gate.resolve();
    await busy;
    await expect(sharedTab2).resolves.toBe('y');
  });

  it('withdraws one request alone, and a tab closing withdraws all of its requests', async () => {
    const q = new JobQueue(1);
    const gate = deferred<void>();
    const busy = q.run('busy', 'visible', 1, () => gate.promise);
    const far = q.run('far', 'near', '1/doc/r1', async () => 'far');
    const kept = q.run('kept', 'near', '1/doc/r2', async () => 'kept');
    const sharedA = q.run('shared', 'near', '1/doc/r3', async () => 'shared');
    const sharedB = q.run('shared', 'near', '2/doc/r9', async () => 'shared');
    expect(q.cancelOwners(['1/doc/r1', '1/doc/r3', '1/doc/nope'])).toBe(1);
    await expect(far).rejects.toBeInstanceOf(CancelledError);
    expect(q.size.waiting).toBe(2);
    expect(q.cancelTab(1)).toBe(1); // "kept" had only tab 1's request; "shared" still has tab 2's
    await expect(kept).rejects.toBeInstanceOf(CancelledError);
    expect(q.cancelTab(11)).toBe(0); // tab 11 is not tab 1
    gate.resolve();
    await busy;
    await expect(sharedA).rejects.toBeInstanceOf(CancelledError); // withdrawn: not answered
    await expect(sharedB).resolves.toBe('shared');
  });
});

describe('JobQueue limits', () => {
  /** A queue whose one worker is held busy, so everything else waits. */
  function blocked(limits: { waiting: number; perTab: number }) {
    const q = new JobQueue(1, limits);
    const gate = deferred<void>();
    const busy = q.run('busy', 'menu', 99, () => gate.promise);
    return { q, gate, busy };
  }
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      (v) => `done:${String(v)}`,
      (e: unknown) => (e instanceof ShedError ? 'shed' : e instanceof CancelledError ? 'cancelled' : `error:${String(e)}`),
    );

  it('sheds off-screen work first when over the overall cap, never visible work while off-screen work waits', async () => {
    const { q, gate, busy } = blocked({ waiting: 3, perTab: 100 });
    const runs: string[] = [];
    const job = (k: string) => async () => void runs.push(k);
    const n1 = outcome(q.run('n1', 'near', '1/d/n1', job('n1')));
    const v1 = outcome(q.run('v1', 'visible', '1/d/v1', job('v1')));
    const r1 = outcome(q.run('r1', 'rest', '2/d/r1', job('r1')));
    expect(q.size.waiting).toBe(3);
    const n2 = outcome(q.run('n2', 'near', '2/d/n2', job('n2'))); // 4 > 3: the rest of the page (r1) goes
    expect(q.size.waiting).toBe(3);
    const v2 = outcome(q.run('v2', 'visible', '1/d/v2', job('v2'))); // then the oldest near (n1)
    const v3 = outcome(q.run('v3', 'visible', '1/d/v3', job('v3'))); // then n2
    expect(q.size.waiting).toBe(3);
    expect(q.shed).toBe(3);
    gate.resolve();
    await busy;
    expect(await Promise.all([n1, r1, n2, v1, v2, v3])).toEqual(['shed', 'shed', 'shed', 'done:undefined', 'done:undefined', 'done:undefined']);
    expect(runs).toEqual(['v1', 'v2', 'v3']);
  });

  it('sheds the rest of the page before work near the viewport, however old', async () => {
    const { q, gate, busy } = blocked({ waiting: 2, perTab: 100 });
    const n1 = outcome(q.run('n1', 'near', '1/d/n1', async () => 'n1'));
    const r1 = outcome(q.run('r1', 'rest', '1/d/r1', async () => 'r1'));
    const n2 = outcome(q.run('n2', 'near', '1/d/n2', async () => 'n2'));
    expect(q.shed).toBe(1);
    gate.resolve();
    await busy;
    expect(await Promise.all([n1, r1, n2])).toEqual(['done:n1', 'shed', 'done:n2']);
  });

  it('sheds visible work only when nothing off-screen is left, and never a right-click', async () => {
    const { q, gate, busy } = blocked({ waiting: 2, perTab: 100 });
    const m1 = outcome(q.run('m1', 'menu', 1, async () => 'm1'));
    const v1 = outcome(q.run('v1', 'visible', '1/d/v1', async () => 'v1'));
    const v2 = outcome(q.run('v2', 'visible', '1/d/v2', async () => 'v2')); // the oldest visible (v1) goes
    const m2 = outcome(q.run('m2', 'menu', 1, async () => 'm2')); // v2 goes; right-clicks stay
    const m3 = outcome(q.run('m3', 'menu', 1, async () => 'm3')); // only right-clicks: over the cap, kept
    expect(q.size.waiting).toBe(3);
    gate.resolve();
    await busy;
    expect(await Promise.all([m1, v1, v2, m2, m3])).toEqual(['done:m1', 'shed', 'shed', 'done:m2', 'done:m3']);
  });

  it('caps each tab on its own: a busy tab sheds its own work, another tab is untouched', async () => {
    const { q, gate, busy } = blocked({ waiting: 100, perTab: 3 });
    const tab1 = Array.from({ length: 10 }, (_, i) => outcome(q.run(`a${i}`, 'near', `1/d/a${i}`, async () => `a${i}`)));
    const tab2 = Array.from({ length: 3 }, (_, i) => outcome(q.run(`b${i}`, 'near', `2/d/b${i}`, async () => `b${i}`)));
    expect(q.size.waiting).toBe(6);
    gate.resolve();
    await busy;
    expect(await Promise.all(tab1)).toEqual([...Array(7).fill('shed'), 'done:a7', 'done:a8', 'done:a9']);
    expect(await Promise.all(tab2)).toEqual(['done:b0', 'done:b1', 'done:b2']);
  });

  it("a tab over its cap drops only its own interest in a shared task", async () => {
    const { q, gate, busy } = blocked({ waiting: 100, perTab: 1 });
    const shared1 = outcome(q.run('s', 'near', '1/d/s', async () => 's'));
    const shared2 = outcome(q.run('s', 'near', '2/d/s', async () => 's'));
    const own1 = outcome(q.run('o', 'near', '1/d/o', async () => 'o')); // tab 1 has 2 > 1: its oldest (s) goes for tab 1
    expect(q.size.waiting).toBe(2);
    gate.resolve();
    await busy;
    expect(await Promise.all([shared1, shared2, own1])).toEqual(['shed', 'done:s', 'done:o']);
  });

  it('stays bounded under 20,000 requests from a page that adds images forever', { timeout: 60_000 }, async () => {
    const { q, gate, busy } = blocked({ waiting: 50, perTab: 40 });
    const settled: Array<Promise<string>> = [];
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      settled.push(outcome(q.run(`img${i}`, i % 10 === 0 ? 'visible' : 'near', `${1 + (i % 3)}/d/r${i}`, async () => i)));
      most = Math.max(most, q.size.waiting);
    }
    expect(most).toBeLessThanOrEqual(50);
    gate.resolve();
    await busy;
    const results = await Promise.all(settled);
    const done = results.filter((r) => r.startsWith('done')).length;
    expect(done).toBe(q.size.waiting + 20_000 - q.shed); // every request either ran or was shed
    expect(done).toBeLessThanOrEqual(50);
    expect(q.pending()).toBe(0);
  });

  it('a request joining running work is never shed', async () => {
    const q = new JobQueue(1, { waiting: 0, perTab: 0 });
    const gate = deferred<string>();
    const first = q.run('k', 'visible', '1/d/a', () => gate.promise);
    expect(q.size).toEqual({ waiting: 0, running: 1 });
    const joined = outcome(q.run('k', 'near', '1/d/b', async () => 'never'));
    gate.resolve('k');
    await expect(first).resolves.toBe('k');
    expect(await joined).toBe('done:k');
  });
});

describe('the shed message', () => {
  it('is validated like a cancel: 1 to 64 short request ids', () => {
    expect(parseBackgroundToContent({ kind: 'shed', requestIds: ['a1', 'a2'] })).toEqual({ kind: 'shed', requestIds: ['a1', 'a2'] });
    expect(parseBackgroundToContent({ kind: 'shed', requestIds: [] })).toBeNull();
    expect(parseBackgroundToContent({ kind: 'shed', requestIds: Array(65).fill('x') })).toBeNull();
    expect(parseBackgroundToContent({ kind: 'shed', requestIds: ['x'.repeat(65)] })).toBeNull();
    expect(parseBackgroundToContent({ kind: 'shed', requestIds: [1] })).toBeNull();
    expect(parseBackgroundToContent({ kind: 'shed' })).toBeNull();
  });
});
