// A promise raced against a timer that is cleared either way: the background's request and write
// bounds, the metadata reader's time cap, and the tests' bounded reads share it.

/** `work`'s outcome, or `onTimeout()`'s value once `ms` have passed first. */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
