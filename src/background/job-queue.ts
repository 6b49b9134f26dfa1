// Work waiting for the engine, in priority order (right-click > visible > near the viewport >
// the rest), with bounded concurrency, one task per key (the same image asked for by several
// tabs runs once), and cancellation when every tab that asked for a task has gone.

export type Priority = 'menu' | 'visible' | 'near' | 'rest';

const RANK: Record<Priority, number> = { menu: 0, visible: 1, near: 2, rest: 3 };

export class CancelledError extends Error {
  override name = 'CancelledError';
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

interface Task {
  key: string;
  rank: number;
  seq: number;
  owners: Set<string>;
  run: () => void;
  cancel: () => void;
}

export class JobQueue {
  private readonly waiting: Task[] = [];
  private readonly byKey = new Map<string, { task: Task | null; promise: Promise<unknown> }>();
  private running = 0;
  private seq = 0;

  constructor(private readonly concurrency: number) {}

  /** Tasks running or waiting. */
  pending(): number {
    return this.running + this.waiting.length;
  }

  /** Runs `work` once per key; a second caller with the same key shares the first's result. */
  run<T>(key: string, priority: Priority, owner: Owner, work: () => Promise<T>): Promise<T> {
    const existing = this.byKey.get(key);
    if (existing) {
      if (existing.task) {
        existing.task.owners.add(String(owner));
        // A more urgent request moves the shared task up.
        existing.task.rank = Math.min(existing.task.rank, RANK[priority]);
      }
      return existing.promise as Promise<T>;
    }
    let task: Task | null = null;
    const promise = new Promise<T>((resolve, reject) => {
      task = {
        key,
        rank: RANK[priority],
        seq: this.seq++,
        owners: new Set([String(owner)]),
        run: () => {
          entry.task = null;
          this.running++;
          work()
            .then(resolve, reject)
            .finally(() => {
              this.running--;
              this.byKey.delete(key);
              this.pump();
            });
        },
        cancel: () => {
          this.byKey.delete(key);
          reject(new CancelledError('nobody is waiting for this image any more'));
        },
      };
    });
    const entry = { task: task as Task | null, promise };
    this.byKey.set(key, entry);
    this.waiting.push(task as unknown as Task);
    this.pump();
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

  private withdraw(matches: (owner: string) => boolean): number {
    let cancelled = 0;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const t = this.waiting[i] as Task;
      for (const owner of t.owners) if (matches(owner)) t.owners.delete(owner);
      if (t.owners.size === 0) {
        this.waiting.splice(i, 1);
        t.cancel();
        cancelled++;
      }
    }
    return cancelled;
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running };
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
      task?.run();
    }
  }
}
