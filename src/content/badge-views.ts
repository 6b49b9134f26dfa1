// The boxes of the badge layer, built from structured data: a badge (state, words, score, what
// the file declares), the cover of a suspected picture (blur or hide until clicked) and the card
// with the details. Each view is computed from the verdict first, then drawn; nothing here reads
// text back out of the DOM, places a box or keeps state.

import type { Verdict } from '../shared/protocol/shapes';
import { describeEvidence, type EvidenceText } from '../shared/evidence-text';
import { describeCard, describeVerdict, type BadgeState, type CardText } from '../shared/verdict-text';
import type { SourceKind } from './sources';

export interface BadgeView {
  state: BadgeState;
  src: string;
  kind: SourceKind;
  /** The model's score, for a judged picture. */
  p: number | null;
  /** Why it could not be checked. */
  reason: string | null;
  /** Words and score together, as a cover says them. */
  label: string;
  words: string;
  /** Drawn apart from the words, which a narrow picture cuts off first. */
  score: string | null;
  /** The file declares itself AI-made (C2PA, IPTC, generator parameters): said beside the score. */
  declaresAI: boolean;
  title: string;
  ariaLabel: string;
  /** A "likely real" badge the user switched off. */
  off: boolean;
}

export function badgeView(url: string, kind: SourceKind, verdict: Verdict | null, showRealBadges: boolean): BadgeView {
  const text = describeVerdict(verdict);
  const evidence = verdict?.status === 'done' ? describeEvidence(verdict.evidence) : null;
  const declaresAI = evidence?.declaresAI ?? false;
  return {
    state: text.state,
    src: url,
    kind,
    p: verdict?.status === 'done' ? verdict.pGenerated : null,
    reason: verdict?.status === 'failed' ? verdict.reason : null,
    label: text.label,
    // The space before the score is the words' (the badge keeps white space as written).
    words: text.score ? `${text.words} ` : text.words,
    score: text.score,
    declaresAI,
    title: evidence ? `${text.title}\n${evidence.label}` : text.title,
    // As seen, then what the file says: "… 97% · declared AI: Declared AI-generated (C2PA, signed by …)".
    ariaLabel: declaresAI && evidence ? `${text.ariaLabel} · declared AI: ${evidence.label}` : text.ariaLabel,
    // "Likely real" badges can be switched off; the others always show.
    off: text.state === 'real' && !showRealBadges,
  };
}

function button(className: string | null, text?: string): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  if (className) b.className = className;
  if (text !== undefined) b.textContent = text;
  return b;
}

