// One document's scan, and its decisions: discovery finds elements showing pictures, the cache is
// asked at once what it knows about them (lookups.ts), tracking says which are in or near the
// viewport, each distinct picture (pictures.ts) the cache did not know is asked about once
// (visible first), requests for pictures that went far away before an answer are withdrawn, and
// every element showing a picture gets its badge.
// Over 300 lines: the scan is where discovery, the cache lookups, tracking, requests and the
// badge layer meet; each of those lives in its own module, and this file only decides between them.

import type { KnownVerdict, ScanPriority } from '../shared/protocol/content';
import type { Verdict } from '../shared/protocol/shapes';
import type { Settings } from '../shared/settings';
import { BadgeLayer } from './badge-layer';
import { Discovery } from './discovery';
import { PageWatcher } from './page-watcher';
import { Lookups } from './lookups';
import { askedAddress, needsPageBytes } from './page-bytes';
import { Pictures, type Picture } from './pictures';
import { Requests, type Refusal } from './requests';
import { expectedUrl, type Reading, type Source } from './sources';
import { tellBackground } from './to-background';
import { Tracking, type Tracked } from './tracking';

/** A shed request whose picture is still near is asked again after this pause. */
const SHED_RETRY_MS = 10_000;

/** An <img> still loading, as the picture it will show (null: nothing the extension judges). */
function stillLoading(el: Element): Source | null {
  const url = expectedUrl(el);
  return url ? { kind: 'img', url, natural: null, loading: true } : null;
}

export interface ScanHooks {
  /** The background refused (paused, switched off, on-demand): stop asking. */
  refused(refusal: Refusal): void;
}

export class PageScan {
  private readonly tracking: Tracking;
  private readonly pictures: Pictures;
  private readonly discovery: Discovery;
  private readonly layer: BadgeLayer;
  private readonly lookups: Lookups;
  /** On-demand mode until the user asks; then (and in automatic mode) pictures are asked about. */
  private asking: 'auto' | 'user' | null;

  constructor(
    private settings: Settings,
    private readonly hooks: ScanHooks,
    signal: AbortSignal,
  ) {
    this.asking = settings.scanMode === 'auto' ? 'auto' : null;
    const watcher = new PageWatcher(signal);
    this.layer = new BadgeLayer(this.badgeOptions(), (url, mistake) => this.report(url, mistake), watcher, signal);
    const requests = new Requests(
      (refusal, ids) => this.onRefused(refusal, ids),
      (id) =>
        this.onVerdict(
          id,
          this.pictures.waiting(id)?.refusal ?? { status: 'failed', reason: 'undecodable', detail: 'the page would not hand over this picture' },
        ),
      signal,
    );
    this.pictures = new Pictures(requests);
    this.lookups = new Lookups(
      {
        trigger: () => (this.asking === 'user' ? 'user' : 'auto'),
        answered: (urls, known) => this.onLookedUp(urls, known),
        refused: (refusal) => this.onRefused(refusal, []),
      },
      signal,
    );
    this.tracking = new Tracking(
      {
        moved: (t) => {
          this.layer.setNear(t.el, t.near);
          this.consider(t);
        },
        gone: (t) => this.untrack(t),
      },
      signal,
    );
    this.discovery = new Discovery(
      { found: (el, reading) => this.onFound(el, reading), removed: () => this.tracking.sweepSoon() },
      watcher,
      signal,
    );
    signal.addEventListener('abort', () => {
      clearTimeout(this.shedTimer);
      this.shedTimer = undefined;
    });
    this.discovery.start();
  }

  /** The user asked to check every picture on the page now (popup, on-demand mode). */
  checkAll(): void {
    this.asking = 'user';
    for (const t of this.tracking.all()) this.consider(t);
  }

