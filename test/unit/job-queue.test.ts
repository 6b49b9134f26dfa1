import { describe, expect, it } from 'vitest';
import { CancelledError, JobQueue } from '../../src/background/job-queue';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

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
    const shared = q.run('y', 'visible', 1, async () => 'y');
    void q.run('y', 'visible', 2, async () => 'y');
    expect(q.cancelTab(1)).toBe(1);
    await expect(onlyTab1).rejects.toBeInstanceOf(CancelledError);
    gate.resolve();
    await busy;
    await expect(shared).resolves.toBe('y');
  });

  it('withdraws one request alone, and a tab closing withdraws all of its requests', async () => {
    const q = new JobQueue(1);
    const gate = deferred<void>();
    const busy = q.run('busy', 'visible', 1, () => gate.promise);
    const far = q.run('far', 'near', '1/doc/r1', async () => 'far');
    const kept = q.run('kept', 'near', '1/doc/r2', async () => 'kept');
    const sharedA = q.run('shared', 'near', '1/doc/r3', async () => 'shared');
    void q.run('shared', 'near', '2/doc/r9', async () => 'shared');
    expect(q.cancelOwners(['1/doc/r1', '1/doc/r3', '1/doc/nope'])).toBe(1);
    await expect(far).rejects.toBeInstanceOf(CancelledError);
    expect(q.size.waiting).toBe(2);
    expect(q.cancelTab(1)).toBe(1); // "kept" had only tab 1's request; "shared" still has tab 2's
    await expect(kept).rejects.toBeInstanceOf(CancelledError);
    expect(q.cancelTab(11)).toBe(0); // tab 11 is not tab 1
    gate.resolve();
    await busy;
    await expect(sharedA).resolves.toBe('shared');
  });
});
