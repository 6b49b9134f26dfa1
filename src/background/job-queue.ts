// Work waiting for the engine, in priority order (right-click > visible > near the viewport >
// the rest), with bounded concurrency, one task per key (the same image asked for by several
// tabs runs once), cancellation when every tab that asked for a task has gone, and a cap on
// waiting work (overall and per tab): past it, the oldest off-screen work is shed, so a page
// with thousands of images, or one that adds images forever, cannot grow the queue.

export type Priority = 'menu' | 'visible' | 'near' | 'rest';

const RANK: Record<Priority, number> = { menu: 0, visible: 1, near: 2, rest: 3 };

/** The requester withdrew (or its tab went away) before the work started. */
export class CancelledError extends Error {
  override name = 'CancelledError';
}

/** The queue was over its cap and dropped this request; the requester may ask again later. */
export class ShedError extends Error {
  override name = 'ShedError';
}

/**
 * Who waits for a task: a tab id, or "tabId/anything" for one request of that tab (so the
 * request can be withdrawn alone, and closing the tab withdraws all of them).
 */
export type Owner = number | string;

function tabOf(owner: string): string {
  const slash = owner.indexOf('/');
  return slash < 0 ? owner : owner.slice(0, slash);
}

export interface QueueLimits {
  /** Most tasks waiting (not running) at once. */
  waiting: number;
  /** Most waiting tasks one tab may be waiting for. */
  perTab: number;
}

interface Waiter {
  owner: string;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

interface Task {
  key: string;
  rank: number;
  seq: number;
  waiters: Waiter[];
  work: () => Promise<unknown>;
}

/** A key's task: waiting (task set) or running (the shared promise). */
interface Entry {
  task: Task | null;
  running: Promise<unknown> | null;
}

export class JobQueue {
  private readonly waiting: Task[] = [];
  private readonly byKey = new Map<string, Entry>();
  private running = 0;
  private seq = 0;
  private shedCount = 0;

  constructor(
    private readonly concurrency: number,
    readonly limits: QueueLimits = { waiting: Number.POSITIVE_INFINITY, perTab: Number.POSITIVE_INFINITY },
  ) {}

  /** Tasks running or waiting. */
  pending(): number {
    return this.running + this.waiting.length;
  }

  /**
   * Runs `work` once per key; a second caller with the same key shares the first's result.
   * A caller's promise rejects with CancelledError when it is withdrawn, with ShedError when
   * the queue dropped it to stay under its limits (both only before the work started).
   */
  run<T>(key: string, priority: Priority, owner: Owner, work: () => Promise<T>): Promise<T> {
    const existing = this.byKey.get(key);
    if (existing?.running) return existing.running as Promise<T>;
    let task = existing?.task ?? null;
    if (task) {
      // A more urgent request moves the shared task up.
      task.rank = Math.min(task.rank, RANK[priority]);
    } else {
      task = { key, rank: RANK[priority], seq: this.seq++, waiters: [], work };
      this.byKey.set(key, { task, running: null });
      this.waiting.push(task);
    }
    const waiting = task;
    const promise = new Promise<T>((resolve, reject) => {
      waiting.waiters.push({ owner: String(owner), resolve: resolve as (v: unknown) => void, reject });
    });
    // Work that can start at once is not waiting: start it before counting.
    this.pump();
    this.enforceLimits(tabOf(String(owner)));
    return promise;
  }

  /** Drops waiting work that only `tabId` asked for (the tab closed or navigated away). */
  cancelTab(tabId: number): number {
    const tab = String(tabId);
    return this.withdraw((owner) => tabOf(owner) === tab);
  }

  /** Withdraws these owners' requests; waiting work nobody else wants is dropped. */
  cancelOwners(owners: Owner[]): number {
    const gone = new Set(owners.map(String));
    return this.withdraw((owner) => gone.has(owner));
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running };
  }

  /** Requests shed since the queue was made (for tests and the status page). */
  get shed(): number {
    return this.shedCount;
  }

  /** Removes the matching waiters (rejecting them); tasks left with none are dropped. */
  private removeWaiters(task: Task, matches: (owner: string) => boolean, error: () => Error): number {
    let removed = 0;
    for (let i = task.waiters.length - 1; i >= 0; i--) {
      const w = task.waiters[i] as Waiter;
      if (!matches(w.owner)) continue;
      task.waiters.splice(i, 1);
      w.reject(error());
      removed++;
    }
    if (task.waiters.length === 0) {
      const at = this.waiting.indexOf(task);
      if (at >= 0) this.waiting.splice(at, 1);
      this.byKey.delete(task.key);
    }
    return removed;
  }

  private withdraw(matches: (owner: string) => boolean): number {
    let cancelled = 0;
    for (const t of [...this.waiting]) {
      const before = t.waiters.length;
      this.removeWaiters(t, matches, () => new CancelledError('nobody is waiting for this image any more'));
      if (before > 0 && t.waiters.length === 0) cancelled++;
    }
    return cancelled;
  }

  /**
   * The task to shed among `candidates`: never a right-click; the least urgent first (the
   * rest of the page, then near the viewport, visible work last), the oldest first within each.
   * Null when only right-clicks wait.
   */
  private victim(candidates: Task[]): Task | null {
    let best: Task | null = null;
    for (const t of candidates) {
      if (t.rank === RANK.menu) continue;
      if (!best || t.rank > best.rank || (t.rank === best.rank && t.seq < best.seq)) best = t;
    }
    return best;
  }

  private enforceLimits(tab: string): void {
    // Per tab: the tab's own oldest off-screen requests go (other tabs' interest in the same
    // task is kept).
    for (;;) {
      const mine = this.waiting.filter((t) => t.waiters.some((w) => tabOf(w.owner) === tab));
      if (mine.length <= this.limits.perTab) break;
      const v = this.victim(mine);
      if (!v) break;
      this.shedCount += this.removeWaiters(v, (owner) => tabOf(owner) === tab, () => new ShedError('too many images waiting in this tab'));
    }
    // Overall: whole tasks go.
    while (this.waiting.length > this.limits.waiting) {
      const v = this.victim(this.waiting);
      if (!v) break;
      this.shedCount += this.removeWaiters(v, () => true, () => new ShedError('too many images waiting'));
    }
  }

  private start(task: Task): void {
    this.running++;
    let work: Promise<unknown>;
    try {
      work = task.work();
    } catch (e) {
      work = Promise.reject(e);
    }
    this.byKey.set(task.key, { task: null, running: work });
    for (const w of task.waiters) work.then(w.resolve, w.reject);
    const done = (): void => {
      this.running--;
      this.byKey.delete(task.key);
      this.pump();
    };
    work.then(done, done);
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      let best = 0;
      for (let i = 1; i < this.waiting.length; i++) {
        const a = this.waiting[i] as Task;
        const b = this.waiting[best] as Task;
        if (a.rank < b.rank || (a.rank === b.rank && a.seq < b.seq)) best = i;
      }
      const [task] = this.waiting.splice(best, 1);
      if (task) this.start(task);
    }
  }
}
