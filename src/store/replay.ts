import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { decodeEvent } from '../log/logEvent.js';
import type { Backend } from './backend.js';
import type { LogReader } from './logReader.js';

/** Options of {@link replayThenLive}. */
export interface ReplayOptions {
  backend: Backend;
  reader: LogReader;
  logger: Logger;
  pageSize: number;
  maxRuleBytes?: number;
  onError: (error: RuleStoreError) => void;
}

const RETRY_MAX_MS = 2000;

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
 */
export function replayThenLive(from: bigint, options: ReplayOptions): Observable<RuleChange> {
  const { backend, reader, pageSize } = options;
  const log = options.logger.child({ component: 'log:replay' });
  return new Observable<RuleChange>((subscriber) => {
    let last = from;
    let live = false;
    let closed = false;
    const buffer: RuleChange[] = [];
    const emit = (change: RuleChange): void => {
      const position = BigInt(change.position);
      if (position <= last) return;
      last = position;
      subscriber.next(change);
    };
    const liveSubscription = reader.changes$.subscribe({
      next: (change) => (live ? emit(change) : buffer.push(change)),
      error: (error) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    const upTo = reader.watermark;

    const replay = async (): Promise<void> => {
      let retryMs = 100;
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
          break;
        } catch (error) {
          log.warn({ event: 'log:replay:retry', err: error, retryMs }, 'reading the log head failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, retryMs));
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
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
      while (!closed && last < upTo) {
        try {
          const events = await backend.readEvents(last, pageSize, upTo);
          if (closed) return;
          if (events.length === 0) break;
          for (const event of events) {
            const decoded = decodeEvent(event, options.maxRuleBytes);
            if (decoded instanceof RuleValidationError) {
              options.onError(decoded);
              last = event.position;
            } else {
              emit(decoded);
            }
            if (closed) return;
          }
          retryMs = 100;
        } catch (error) {
          log.warn({ event: 'log:replay:retry', err: error, retryMs }, 'replay read failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, retryMs));
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        }
      }
      if (closed) return;
      for (const change of buffer.splice(0)) emit(change);
      live = true;
    };
    void replay().catch((error) => subscriber.error(error));
    return () => {
      closed = true;
      liveSubscription.unsubscribe();
    };
  });
}
