/** Bounds of a {@link createBackoff} sequence. */
export interface BackoffOptions {
  /** The first delay, ms. */
  minMs: number;
  /** The ceiling the doubling stops at, ms. */
  maxMs: number;
}

/** A retry delay that doubles after each failure up to a ceiling and starts over after a success. */
export interface Backoff {
  /** The delay to wait before the next retry; the one after it is doubled (at most `maxMs`). */
  next(): number;
  /** A success: the next delay is `minMs` again and `attempts` is 0. */
  reset(): void;
  /** Failures (calls of `next`) since the last `reset`. */
  readonly attempts: number;
}

/**
 * Creates the retry delay every retry loop of the store and the NATS bridge uses:
 * `minMs`, then doubling, never above `maxMs`, back to `minMs` on `reset()`.
 * Pure: it only counts; the caller sleeps.
 *
 * @example
 * const backoff = createBackoff({ minMs: 100, maxMs: 2000 });
 * backoff.next(); // 100
 * backoff.next(); // 200
 * backoff.reset();
 * backoff.next(); // 100
 */
export function createBackoff(options: BackoffOptions): Backoff {
  const { minMs, maxMs } = options;
  let current = minMs;
  let attempts = 0;
  return {
    next() {
      const delay = current;
      current = Math.min(current * 2, maxMs);
      attempts++;
      return delay;
    },
    reset() {
      current = minMs;
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
