// What a badge says, in plain words. Pure, so the badge, the popup and the tests agree.

import type { FailureReason, Verdict } from './protocol';

export type BadgeState = 'checking' | 'generated' | 'real' | 'failed';

export interface BadgeText {
  state: BadgeState;
  /** Short text on the badge itself. */
  label: string;
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
};

export const FIXTURE_WARNING =
  'TEST MODEL: this score comes from a test model with random weights and means nothing.';
export const MODEL_LIMITS =
  'The model has only seen Stable Diffusion v1.4; other generators, small thumbnails and heavily compressed images make it less reliable.';

export function percent(p: number): string {
  return `${Math.round(p * 100)}%`;
}

export function failureText(reason: FailureReason, detail: string): string {
  // An HTTP status says more than "server error".
  if (reason === 'http-error' && /^HTTP \d{3}$/.test(detail)) return detail;
  return REASON_WORDS[reason];
}

export function describeVerdict(verdict: Verdict | null): BadgeText {
  if (!verdict) {
    return {
      state: 'checking',
      label: 'Checking…',
      title: 'Realfake Lens is checking this image.',
      ariaLabel: 'Realfake Lens: checking',
    };
  }
  if (verdict.status === 'failed') {
    const why = failureText(verdict.reason, verdict.detail);
    return {
      state: 'failed',
      label: `Couldn't check: ${why}`,
      title: `Realfake Lens couldn't check this image: ${verdict.detail || why}.`,
      ariaLabel: `Realfake Lens: couldn't check, ${why}`,
    };
  }
  const generated = verdict.pGenerated >= verdict.threshold;
  const pct = percent(verdict.pGenerated);
  const words = generated ? 'Likely generated' : 'Likely real';
  const lines = [
    `Realfake Lens: ${pct} probability that this image was generated (shown as "likely generated" from ${percent(verdict.threshold)}).`,
    `Model: ${verdict.model.name}.`,
  ];
  if (verdict.model.fixture) lines.unshift(FIXTURE_WARNING);
  lines.push(MODEL_LIMITS);
  return {
    state: generated ? 'generated' : 'real',
    label: `${verdict.model.fixture ? 'TEST · ' : ''}${words} ${pct}`,
    title: lines.join('\n'),
    ariaLabel: `Realfake Lens: ${words.toLowerCase()}, ${pct}${verdict.model.fixture ? ' (test model, meaningless)' : ''}`,
  };
}