  applySettings(next: Settings): void {
    const minChanged = next.minImageSize !== this.settings.minImageSize;
    const thresholdChanged = next.threshold !== this.settings.threshold;
    this.settings = next;
    if (next.scanMode === 'auto' && this.asking === null) {
      this.asking = 'auto';
      for (const t of this.tracking.all()) this.lookUp(this.pictures.ensure(t.source.url));
    }
    // Every verdict is labelled at the threshold in force now, also those not drawn yet.
    if (thresholdChanged) for (const p of this.pictures.all()) if (p.verdict) p.verdict = this.labelled(p.verdict);
    this.layer.setOptions(this.badgeOptions());
    if (minChanged) for (const t of this.tracking.all()) this.consider(t);
  }

  /** An answer from the background. */
  onVerdict(requestId: string, verdict: Verdict): void {
    const picture = this.pictures.answered(requestId);
    if (!picture) return;
    if (verdict.status === 'failed' && verdict.askPage && picture.refusal === null && /^https?:/.test(picture.url)) {
      // Refused to the extension but shown by the page: the page reads the bytes itself, once.
      picture.refusal = verdict;
      const t = picture.elements.values().next().value;
      this.pictures.ask(picture, {
        url: picture.url,
        priority: t?.visible ? 'visible' : 'near',
        minSide: t?.source.natural ? 0 : this.settings.minImageSize,
        trigger: this.asking === 'user' ? 'user' : 'auto',
        readFromPage: true,
      });
      return;
    }
    picture.verdict = this.labelled(verdict);
    picture.cached = null;
    picture.skipped = verdict.status === 'failed' && verdict.reason === 'too-small';
    for (const t of picture.elements) this.draw(t, picture);
    this.forgetIfUnused(picture);
  }

  /**
   * The cache answered about `urls` (content/lookup): known pictures are drawn at once where near,
   * the others (and stale ones) are asked about now if they are wanted.
   */
  private onLookedUp(urls: string[], known: KnownVerdict[]): void {
    const byUrl = new Map(known.map((k) => [k.url, k]));
    for (const url of urls) {
      const picture = this.pictures.get(url);
      if (!picture || picture.lookup !== 'waiting') continue; // forgotten meanwhile
      picture.lookup = 'answered';
      const k = byUrl.get(url);
      // Answered by the context menu meanwhile (newer) or not known: nothing to take.
      if (k && !picture.verdict) {
        picture.verdict = this.labelled(k.verdict);
        picture.cached = k.stale ? 'stale' : 'fresh';
      }
      for (const t of picture.elements) if (t.rendered) this.consider(t);
    }
  }

  /** The verdict labelled at the threshold in force (the one it came with may be older). */
  private labelled(verdict: Verdict): Verdict {
    return verdict.status === 'done' && verdict.threshold !== this.settings.threshold ? { ...verdict, threshold: this.settings.threshold } : verdict;
  }

  /** Asks the cache about a picture just found, once, while the scan asks about pictures at all. */
  private lookUp(picture: Picture): void {
    // The page's own bytes are cached by their hash only: nothing to look up by address.
    if (picture.lookup !== 'no' || picture.verdict || this.asking === null || needsPageBytes(picture.url)) return;
    picture.lookup = 'waiting';
    this.lookups.lookUp(picture.url);
  }

  /** Pictures whose request the worker shed (its queue was full) while they were near. */
  private readonly shedPictures = new Set<Picture>();
  private shedTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * The worker's queue was full and dropped these requests: they count as withdrawn. A picture
   * is asked about again when it next comes near, or, if it is still near, after a pause (so a
   * full queue never turns into a loop of asking and shedding).
   */
  onShed(requestIds: string[]): void {
    for (const id of requestIds) {
      const picture = this.pictures.answered(id);
      if (!picture) continue;
      for (const t of picture.elements) this.layer.remove(t.el);
      this.shedPictures.add(picture);
      this.forgetIfUnused(picture);
    }
    this.shedTimer ??= setTimeout(() => this.reaskShed(), SHED_RETRY_MS);
  }

