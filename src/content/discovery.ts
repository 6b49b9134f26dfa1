// Walks the page (and its open shadow roots) for elements showing a picture, in small time
// slices so a page with thousands of elements never gets a long task, and watches for what
// changes later (through the page watcher, into every open shadow root it walks): inserted nodes
// (infinite scroll, SPAs), src/srcset/poster/style changes, and images that finish loading.
// The content script starts before the page is parsed: until it is, only <img> elements are
// looked at, as they arrive (cheap, and the first screen's pictures are asked about before its
// first frame); the whole walk runs once it is parsed.

import type { PageWatcher } from './page-watcher';
import { readSource, type Reading } from './sources';

/** Longest stretch of main-thread work before yielding to the page. */
const SLICE_MS = 4;

const WATCHED_ATTRIBUTES = ['src', 'srcset', 'sizes', 'poster', 'href', 'xlink:href', 'style', 'class'];

export interface DiscoveryHandlers {
  found(el: Element, reading: Reading): void;
  /** Nodes left the document: forget elements that are gone. */
  removed(): void;
}

export class Discovery {
  private readonly queue: Array<{ node: Node; deep: boolean }> = [];
  private readonly seenRoots = new WeakSet<Node>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Custom elements not defined yet when seen. A component whose code arrives later attaches its
   * shadow root when it is defined, which no mutation reports (an inline host has no size for a
   * ResizeObserver either); they are looked at again whenever the page finishes loading a
   * resource (its code, its pictures).
   */
  private readonly hostsToBe = new Set<Element>();
  private readonly resources = new PerformanceObserver(() => this.recheckHosts());
  private watchingResources = false;
  /** The document is still being parsed: the whole walk waits for its end. */
  private parsing = false;