function span(className: string, text: string): HTMLSpanElement {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

/** A trusted click only (a page's script can dispatch clicks into the layer's boxes' listeners). */
function onTrustedClick(el: HTMLElement, act: (e: MouseEvent) => void): void {
  el.addEventListener('click', (e) => {
    if (e.isTrusted) act(e);
  });
}

/** A badge button, hidden until the layout first places it (drawn at a wrong spot for one frame, it would flash there and count as a layout shift). */
export function createBadge(onOpen: () => void): HTMLButtonElement {
  const badge = button('badge');
  badge.setAttribute('aria-haspopup', 'dialog');
  badge.setAttribute('aria-expanded', 'false');
  badge.hidden = true;
  onTrustedClick(badge, (e) => {
    e.stopPropagation();
    onOpen();
  });
  return badge;
}

export function drawBadge(badge: HTMLButtonElement, view: BadgeView): void {
  badge.dataset.state = view.state;
  badge.dataset.src = view.src;
  badge.dataset.kind = view.kind;
  if (view.p !== null) badge.dataset.p = String(view.p);
  else delete badge.dataset.p;
  if (view.reason !== null) badge.dataset.reason = view.reason;
  else delete badge.dataset.reason;
  const parts: HTMLElement[] = [span('words', view.words)];
  if (view.score) parts.push(span('score', view.score));
  if (view.declaresAI) parts.push(span('declared', ' · declared AI'));
  badge.replaceChildren(...parts);
  badge.dataset.declaresAi = String(view.declaresAI);
  badge.title = view.title;
  badge.setAttribute('aria-label', view.ariaLabel);
  badge.dataset.off = String(view.off);
}

export interface CoverView {
  mode: 'blur' | 'hide';
  src: string;
  /** The badge's label, said on the cover. */
  label: string;
}

export function createCover(onReveal: () => void): HTMLButtonElement {
  const cover = button('cover');
  cover.hidden = true;
  onTrustedClick(cover, (e) => {
    e.stopPropagation();
    e.preventDefault();
    onReveal();
  });
  return cover;
}

export function drawCover(cover: HTMLButtonElement, view: CoverView): void {
  const blur = view.mode === 'blur';
  cover.dataset.mode = view.mode;
  cover.dataset.src = view.src;
  cover.textContent = `${blur ? 'Blurred' : 'Hidden'} by Realfake Lens: ${view.label}. Click to show.`;
  cover.setAttribute('aria-label', `Realfake Lens ${blur ? 'blurred' : 'hid'} this image (${view.label}). Show it`);
}

export interface CardView {
  text: CardText;
  /** The score against the threshold, drawn as a bar, for a judged picture. */
  bar: { p: number; threshold: number } | null;
  /** What the file says about itself, kept apart from the model's score. */
  evidence: EvidenceText | null;
  /** Whether the user reported this verdict as a mistake; null: nothing to report (not judged). */
  reported: boolean | null;
  /** The picture is covered: the card offers to show it. */
  covered: boolean;
}

export function cardView(verdict: Verdict | null, reported: boolean, covered: boolean): CardView {
  const done = verdict?.status === 'done' ? verdict : null;
  return {
    text: describeCard(verdict),
    bar: done ? { p: done.pGenerated, threshold: done.threshold } : null,
    evidence: done && done.evidence?.state !== 'none' ? describeEvidence(done.evidence) : null,
    reported: done ? reported : null,
    covered,
  };
}

export function createCard(): HTMLDivElement {
  const el = document.createElement('div');
  el.className = 'card';
  el.setAttribute('role', 'dialog');
  el.setAttribute('aria-label', 'Realfake Lens: about this image');
  el.addEventListener('click', (e) => e.stopPropagation());
  return el;
}

export interface CardActions {
  report(): void;
  show(): void;
  close(): void;
}

function paragraph(text: string, className?: string): HTMLParagraphElement {
  const p = document.createElement('p');
  if (className) p.className = className;
  p.textContent = text;
  return p;
}

/** Fills the card; returns its buttons that take the focus (the first one, the report button). */
export function drawCard(el: HTMLDivElement, view: CardView, actions: CardActions): { first: HTMLButtonElement; report: HTMLButtonElement | null } {
  const heading = document.createElement('h2');
  heading.textContent = view.text.heading;
  const parts: HTMLElement[] = [heading];
  if (view.bar) {
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('span');
    fill.style.width = `${Math.round(view.bar.p * 100)}%`;
    const mark = document.createElement('i');
    mark.style.left = `${Math.round(view.bar.threshold * 100)}%`;
    bar.append(fill, mark);
    parts.push(bar);
  }
  if (view.evidence) {
    const e = document.createElement('p');
    e.className = 'evidence';
    e.dataset.declaresAi = String(view.evidence.declaresAI);
    const label = document.createElement('strong');
    label.textContent = view.evidence.label;
    const more = document.createElement('span');
    more.textContent = view.evidence.text;
    e.append(label, document.createElement('br'), more);
    parts.push(e);
  }
  if (view.text.warning) parts.push(paragraph(view.text.warning, 'warning'));
  for (const line of view.text.lines) parts.push(paragraph(line));
  const box = document.createElement('div');
  box.className = 'actions';
  let report: HTMLButtonElement | null = null;
  if (view.reported !== null) {
    report = button(null, view.reported ? 'Reported as a mistake (undo)' : 'Report a mistake');
    report.dataset.action = 'report';
    report.dataset.reported = String(view.reported);
    onTrustedClick(report, () => actions.report());
    box.append(report);
  }
  if (view.covered) {
    const show = button(null, 'Show the image');
    onTrustedClick(show, () => actions.show());
    box.append(show);
  }
  const close = button(null, 'Close');
  onTrustedClick(close, () => actions.close());
  box.append(close);
  parts.push(box);
  el.replaceChildren(...parts);
  return { first: box.firstElementChild as HTMLButtonElement, report };
}
