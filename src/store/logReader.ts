import { Observable, Subject } from 'rxjs';
import type { Logger } from 'pino';
import { createBackoff } from '../domain/backoff.js';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { decodeEvent, type LogEvent } from '../log/logEvent.js';
import { readLog } from '../log/readLog.js';
import type { Backend } from './backend.js';
import type { Tracing } from '../observability/tracing.js';
import type { ReadHealth } from './readHealth.js';

/** Options of {@link createLogReader}. */
export interface LogReaderOptions {
  backend: Backend;
  logger: Logger;
  pageSize: number;
  /** Byte budget of one page (see `readLog`). */
  pageBytes: number;
  maxRuleBytes: number;
  /** Called for every event read, decoded or not (the expiry scheduler watches state events). */
  onEvent?: (event: LogEvent) => void;
  /** Called for every decoded error (a stored row that does not compile). */
  onError: (error: RuleStoreError) => void;
  /** Told of every failed read (it emits `FEED_ERROR`) and every successful one. */
  health: ReadHealth;
  tracing: Tracing;
  /** Whether anyone listens for errors (a store nobody subscribes to skips compiling). */
  errorsObserved: () => boolean;
}

/** The store's single reader of the log: one watermark, one query per doorbell. */
export interface LogReader {
  /** Every change read, in position order, each exactly once. */
  readonly changes$: Observable<RuleChange>;
  /** The last position read (changes up to it have been emitted). */
  readonly watermark: bigint;
  /** Current subscriptions to `changes$` (every `changesSince` holds one). */
  readonly subscribers: number;
  /** Changes emitted since the store opened. */
  readonly delivered: number;
  /** Starts at `position` (the head when the store opened). */
  start(position: bigint): void;
  /** Asks for a read; reads are coalesced (at most one in flight, one queued). */
  pump(reason: string): void;
  /** Resolves once the reader has read everything up to `position`. */
  waitFor(position: bigint): Promise<void>;
  close(): void;
}

/** Retry of a failed read: 100 ms doubling to 2 s, from the same watermark. */
const RETRY = { minMs: 100, maxMs: 2000 };

/**
 * Creates the reader that turns the log into `RuleChange`s. On every doorbell it
 * reads past its watermark in pages (`readLog`) until the log is exhausted; a failed read is
 * retried with backoff from the same watermark, so nothing is skipped.
 */
export function createLogReader(options: LogReaderOptions): LogReader {
  const { backend, pageSize } = options;
  const log = options.logger.child({ component: 'log:reader' });
  const subject = new Subject<RuleChange>();
  let watermark = 0n;
  let started = false;
  let reading = false;
  let again = false;
  let closed = false;
  const backoff = createBackoff(RETRY);
  let retryTimer: NodeJS.Timeout | null = null;
  let subscribers = 0;
  let delivered = 0;
  const changes$ = new Observable<RuleChange>((subscriber) => {
    subscribers++;
    const inner = subject.subscribe(subscriber);
    return () => {
      subscribers--;
      inner.unsubscribe();
    };
  });
  const waiters: { position: bigint; resolve: () => void }[] = [];

  const settleWaiters = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.position <= watermark) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };

  const request = { maxEvents: pageSize, maxBytes: options.pageBytes, maxRuleBytes: options.maxRuleBytes };

  const readAll = async (): Promise<void> => {
    for (;;) {
      const page = await readLog(backend, watermark, request);
      if (closed) return;
      options.health.progressed(reader);
      const { events } = page;
      for (const event of events) {
        // Advance before emitting: a subscriber that joins during this emission
        // replays up to and including this position (see changesSince).
        watermark = event.position;
        options.onEvent?.(event);
        // Compiling a rule (YAML + validation) is the costly part: a store nobody
        // listens to (a writer, the CLI) only moves its watermark.
        if (subscribers === 0 && !options.errorsObserved()) continue;
        const item = decodeEvent(event, options.maxRuleBytes);
        if (item instanceof RuleValidationError) {
          log.warn({ event: 'log:reader:bad-row', code: item.code, ruleId: item.ruleId, position: item.position, reason: item.message }, 'stored rule cannot be used');
          options.onError(item);
        } else {
          delivered++;
          subject.next(item);
        }
      }
      // Holes and undecoded events included.
      if (page.through > watermark) watermark = page.through;
      if (events.length > 0 && options.tracing.enabled) {
        options.tracing.record('ttp.rule.publish', {
          'ttp.batch.size': events.length,
          'ttp.position.first': events[0]!.position.toString(),
          'ttp.position.last': events.at(-1)!.position.toString(),
          'ttp.subscribers': subscribers,
        });
      }
      settleWaiters();
      if (!page.more) return;
    }
  };

  const run = async (): Promise<void> => {
    reading = true;
    try {
      do {
        again = false;
        await readAll();
      } while (again && !closed);
      backoff.reset();
    } catch (error) {
      if (closed) return;
      const retryMs = backoff.next();
      const mapped = RuleStoreError.is(error) ? error : new RuleStoreError('FEED_ERROR', `reading the event log failed: ${String(error)}`, { cause: error });
      log.warn({ event: 'log:reader:retry', err: mapped, retryMs }, 'reading the event log failed; retrying');
      options.health.failed(reader, 'reading the event log', mapped, retryMs);
      retryTimer = setTimeout(() => {
        retryTimer = null;
        reader.pump('retry');
      }, retryMs);
    } finally {
      reading = false;
    }
  };

  const reader: LogReader = {
    changes$,
    get watermark() {
      return watermark;
    },
    get subscribers() {
      return subscribers;
    },
    get delivered() {
      return delivered;
    },
    start(position) {
      watermark = position;
      started = true;
    },
    pump(reason) {
      if (closed || !started) return;
      log.debug({ event: 'log:reader:doorbell', reason }, 'doorbell');
      if (reading) {
        again = true;
        return;
      }
      if (retryTimer) return; // a retry is already scheduled from the same watermark
      void run();
    },
    waitFor(position) {
      if (position <= watermark) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ position, resolve }));
    },
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      for (const w of waiters.splice(0)) w.resolve();
      subject.complete();
    },
  };
  return reader;
}