  private reaskShed(): void {
    this.shedTimer = undefined;
    const list = [...this.shedPictures];
    this.shedPictures.clear();
    for (const picture of list) {
      if (!this.pictures.has(picture)) continue; // forgotten meanwhile
      // Far away: asked again when it comes near (the observer reports that), not now.
      if (![...picture.elements].some((t) => t.near)) continue;
      for (const t of picture.elements) {
        this.tracking.refreshVisible(t);
        this.consider(t);
      }
    }
  }

  private forgetIfUnused(picture: Picture): void {
    if (this.pictures.forgetIfUnused(picture)) this.shedPictures.delete(picture);
  }

  /**
   * A context-menu answer: badge the element the user pointed at, and every element showing
   * `url`, whatever their size.
   */
  showMenuVerdict(url: string, verdict: Verdict, pointed?: { el: Element; source: Source }): void {
    const picture = this.pictures.ensure(url);
    picture.verdict = this.labelled(verdict);
    picture.cached = null;
    picture.skipped = false;
    picture.asked = true;
    const shown = new Map<Element, Source>();
    if (pointed?.el.isConnected && pointed.source.url === url) shown.set(pointed.el, pointed.source);
    for (const img of Array.from(document.images)) {
      if (img.currentSrc === url || img.src === url) shown.set(img, { kind: 'img', url, natural: null });
    }
    for (const t of this.tracking.all()) if (t.source.url === url) shown.set(t.el, t.source);
    for (const [el, source] of shown) {
      let t = this.tracking.get(el);
      // Tracked under another picture (an element with a background and a poster): follow the one asked about.
      if (t && t.source.url !== url) {
        this.untrack(t);
        t = undefined;
      }
      t ??= this.track(el, source);
      this.layer.show(t.el, this.shown(t, picture));
    }
  }

  private badgeOptions(): { threshold: number; suspectedStyle: Settings['suspectedStyle']; showRealBadges: boolean } {
    return { threshold: this.settings.threshold, suspectedStyle: this.settings.suspectedStyle, showRealBadges: this.settings.showRealBadges };
  }

  private track(el: Element, source: Source): Tracked {
    const t = this.tracking.track(el, source);
    const picture = this.pictures.ensure(source.url);
    picture.elements.add(t);
    this.lookUp(picture);
    return t;
  }

  private untrack(t: Tracked): void {
    this.tracking.untrack(t);
    this.layer.remove(t.el);
    const picture = this.pictures.get(t.source.url);
    if (!picture) return;
    picture.elements.delete(t);
    this.withdrawIfUnwanted(picture);
    this.forgetIfUnused(picture);
  }

  /**
   * An element found (or read again). It is tracked at once, while the document is parsed too, so
   * the observer reports its box the frame it enters the viewport and a verdict the cache knows is
   * drawn the frame after it arrives. An <img> still loading is tracked under the address it will
   * show, its own size unknown; nothing is asked about it until it loads (discovery reads it again
   * then, or when it fails).
   */
  private onFound(el: Element, reading: Reading): void {
    const t = this.tracking.get(el);
    if (!reading) {
      if (t) this.untrack(t);
      return;
    }
    const source = reading === 'wait' ? stillLoading(el) : reading;
    if (!source) return;
    if (t && t.source.url === source.url) {
      if (reading === 'wait') return;
      t.source = reading; // natural size may be known now
      this.consider(t);
      return;
    }
    // New, or showing another picture now (src/srcset swapped): a fresh verdict.
    if (t) this.untrack(t);
    this.track(el, source);
    // The intersection observers report its size and position shortly.
  }

  private bigEnough(t: Tracked): boolean {
    if (this.pictures.get(t.source.url)?.asked) return true;
    const min = this.settings.minImageSize;
    const r = t.rendered;
    if (!r || Math.min(r.width, r.height) < min) return false;
    const n = t.source.natural;
    return !n || Math.min(n.width, n.height) >= min;
  }

