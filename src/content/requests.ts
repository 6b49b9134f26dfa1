// The content script's side of the protocol: asks the background about images in batches,
// withdraws requests nobody needs any more, and asks again whatever the service worker lost
// (it may be stopped at any time).

import browser from 'webextension-polyfill';
import { MAX_URL_LENGTH } from '../shared/protocol/validate';
import { type CheckItem, type CheckReply, type CheckTrigger, MAX_ITEMS_PER_CHECK, PENDING_PORT, type ScanPriority } from '../shared/protocol/content';
import { askedAddress, needsPageBytes, readPageBytes } from './page-bytes';
import { tellBackground } from './to-background';

/**
 * Unanswered requests are asked again: at once when the worker's port drops (it was stopped or
 * restarted), and after this long in any case (backing off), should a message be lost.
 */
const REASK_AFTER_MS = 15_000;

export type Refusal = NonNullable<CheckReply['refused']>;

export interface Ask {
  url: string;
  priority: ScanPriority;
  minSide: number;
  trigger: CheckTrigger;
  /** The page's own <img> failed to load this address. */
  brokenInPage?: boolean;
  /** The server refused the extension: the page reads this http(s) picture and sends its bytes. */
  readFromPage?: boolean;
}

interface Pending {
  item: CheckItem;
  trigger: CheckTrigger;
  /** A page's own picture whose bytes are still being read: not sendable yet. */
  reading: boolean;
  sentAt: number;
  attempts: number;
}

export class Requests {
  private readonly pending = new Map<string, Pending>();
  private outbox: Pending[] = [];
  private withdrawn: string[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private reaskTimer: ReturnType<typeof setInterval>;
  private port: browser.Runtime.Port | null = null;
  private nextId = 0;
  private readonly prefix = Math.random().toString(36).slice(2, 8);

  constructor(
    private readonly onRefused: (refusal: Refusal, requestIds: string[]) => void,
    /** A blob:/data: picture the page could not hand over. */
    private readonly onUnreadable: (requestId: string) => void,
    signal: AbortSignal,
  ) {
    this.reaskTimer = setInterval(() => this.reaskStale(), REASK_AFTER_MS / 2);
    signal.addEventListener('abort', () => {
      clearInterval(this.reaskTimer);
      clearTimeout(this.flushTimer);
      this.pending.clear();
      this.outbox = [];
      this.port?.disconnect();
      this.port = null;
    });
  }

  /** Queues a request (sent with the others of this task) and returns its id. */
  ask(ask: Ask): string {
    const requestId = `${this.prefix}${++this.nextId}`;
    const fromPage = ask.readFromPage === true && /^https?:/.test(ask.url) && ask.url.length <= MAX_URL_LENGTH;
    const reading = fromPage || needsPageBytes(ask.url);
    const label = askedAddress(ask.url);
    const item: CheckItem = { requestId, url: label, priority: ask.priority, minSide: ask.minSide };
    if (ask.brokenInPage) item.brokenInPage = true;
    if (fromPage) item.via = 'page';
    const p: Pending = { item, trigger: ask.trigger, reading, sentAt: Date.now(), attempts: 1 };
    this.pending.set(requestId, p);
    if (reading) {
      void readPageBytes(ask.url).then(
        (bytes) => {
          if (!this.pending.has(requestId)) return;
          p.item.bytes = bytes;
          p.reading = false;
          void this.send([p]);
        },
        () => {
          this.pending.delete(requestId);
          this.onUnreadable(requestId);
        },
      );
      return requestId;
    }
    this.outbox.push(p);
    this.flushTimer ??= setTimeout(() => this.flush(), 0);
    return requestId;
  }

  /** The answer arrived: true if it was still wanted. */
  settle(requestId: string): boolean {
    const had = this.pending.delete(requestId);
    if (this.pending.size === 0 && this.port) {
      this.port.disconnect();
      this.port = null;
    }
    return had;
  }

  /** Withdraws requests (their images went far away before an answer came), in batches. */
  cancel(requestIds: string[]): void {
    for (const id of requestIds) if (this.pending.delete(id)) this.withdrawn.push(id);
    this.outbox = this.outbox.filter((p) => this.pending.has(p.item.requestId));
    this.flushTimer ??= setTimeout(() => this.flush(), 0);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const ids = this.withdrawn;
    this.withdrawn = [];
    for (let i = 0; i < ids.length; i += MAX_ITEMS_PER_CHECK) {
      void tellBackground({ kind: 'content/cancel', requestIds: ids.slice(i, i + MAX_ITEMS_PER_CHECK) }).catch(() => undefined);
    }
    const batch = this.outbox;
    this.outbox = [];
    // Most urgent first.
    const rank: Record<ScanPriority, number> = { visible: 0, near: 1, rest: 2 };
    batch.sort((a, b) => rank[a.item.priority] - rank[b.item.priority]);
    void this.sendByTrigger(batch);
  }

  private async send(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    this.watchWorker();
    for (let i = 0; i < batch.length; i += MAX_ITEMS_PER_CHECK) {
      const chunk = batch.slice(i, i + MAX_ITEMS_PER_CHECK).filter((p) => this.pending.has(p.item.requestId));
      if (chunk.length === 0) continue;
      let reply: CheckReply | null;
      try {
        reply = await tellBackground({ kind: 'content/check', trigger: chunk[0]?.trigger ?? 'auto', items: chunk.map((p) => p.item) });
      } catch {
        return; // the extension was reloaded or the worker is starting: the re-ask timer retries
      }
      if (reply?.refused) {
        const ids = batch.slice(i).map((p) => p.item.requestId);
        for (const id of ids) this.pending.delete(id);
        this.onRefused(reply.refused, ids);
        return;
      }
    }
  }

  private watchWorker(): void {
    if (this.port || this.pending.size === 0) return;
    try {
      this.port = browser.runtime.connect({ name: PENDING_PORT });
    } catch {
      return; // the extension was reloaded: this script is orphaned
    }
    this.port.onDisconnect.addListener(() => {
      this.port = null;
      // The worker stopped with our requests in its memory: ask again for all of them (this
      // wakes it), then watch the new one.
      const unanswered = [...this.pending.values()].filter((p) => !p.reading);
      if (unanswered.length === 0) return;
      for (const p of unanswered) p.sentAt = Date.now();
      void this.sendByTrigger(unanswered);
    });
  }

  /** One message per trigger; bytes travel one picture per message. */
  private async sendByTrigger(list: Pending[]): Promise<void> {
    for (const p of list.filter((x) => x.item.bytes !== undefined)) await this.send([p]);
    const rest = list.filter((x) => x.item.bytes === undefined);
    await this.send(rest.filter((p) => p.trigger === 'auto'));
    await this.send(rest.filter((p) => p.trigger === 'user'));
  }

  private reaskStale(): void {
    const now = Date.now();
    const stale: Pending[] = [];
    for (const p of this.pending.values()) {
      if (p.reading) continue;
      if (now - p.sentAt < REASK_AFTER_MS * 2 ** (p.attempts - 1)) continue;
      p.sentAt = now;
      p.attempts++;
      stale.push(p);
    }
    if (stale.length > 0) void this.sendByTrigger(stale);
  }
}
