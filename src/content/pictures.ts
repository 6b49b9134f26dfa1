// Each distinct picture of one document (by address), every element showing it, its verdict,
// and the one request out for it: asked, answered, refused, shed or withdrawn, a request is
// matched back to its picture here.

import type { Verdict } from '../shared/protocol/shapes';
import type { Ask, Requests } from './requests';
import type { Tracked } from './tracking';

export interface Picture {
  url: string;
  elements: Set<Tracked>;
  requestId: string | null;
  verdict: Verdict | null;
  /** The engine found it smaller than the minimum size: no badge. */
  skipped: boolean;
  /** The user asked about this picture from the context menu: badged whatever its size. */
  asked: boolean;
  /** The cache's answer about it (content/lookup): not asked, awaited (nothing is checked meanwhile), or had. */
  lookup: 'no' | 'waiting' | 'answered';
  /**
   * `verdict` came from that lookup: 'fresh' (shown as it is; reported once badged, `reported`),
   * or 'stale' (shown, and asked about again when it comes near). null: it came from a check.
   */
  cached: 'fresh' | 'stale' | null;
  reported: boolean;
  /**
   * The server refused the extension's fetch and the page is reading the picture itself: this
   * refusal is shown if the page cannot (a cross-origin picture without CORS).
   */
  refusal: Verdict | null;
}

export class Pictures {
  private readonly byUrl = new Map<string, Picture>();
  private readonly byRequest = new Map<string, Picture>();

  constructor(private readonly requests: Requests) {}

  get(url: string): Picture | undefined {
    return this.byUrl.get(url);
  }

  all(): IterableIterator<Picture> {
    return this.byUrl.values();
  }

  /** Still known: not forgotten since. */
  has(picture: Picture): boolean {
    return this.byUrl.get(picture.url) === picture;
  }

  /** The picture at `url`, known from now on if it was not. */
  ensure(url: string): Picture {
    let p = this.byUrl.get(url);
    if (!p) {
      p = { url, elements: new Set(), requestId: null, verdict: null, skipped: false, asked: false, lookup: 'no', cached: null, reported: false, refusal: null };
      this.byUrl.set(url, p);
    }
    return p;
  }

  /** The picture that request `requestId` is out for. */
  waiting(requestId: string): Picture | undefined {
    return this.byRequest.get(requestId);
  }

  /** Asks the background about `picture` (it has no request out). */
  ask(picture: Picture, ask: Ask): void {
    picture.requestId = this.requests.ask(ask);
    this.byRequest.set(picture.requestId, picture);
  }

  /** Request `requestId` was answered (or shed): the picture still waiting for it, if any. */
  answered(requestId: string): Picture | null {
    const picture = this.take(requestId);
    this.requests.settle(requestId);
    return picture;
  }

  /** The background refused request `requestId` (the requests forgot it already): its picture, if still waiting. */
  refused(requestId: string): Picture | null {
    return this.take(requestId);
  }

  /** Withdraws the picture's request: nobody needs its answer any more. */
  withdraw(picture: Picture): void {
    const id = picture.requestId;
    if (id === null) return;
    picture.requestId = null;
    this.byRequest.delete(id);
    this.requests.cancel([id]);
  }

  /** A picture no element shows and nobody waits for is forgotten (pages that add images forever); true if it was. */
  forgetIfUnused(picture: Picture): boolean {
    if (picture.elements.size > 0 || picture.requestId !== null || !this.has(picture)) return false;
    this.byUrl.delete(picture.url);
    return true;
  }

  private take(requestId: string): Picture | null {
    const picture = this.byRequest.get(requestId);
    this.byRequest.delete(requestId);
    if (!picture || picture.requestId !== requestId) return null;
    picture.requestId = null;
    return picture;
  }
}