  /** Decides what an element needs now: nothing, its badge, or a question to the background. */
  private consider(t: Tracked): void {
    const picture = this.pictures.get(t.source.url);
    if (!picture) return;
    if (!this.bigEnough(t) || picture.skipped) {
      this.layer.remove(t.el);
      this.withdrawIfUnwanted(picture);
      return;
    }
    // A stale cached verdict shows while the picture is checked again.
    if (picture.verdict && picture.cached !== 'stale') {
      this.draw(t, picture);
      return;
    }
    // The cache is being asked about it: checked, if at all, once it answered (onLookedUp).
    if (picture.lookup === 'waiting') return;
    // Still loading: asked about, if need be, once it has loaded (discovery reads it again then).
    if (t.source.loading) {
      this.layer.remove(t.el);
      return;
    }
    // While the page is parsed, where a picture ends up is not settled (a page may scroll itself
    // once parsed): only known verdicts are drawn; the walk at the end of parsing considers it again.
    if (document.readyState === 'loading') {
      if (picture.verdict) this.draw(t, picture);
      return;
    }
    const wanted = this.asking === 'user' || (this.asking === 'auto' && t.near);
    if (!wanted) {
      this.withdrawIfUnwanted(picture);
      return;
    }
    const priority: ScanPriority = t.visible ? 'visible' : t.near ? 'near' : 'rest';
    if (picture.requestId === null) {
      this.pictures.ask(picture, {
        url: picture.url,
        priority,
        // Only an <img> tells its natural size here; for the others the engine checks it.
        minSide: t.source.natural ? 0 : this.settings.minImageSize,
        trigger: this.asking === 'user' ? 'user' : 'auto',
        // An <img> that failed to load here: a refusal is the page's too (not hotlinking).
        brokenInPage: [...picture.elements].some((e) => e.source.kind === 'img' && e.source.natural === null),
      });
    }
    this.draw(t, picture);
  }

  private shown(t: Tracked, picture: Picture): Parameters<BadgeLayer['show']>[1] {
    return {
      url: picture.url,
      kind: t.source.kind,
      natural: t.source.natural,
      verdict: picture.verdict,
      near: t.near,
      reportUrl: askedAddress(picture.url),
    };
  }

  private draw(t: Tracked, picture: Picture): void {
    if (picture.skipped || !this.bigEnough(t)) {
      this.layer.remove(t.el);
      return;
    }
    // "Checking" shows only while a request is out; a withdrawn one shows nothing.
    if (!picture.verdict && picture.requestId === null) {
      this.layer.remove(t.el);
      return;
    }
    // Badges exist only near the viewport: a page with 10,000 copies of a picture keeps a
    // few dozen, not 10,000 (the layer keeps the ones the user opened or reported).
    if (!t.near && !picture.asked) {
      this.layer.prune(t.el);
      return;
    }
    this.layer.show(t.el, this.shown(t, picture));
    if (picture.cached === 'fresh' && !picture.reported) {
      picture.reported = true;
      this.lookups.shown(picture.url);
    }
  }

  /** A request whose pictures all went far away (or away) before its answer is withdrawn. */
  private withdrawIfUnwanted(picture: Picture): void {
    if (picture.requestId === null || this.asking !== 'auto') return;
    for (const t of picture.elements) if (t.near && this.bigEnough(t)) return;
    this.pictures.withdraw(picture);
    for (const t of picture.elements) this.layer.remove(t.el);
  }

  private onRefused(refusal: Refusal, requestIds: string[]): void {
    for (const id of requestIds) {
      const picture = this.pictures.refused(id);
      if (!picture) continue;
      for (const t of picture.elements) this.layer.remove(t.el);
    }
    if (refusal === 'on-demand') this.asking = null;
    this.hooks.refused(refusal);
  }

  private report(url: string, mistake: boolean): void {
    void tellBackground({ kind: 'content/report-mistake', url, mistake }).catch(() => undefined);
  }
}
