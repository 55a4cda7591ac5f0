import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { createBackoff } from '../domain/backoff.js';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { decodeEvent } from '../log/logEvent.js';
import { readLog } from '../log/readLog.js';
import type { Backend } from './backend.js';
import type { LogReader } from './logReader.js';
import type { ReadHealth } from './readHealth.js';

/** Options of {@link replayThenLive}. */
export interface ReplayOptions {
  backend: Backend;
  reader: LogReader;
  logger: Logger;
  pageSize: number;
  /** Byte budget of one page (see `readLog`). */
  pageBytes: number;
  maxRuleBytes: number;
  onError: (error: RuleStoreError) => void;
  /** Told of every failed read (it emits `FEED_ERROR`) and every successful one. */
  health: ReadHealth;
}

/** Retry of a failed replay read: 100 ms doubling to 2 s. */
const RETRY = { minMs: 100, maxMs: 2000 };

/**
 * `changesSince(from)`: replays the log after `from`, then goes live, with no gap
 * and no duplicate at the seam.
 *
 * The live stream is subscribed first and buffered. The replay reads the log
 * from `from` up to the reader's watermark at that moment (`upTo`): the live
 * stream delivers exactly the positions above `upTo`, because the reader moves
 * its watermark before emitting. Then the buffer is flushed and the stream runs
 * live. Every emission is filtered by `position > last`, which also covers a
 * consumer that is ahead of this store. A failed replay read is retried with
 * backoff from where it stopped, so a lost connection costs time, never data.
 *
 * Memory while replaying (a long catch-up, or one stalled on failing reads) is
 * bounded: at most `pageSize` live changes are buffered. Beyond that the buffer
 * is dropped, and once the replay reaches `upTo` it goes on reading the log up to
 * the reader's new watermark (the log holds what was dropped), then tries the
 * seam again.
 */
export function replayThenLive(from: bigint, options: ReplayOptions): Observable<RuleChange> {
  const { backend, reader, pageSize } = options;
  const log = options.logger.child({ component: 'log:replay' });
  return new Observable<RuleChange>((subscriber) => {
    let last = from;
    let live = false;
    let closed = false;
    let overflowed = false;
    const buffer: RuleChange[] = [];
    const health = {}; // this subscription, as a consumer that can stall
    const failed = (what: string, error: unknown, retryMs: number): void => {
      log.warn({ event: 'log:replay:retry', err: error, retryMs }, `${what} failed; retrying`);
      options.health.failed(health, `changesSince(${from}): ${what}`, error, retryMs);
    };
    const buffered = (change: RuleChange): void => {
      if (overflowed) return;
      if (buffer.length < pageSize) buffer.push(change);
      else {
        overflowed = true;
        buffer.length = 0;
        log.warn({ event: 'log:replay:overflow', from: from.toString(), buffered: pageSize }, 'live changes outran the replay: dropped from memory, to be read from the log');
      }
    };
    const emit = (change: RuleChange): void => {
      const position = BigInt(change.position);
      if (position <= last) return;
      last = position;
      subscriber.next(change);
    };
    const liveSubscription = reader.changes$.subscribe({
      next: (change) => (live ? emit(change) : buffered(change)),
      error: (error) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    let upTo = reader.watermark;

    const replay = async (): Promise<void> => {
      const backoff = createBackoff(RETRY);
      // A position beyond the head was never handed out by this log (another
      // database, or one restored from an older backup): following it would wait,
      // silently, until the log grew past it and then skip everything before.
      // Refused instead. Only asked when the reader has not yet seen that far.
      while (!closed && from > upTo) {
        try {
          const head = await backend.readHead();
          if (from > head) {
            subscriber.error(
              new RuleStoreError('POSITION_INVALID', `position ${from} is beyond the head of the log (${head}): it does not come from this database (or the database was restored from an older backup); resume from a position this store handed out, or from 0`),
            );
            return;
          }
          options.health.progressed(health);
          break;
        } catch (error) {
          const retryMs = backoff.next();
          failed('reading the log head', error, retryMs);
          await new Promise((resolve) => setTimeout(resolve, retryMs));
        }
      }
      if (closed) return;
      const prunedThrough = await backend.readPrunedThrough().catch(() => 0n);
      if (from < prunedThrough) {
        // Not a hole: compaction keeps every rule's newest event, deletions
        // included, so the replay still ends at the database's state. But the
        // versions in between are gone, and the consumer should know.
        log.warn({ event: 'log:replay:compacted', from: from.toString(), prunedThrough: prunedThrough.toString() }, 'resuming from below the retained log: compacted replay');
        options.onError(
          new RuleStoreError(
            'LOG_TRUNCATED',
            `position ${from} is older than the retained log (compacted through ${prunedThrough}): replaying every rule's latest version and every deletion since, without the versions in between`,
          ),
        );
      }
      for (;;) {
        await replayTo(upTo);
        if (closed || !overflowed) break;
        // Every live change up to the reader's watermark has been emitted (and
        // dropped) by now, and every later one reaches the buffer.
        overflowed = false;
        upTo = reader.watermark;
      }
      if (closed) return;
      for (const change of buffer.splice(0)) emit(change);
      live = true;
    };
    const request = { maxEvents: pageSize, maxBytes: options.pageBytes, maxRuleBytes: options.maxRuleBytes };
    const replayTo = async (target: bigint): Promise<void> => {
      const backoff = createBackoff(RETRY);
      while (!closed && last < target) {
        try {
          const page = await readLog(backend, last, { ...request, upTo: target });
          if (closed) return;
          options.health.progressed(health);
          for (const event of page.events) {
            const item = decodeEvent(event, options.maxRuleBytes);
            if (item instanceof RuleValidationError) {
              options.onError(item);
              last = event.position;
            } else {
              emit(item);
            }
            if (closed) return;
          }
          // Holes and invalid rows included: the next page starts after them.
          if (page.through > last) last = page.through;
          if (!page.more) break;
          backoff.reset();
        } catch (error) {
          const retryMs = backoff.next();
          failed('reading the log', error, retryMs);
          await new Promise((resolve) => setTimeout(resolve, retryMs));
        }
      }
    };
    void replay().catch((error) => subscriber.error(error));
    return () => {
      closed = true;
      options.health.progressed(health);
      liveSubscription.unsubscribe();
    };
  });
}
