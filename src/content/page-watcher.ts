// One watcher of the page's DOM that every part of the content script subscribes to, instead of
// one whole-document MutationObserver per part: one observer on the document (and one per open
// shadow root that discovery walks into), whose records are handed to each subscriber filtered
// by what it asked for. A subscription ends with its AbortSignal; the observers stop with the
// last one.

export interface PageSubscription {
  /** Records of attribute changes are passed on only for these attribute names. */
  attributes: readonly string[];
  /** Also the records of the open shadow roots added with `watchShadowRoot` (else the document's only). */
  shadowRoots: boolean;
  /** Called with this subscriber's records of one delivery (never with none). */
  changed(records: MutationRecord[]): void;
}

interface Subscriber extends PageSubscription {
  wanted: ReadonlySet<string>;
}

type Root = Document | ShadowRoot;

export class PageWatcher {
  private readonly subscribers: Subscriber[] = [];
  private readonly observers = new Map<Root, MutationObserver>();
  /** The attribute filter each root is observed with now; absent: not observed. */
  private readonly observing = new Map<Root, string>();

  constructor(signal: AbortSignal) {
    this.observers.set(document, new MutationObserver((records) => this.deliver(records, document)));
    signal.addEventListener('abort', () => {
      for (const o of this.observers.values()) o.disconnect();
      this.subscribers.length = 0;
    });
  }

  /** Watches `sub` until `signal` aborts: childList (subtree) and the attributes it names. */
  subscribe(sub: PageSubscription, signal: AbortSignal): void {
    if (signal.aborted) return;
    const subscriber: Subscriber = { ...sub, wanted: new Set(sub.attributes) };
    this.subscribers.push(subscriber);
    this.refresh();
    signal.addEventListener('abort', () => {
      const i = this.subscribers.indexOf(subscriber);
      if (i >= 0) this.subscribers.splice(i, 1);
      this.refresh();
    });
  }

  /** Watches an open shadow root too (its mutations are not the document's), for subscribers that ask. */
  watchShadowRoot(root: ShadowRoot): void {
    if (this.observers.has(root)) return;
    this.observers.set(root, new MutationObserver((records) => this.deliver(records, root)));
    this.refresh();
  }

  private sees(sub: Subscriber, root: Root): boolean {
    return root === document || sub.shadowRoots;
  }

  /**
   * Observes every root with what its subscribers want together, when that changed (observing
   * again would drop what it still watches in nodes just removed); none left: stops.
   */
  private refresh(): void {
    for (const [root, observer] of this.observers) {
      const subs = this.subscribers.filter((s) => this.sees(s, root));
      if (subs.length === 0) {
        observer.disconnect();
        this.observing.delete(root);
        continue;
      }
      const attributeFilter = [...new Set(subs.flatMap((s) => s.attributes))].sort();
      const key = attributeFilter.join(' ');
      if (this.observing.get(root) === key) continue;
      this.observing.set(root, key);
      observer.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter });
    }
  }

  private deliver(records: MutationRecord[], root: Root): void {
    for (const sub of [...this.subscribers]) {
      // One that unsubscribed while an earlier one ran gets nothing more.
      if (!this.sees(sub, root) || !this.subscribers.includes(sub)) continue;
      const mine = records.filter((r) => r.type !== 'attributes' || (r.attributeName !== null && sub.wanted.has(r.attributeName)));
      if (mine.length > 0) sub.changed(mine);
    }
  }
}
