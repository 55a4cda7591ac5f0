import type { Logger } from 'pino';
import { RuleStoreError } from '../domain/errors.js';

/** Default of `stallWarnMs`: how long a consumer may fail to read before the store logs at error level. */
export const DEFAULT_STALL_WARN_MS = 30_000;

/** Options of {@link createReadHealth}. */
export interface ReadHealthOptions {
  logger: Logger;
  /** A consumer that has not read successfully for this long is logged at error level (once per stall). */
  stallWarnMs: number;
  /** Where each `FEED_ERROR` goes (the store's `errors$`). */
  onError: (error: RuleStoreError) => void;
}

/**
 * Whether the store's log readers (the live reader, each `changesSince` replay)
 * make progress. A reader that fails calls `failed` on every attempt and
 * `progressed` once a read succeeds; in between it is stalled.
 */
export interface ReadHealth {
  /**
   * A read failed and will be retried in `retryMs`: emits a `FEED_ERROR` (the
   * first failure and every retry), and marks `consumer` stalled from its first failure.
   */
  failed(consumer: object, what: string, error: unknown, retryMs: number): void;
  /** A read succeeded, or the consumer went away: it is no longer stalled. */
  progressed(consumer: object): void;
  /** When the longest-stalled consumer first failed, or null when every read succeeds. */
  readonly stalledSince: Date | null;
  close(): void;
}

interface Stall {
  readonly since: Date;
  attempts: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Turns read failures into `FEED_ERROR`s and the `stalledSince` figure of
 * `stats()`. Silent retries were the problem this solves: a catch-up that kept
 * failing stalled without a word, because the logger is silent by default.
 */
export function createReadHealth(options: ReadHealthOptions): ReadHealth {
  const log = options.logger.child({ component: 'log:health' });
  const stalls = new Map<object, Stall>();
  let closed = false;
  return {
    failed(consumer, what, error, retryMs) {
      if (closed) return; // a read that was in flight when the store closed
      let stall = stalls.get(consumer);
      if (!stall) {
        const since = new Date();
        const started: Stall = { since, attempts: 0, timer: null };
        // A timer, not a check at the next failure: a retry that hangs still counts.
        started.timer = setTimeout(() => {
          started.timer = null;
          log.error(
            { event: 'log:reader:stalled', what, since: since.toISOString(), attempts: started.attempts, stallWarnMs: options.stallWarnMs },
            `${what} has made no progress for ${options.stallWarnMs} ms (failing since ${since.toISOString()}); still retrying`,
          );
        }, options.stallWarnMs);
        started.timer.unref();
        stalls.set(consumer, started);
        stall = started;
      }
      stall.attempts++;
      const cause = RuleStoreError.is(error) ? `${error.message} [${error.code}]` : error instanceof Error ? error.message : String(error);
      options.onError(
        new RuleStoreError('FEED_ERROR', `${what} failed (attempt ${stall.attempts}, failing since ${stall.since.toISOString()}; retrying in ${retryMs} ms): ${cause}`, { cause: error }),
      );
    },
    progressed(consumer) {
      const stall = stalls.get(consumer);
      if (!stall) return;
      if (stall.timer) clearTimeout(stall.timer);
      stalls.delete(consumer);
      log.info({ event: 'log:reader:recovered', since: stall.since.toISOString(), attempts: stall.attempts }, 'log reads succeed again');
    },
    get stalledSince() {
      let oldest: Date | null = null;
      for (const stall of stalls.values()) if (!oldest || stall.since < oldest) oldest = stall.since;
      return oldest;
    },
    close() {
      closed = true;
      for (const stall of stalls.values()) if (stall.timer) clearTimeout(stall.timer);
      stalls.clear();
    },
  };
}
