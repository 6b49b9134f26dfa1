// What a badge says, in plain words. Pure, so the badge, the popup and the tests agree.

import { isGenerated } from '../detector/scores';
import type { BytesRoute, FailureReason, InputSummary, Verdict } from './protocol/shapes';

export type BadgeState = 'checking' | 'generated' | 'real' | 'failed';

export interface BadgeText {
  state: BadgeState;
  /** Short text on the badge itself: `words`, then `score` if there is one. */
  label: string;
  /** The label's words ("Likely generated", "Couldn't check: timed out"). */
  words: string;
  /** The label's score ("97%"), drawn apart so that it is never cut off; null without one. */
  score: string | null;
  /** Longer explanation for the tooltip. */
  title: string;
  /** What a screen reader announces. */
  ariaLabel: string;
}

const REASON_WORDS: Record<FailureReason, string> = {
  'http-error': 'server error',
  network: 'network error',
  timeout: 'timed out',
  'too-large': 'too large',
  'not-an-image': 'not an image',
  undecodable: 'could not decode',
  'unsupported-url': 'unsupported address',
  'blocked-address': 'local address blocked',
  'model-error': 'model error',
  'too-small': 'too small to judge',
};

export const FIXTURE_WARNING =
  'TEST MODEL: this score comes from a test model with random weights and means nothing.';
export const MODEL_LIMITS =
  'The model has only seen Stable Diffusion v1.4; other generators, small thumbnails and heavily compressed images make it less reliable.';

/** The published model's input (its evaluation code: Resize(256, 256), CenterCrop(224, 224)), for the About text. */
export const PUBLISHED_INPUT: InputSummary = { resize: 'square', size: 256, crop: 224 };

/** How a picture becomes the model's input, and what that means for what it sees. */
export function describePreparation(input: InputSummary): string {
  const { size, crop } = input;
  if (input.resize === 'square') {
    return (
      `Each picture is squeezed to ${size} × ${size} pixels and its centre ${crop} × ${crop} is judged: ` +
      'wide or tall pictures are distorted, their edges are not seen, and fine detail is lost in big pictures.'
    );
  }
  return (
    `Each picture is shrunk to ${size} pixels on its shorter side and its centre ${crop} × ${crop} is judged: ` +
    'the edges of wide or tall pictures are not seen, and fine detail is lost in big pictures.'
  );
}

export function percent(p: number): string {
  return `${Math.round(p * 100)}%`;
}

export function failureText(reason: FailureReason, detail: string): string {
  // An HTTP status says more than "server error".
  const status = /^HTTP \d{3}\b/.exec(detail);
  if (reason === 'http-error' && status) return status[0];
  return REASON_WORDS[reason];
}

/** How the bytes were had, when not plainly (the server refused the extension's first request). */
export const ROUTE_WORDS: Record<BytesRoute, string> = {
  referrer: "The server refused a plain request; the picture was fetched again with the page's address as referrer (no cookies).",
  cookies: "The server refused a plain request; the picture was fetched again with the page's address as referrer and this site's cookies, as you allowed in the options.",
  page: 'The server refused the extension; the page read the picture itself and handed it over (no cookies).',
};

export function describeVerdict(verdict: Verdict | null): BadgeText {
  if (!verdict) {
    return {
      state: 'checking',
      label: 'Checking…',
      words: 'Checking…',
      score: null,
      title: 'Realfake Lens is checking this image.',
      ariaLabel: 'Realfake Lens: checking',
    };
  }
  if (verdict.status === 'failed') {
    const why = failureText(verdict.reason, verdict.detail);
    return {
      state: 'failed',
      label: `Couldn't check: ${why}`,
      words: `Couldn't check: ${why}`,
      score: null,
      title: `Realfake Lens couldn't check this image: ${verdict.detail || why}.`,
      ariaLabel: `Realfake Lens: couldn't check, ${why}`,
    };
  }
  const generated = isGenerated(verdict.pGenerated, verdict.threshold);
  const pct = percent(verdict.pGenerated);
  const words = generated ? 'Likely generated' : 'Likely real';
  const lines = [
    `Realfake Lens: ${pct} probability that this image was generated (shown as "likely generated" from ${percent(verdict.threshold)}).`,
    `Model: ${verdict.model.name}.`,
  ];
  if (verdict.via) lines.push(ROUTE_WORDS[verdict.via]);
  if (verdict.model.fixture) lines.unshift(FIXTURE_WARNING);
  lines.push(MODEL_LIMITS);
  const shown = `${verdict.model.fixture ? 'TEST · ' : ''}${words}`;
  return {
    state: generated ? 'generated' : 'real',
    label: `${shown} ${pct}`,
    words: shown,
    score: pct,
    title: lines.join('\n'),
    // The visible words come whole and in order (WCAG 2.5.3, label in name: a person using speech
    // input says what they see); the bracketed part is for screen readers only.
    ariaLabel: `Realfake Lens: ${verdict.model.fixture ? 'TEST · ' : ''}${words} ${pct}${verdict.model.fixture ? ' (test model, meaningless)' : ''}`,
  };
}

export const SCORE_MEANING =
  "The score is the model's estimate of the probability that the picture was generated; it is not proof either way.";

export interface CardText {
  heading: string;
  /** Plain sentences, in the order shown. */
  lines: string[];
  /** A fixture model's score means nothing: shown as a warning. */
  warning: string | null;
}

/** The badge's card: everything a person needs to weigh one verdict. */
export function describeCard(verdict: Verdict | null): CardText {
  const badge = describeVerdict(verdict);
  if (!verdict) return { heading: badge.label, lines: ['The image is waiting for its turn or being judged on this computer.'], warning: null };
  if (verdict.status === 'failed') {
    return {
      heading: badge.label,
      lines: [verdict.detail ? `Details: ${verdict.detail}.` : '', 'Nothing was judged, so this says nothing about the image.'].filter(Boolean),
      warning: null,
    };
  }
  return {
    heading: `${isGenerated(verdict.pGenerated, verdict.threshold) ? 'Likely generated' : 'Likely real'} · ${percent(verdict.pGenerated)}`,
    lines: [
      `Score ${percent(verdict.pGenerated)}; images from ${percent(verdict.threshold)} up are shown as likely generated (your threshold).`,
      SCORE_MEANING,
      `Model: ${verdict.model.name}.`,
      verdict.model.input ? describePreparation(verdict.model.input) : '',
      MODEL_LIMITS,
      verdict.fromCache ? 'Remembered from an earlier check of the same picture.' : '',
      verdict.via ? ROUTE_WORDS[verdict.via] : '',
    ].filter(Boolean),
    warning: verdict.model.fixture ? FIXTURE_WARNING : null,
  };
}
