// The engine's adaptive idle period (src/background/idle-release.ts), as a sequence of releases
// and comebacks a person browsing would cause.

import { describe, expect, it } from 'vitest';
import { idleReleaseFor, MAX_IDLE_DOUBLINGS, nextIdleStreak } from '../../src/background/idle-release';

const MIN = 60_000;
const SETTING = 5 * MIN;

describe('adaptive idle release', () => {
  it('doubles the period after each comeback within it, up to 8x the setting', () => {
    let streak = 0;
    let now = 0;
    const periods: number[] = [];
    for (let i = 0; i < 5; i++) {
      const period = idleReleaseFor(SETTING, streak);
      periods.push(period / MIN);
      // Released after `period` without work; asked for again 1 minute later.
      const releasedAt = now + period;
      now = releasedAt + MIN;
      streak = nextIdleStreak(streak, releasedAt, now, SETTING);
    }
    expect(periods).toEqual([5, 10, 20, 40, 40]);
    expect(streak).toBe(MAX_IDLE_DOUBLINGS);
  });

  it('steps back once requests come later than the period, down to the setting', () => {
    let streak = MAX_IDLE_DOUBLINGS;
    const periods: number[] = [];
    for (let i = 0; i < 5; i++) {
      const period = idleReleaseFor(SETTING, streak);
      periods.push(period / MIN);
      // Asked for again one period plus a minute after the release.
      streak = nextIdleStreak(streak, 0, period + MIN, SETTING);
    }
    expect(periods).toEqual([40, 20, 10, 5, 5]);
    expect(streak).toBe(0);
  });

  it('keeps the streak when the engine was not released for being idle, and never-release stays never', () => {
    expect(nextIdleStreak(2, null, 123, SETTING)).toBe(2);
    expect(idleReleaseFor(0, 3)).toBe(0);
    expect(idleReleaseFor(SETTING, -1)).toBe(SETTING);
  });
});
