// How long the engine stays loaded without work: the setting (`engine.idleReleaseMs`), doubled
// each time a page asked for it again within the period it had just been released after, up to
// 8x; a request that comes later than that halves it back a step. A person who keeps browsing
// never waits for a cold start after each pause, and one who stopped gets the memory back after
// the setting's period (or a few times it, right after such a run of early comebacks).

/** At most 2^3 = 8 times the setting. */
export const MAX_IDLE_DOUBLINGS = 3;

/** The idle period after `streak` early comebacks in a row. 0 (never release) stays 0. */
export function idleReleaseFor(settingMs: number, streak: number): number {
  return settingMs * 2 ** Math.max(0, Math.min(MAX_IDLE_DOUBLINGS, Math.floor(streak)));
}

/**
 * The streak once the engine is asked for at `now`, having been released at `releasedAt` (null:
 * it was not released for being idle) after the period `idleReleaseFor(settingMs, streak)`.
 */
export function nextIdleStreak(streak: number, releasedAt: number | null, now: number, settingMs: number): number {
  if (releasedAt === null) return streak;
  const early = now - releasedAt < idleReleaseFor(settingMs, streak);
  return early ? Math.min(MAX_IDLE_DOUBLINGS, streak + 1) : Math.max(0, streak - 1);
}