  constructor(
    private readonly handlers: DiscoveryHandlers,
    private readonly watcher: PageWatcher,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => {
      this.resources.disconnect();
      this.hostsToBe.clear();
      clearTimeout(this.timer);
      this.queue.length = 0;
    });
  }

  /** Starts with the whole document. */
  start(): void {
    this.watcher.subscribe(
      { attributes: WATCHED_ATTRIBUTES, shadowRoots: true, changed: (records) => this.onMutations(records) },
      this.signal,
    );
    this.watch(document);
    const walkAll = (): void => {
      this.parsing = false;
      if (document.documentElement) this.enqueue(document.documentElement, true);
    };
    if (document.readyState !== 'loading') return walkAll();
    this.parsing = true;
    for (const img of Array.from(document.images)) this.visit(img);
    document.addEventListener('DOMContentLoaded', walkAll, { once: true, signal: this.signal });
  }

  /** Looks at one element (and, if `deep`, everything under it) again soon. */
  enqueue(node: Node, deep: boolean): void {
    if (this.signal.aborted) return;
    this.queue.push({ node, deep });
    this.timer ??= setTimeout(() => this.work(), 0);
  }

  private watch(root: Document | ShadowRoot): void {
    if (this.seenRoots.has(root)) return;
    this.seenRoots.add(root);
    if (root instanceof ShadowRoot) this.watcher.watchShadowRoot(root);
    // load/error do not bubble; a capturing listener on the root sees them all (a shadow
    // root's events stay inside it, hence one listener per root).
    const again = (e: Event): void => {
      if (e.target instanceof Element) this.enqueue(e.target, false);
    };
    root.addEventListener('load', again, { capture: true, signal: this.signal });
    root.addEventListener('error', again, { capture: true, signal: this.signal });
  }

  private onMutations(records: MutationRecord[]): void {
    let removed = false;
    for (const r of records) {
      if (r.type === 'attributes') {
        const el = r.target as Element;
        if (el.closest('realfake-lens-overlay')) continue;
        // A <source> inside <picture> changes which file its <img> shows.
        const target = el.localName === 'source' ? el.parentElement?.querySelector('img') ?? null : el;
        if (target) this.enqueue(target, false);
        continue;
      }
      if (r.removedNodes.length > 0) removed = true;
      if (this.parsing) continue;
      for (const n of r.addedNodes) if (n.nodeType === Node.ELEMENT_NODE && n.nodeName.toLowerCase() !== 'realfake-lens-overlay') this.enqueue(n, true);
    }
    if (this.parsing) this.imagesArrived(records);
    if (removed) this.handlers.removed();
  }

  /**
   * While the page is parsed: the <img> elements the records added (the parser adds each element
   * with a record of its own; a script may add a whole subtree in one). Each subtree is searched
   * once, from its topmost added element, so a parsed page costs its size, not its size times its
   * depth. They are looked at now, within one slice (the rest queued): a timer would wait while
   * the page loads, past its first frame.
   */
  private imagesArrived(records: MutationRecord[]): void {
    const added = new Set<Element>();
    for (const r of records) if (r.type === 'childList') for (const n of r.addedNodes) if (n instanceof Element) added.add(n);
    const deadline = performance.now() + SLICE_MS;
    const look = (img: Element): void => {
      if (performance.now() < deadline) this.visit(img);
      else this.enqueue(img, false);
    };
    for (const el of added) {
      if (el.parentElement && added.has(el.parentElement)) continue;
      if (el instanceof HTMLImageElement) look(el);
      else if (el.firstElementChild) for (const img of Array.from(el.getElementsByTagName('img'))) look(img);
    }
  }

  private work(): void {
    this.timer = undefined;
    const deadline = performance.now() + SLICE_MS;
    while (this.queue.length > 0 && performance.now() < deadline) {
      const { node, deep } = this.queue.shift() as { node: Node; deep: boolean };
      if (!node.isConnected && !(node instanceof ShadowRoot)) continue;
      if (!deep) {
        if (node instanceof Element) this.visit(node);
        continue;
      }
      // A deep walk is itself sliced: what is left of it goes back to the front of the queue.
      const walker = document.createTreeWalker(node, NodeFilter.SHOW_ELEMENT);
      let el: Node | null = node instanceof Element ? node : walker.nextNode();
      while (el) {
        this.visit(el as Element);
        if (performance.now() >= deadline) {
          const next = walker.nextNode();
          if (next) this.queue.unshift({ node: next, deep: true }, ...siblingsAfter(next, node));
          break;
        }
        el = walker.nextNode();
      }
    }
    if (this.queue.length > 0) this.timer = setTimeout(() => this.work(), 0);
  }

  private visit(el: Element): void {
    this.handlers.found(el, readSource(el));
    const shadow = el.shadowRoot;
    if (shadow && !this.seenRoots.has(shadow)) {
      this.watch(shadow);
      this.queue.push({ node: shadow, deep: true });
    } else if (!shadow && el.localName.includes('-') && el.matches(':not(:defined)')) {
      this.hostsToBe.add(el);
      if (!this.watchingResources) {
        this.watchingResources = true;
        this.resources.observe({ type: 'resource' });
      }
    }
  }

  private recheckHosts(): void {
    for (const el of this.hostsToBe) {
      if (el.shadowRoot) this.enqueue(el, false);
      if (el.shadowRoot || !el.isConnected || el.matches(':defined')) this.hostsToBe.delete(el);
    }
  }
}

/**
 * When a deep walk stops at `next`, the rest of the walk is `next`'s subtree plus everything
 * after it in document order within `root`: its following siblings and those of its ancestors.
 */
function siblingsAfter(next: Node, root: Node): Array<{ node: Node; deep: boolean }> {
  const rest: Array<{ node: Node; deep: boolean }> = [];
  for (let n: Node | null = next; n && n !== root; n = n.parentNode) {
    for (let s = n.nextSibling; s; s = s.nextSibling) if (s.nodeType === Node.ELEMENT_NODE) rest.push({ node: s, deep: true });
  }
  return rest;
}
