// Slots for a step many jobs share, handed out first come, first served: at most `overall` at
// once, and at most `perKey` for one key (a page's downloads). The background bounds decoding and
// inference in the offscreen document with it, the offscreen document its downloads.

export class Slots {
  private running = 0;
  private readonly perKeyRunning = new Map<string, number>();
  private readonly waiting: Array<{ key: string; go: () => void }> = [];

  constructor(
    private readonly overall: number,
    private readonly perKey = overall,
  ) {}

  /** A slot for `key`, once one is free; the function returned gives it back (a second call does nothing). */
  acquire(key = ''): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push({ key, go: () => resolve(this.releaser(key)) });
      this.pump();
    });
  }

  /** `work` in a slot for `key`, given back however it ends. */
  async run<T>(work: () => Promise<T>, key = ''): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Slots held now (for tests). */
  active(): number {
    return this.running;
  }

  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const n = (this.perKeyRunning.get(key) ?? 1) - 1;
      if (n === 0) this.perKeyRunning.delete(key);
      else this.perKeyRunning.set(key, n);
      this.pump();
    };
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.running < this.overall; ) {
      const w = this.waiting[i] as { key: string; go: () => void };
      const n = this.perKeyRunning.get(w.key) ?? 0;
      if (n >= this.perKey) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.running++;
      this.perKeyRunning.set(w.key, n + 1);
      w.go();
    }
  }
}
