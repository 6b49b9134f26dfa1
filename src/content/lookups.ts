// What the cache already knows about the page's pictures, asked as soon as they are found (before
// they come near): `content/lookup` in batches, one IndexedDB read in the background for each, no
// fetch and no inference. A picture badged from such a verdict is then reported in batches
// (`content/shown`), so the tab's counts and the statistics see it as they see a cache hit.

import { MAX_URLS_PER_LOOKUP, type CheckTrigger, type KnownVerdict } from '../shared/protocol/content';
import type { Refusal } from './requests';
import { tellBackground } from './to-background';

export interface LookupHooks {
  /** Which trigger the page asks with now ('auto', or 'user' after the user asked). */
  trigger(): CheckTrigger;
  /** The cache answered about `urls` (or could not be asked): `known` is what it knew. */
  answered(urls: string[], known: KnownVerdict[]): void;
  refused(refusal: Refusal): void;
}

export class Lookups {
  private toLookUp: string[] = [];
  private toReport: string[] = [];
  private queued = false;

  constructor(
    private readonly hooks: LookupHooks,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => {
      this.toLookUp = [];
      this.toReport = [];
    });
  }

  /** Asks, with the others found in this task (a discovery slice), what the cache says about `url`. */
  lookUp(url: string): void {
    this.toLookUp.push(url);
    this.soon();
  }

  /** A picture was badged from a fresh looked-up verdict. */
  shown(url: string): void {
    this.toReport.push(url);
    this.soon();
  }

  /** At the end of this task: a timer would wait behind the page's parser and scripts. */
  private soon(): void {
    if (this.signal.aborted || this.queued) return;
    this.queued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.queued = false;
    if (this.signal.aborted) return;
    const trigger = this.hooks.trigger();
    const urls = this.toLookUp;
    const shown = this.toReport;
    this.toLookUp = [];
    this.toReport = [];
    for (let i = 0; i < urls.length; i += MAX_URLS_PER_LOOKUP) {
      const batch = urls.slice(i, i + MAX_URLS_PER_LOOKUP);
      void tellBackground({ kind: 'content/lookup', trigger, urls: batch }).then(
        (reply) => {
          if (this.signal.aborted) return;
          if (reply?.refused) this.hooks.refused(reply.refused);
          // Switched off or paused: the scan has ended. On-demand: nothing is asked until the user asks.
          if (!this.signal.aborted) this.hooks.answered(batch, reply?.known ?? []);
        },
        // The extension was reloaded, or no worker answered: the pictures are asked about
        // (content/check) as if nothing were known.
        () => {
          if (!this.signal.aborted) this.hooks.answered(batch, []);
        },
      );
    }
    for (let i = 0; i < shown.length; i += MAX_URLS_PER_LOOKUP) {
      void tellBackground({ kind: 'content/shown', trigger, urls: shown.slice(i, i + MAX_URLS_PER_LOOKUP) }).catch(() => undefined);
    }
  }
}
