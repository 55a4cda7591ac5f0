import { Subject } from 'rxjs';
import type { Logger } from 'pino';
import { RuleStoreError, StoreUnavailableError } from '../domain/errors.js';
import type { LogEvent } from '../log/logEvent.js';
import type { Backend } from './backend.js';
import { createExpiryScheduler } from './expiryScheduler.js';
import { createLogReader } from './logReader.js';
import { replayThenLive } from './replay.js';
import { createPublicReadLog } from './publicReadLog.js';
import { checkPosition } from '../domain/ruleChange.js';
import { createReadHealth } from './readHealth.js';
import { createRetention } from './retention.js';
import type { RuleStore } from './ruleStore.js';
import { createStoreReads } from './storeReads.js';
import { createStoreWrites } from './storeWrites.js';
import type { Tracing } from '../observability/tracing.js';

/** Settings shared by every backend (resolved defaults). */
export interface StoreSettings {
  logger: Logger;
  pageSize: number;
  /** Byte budget of one log page (`pageBytes`). */
  pageBytes: number;
  revertExpired: boolean;
  strict: boolean;
  maxRuleBytes: number;
  tracing: Tracing;
  /** A log reader that has failed for this long logs at error level (ms). */
  stallWarnMs: number;
}

/**
 * Builds the public store over one backend: the single log reader, replay,
 * expiry and compile logic are shared by Postgres and SQLite. This is the
 * wiring (reader, feed, expiry, retention, stats, start-up and close); the reads
 * are in storeReads.ts, the writes in storeWrites.ts.
 */
export async function createRuleStore(backend: Backend, settings: StoreSettings): Promise<RuleStore> {
  const log = settings.logger;
  const errors = new Subject<RuleStoreError>();
  let errorCount = 0;
  const reportError = (error: RuleStoreError): void => {
    errorCount++;
    errors.next(error);
  };
  const { tracing } = settings;
  const health = createReadHealth({ logger: log, stallWarnMs: settings.stallWarnMs, onError: reportError });
  const expiry = createExpiryScheduler(backend, log, () => afterWrite(), reportError);
  const onEvent = (event: LogEvent): void => {
    if (settings.revertExpired && event.entity === 'state' && event.state?.expiresAt) expiry.noteExpiry(event.state.expiresAt);
  };
  const reader = createLogReader({ backend, logger: log, pageSize: settings.pageSize, pageBytes: settings.pageBytes, maxRuleBytes: settings.maxRuleBytes, onEvent, onError: reportError, health, tracing, errorsObserved: () => errors.observed });
  const feed = backend.createFeed();
  const readLogPage = createPublicReadLog(backend, settings);
  const retention = createRetention(backend, log, (position) => store.changesSince(position));
  let closed = false;
  let lastHead = 0n;

  const ensureOpen = (): void => {
    if (closed) throw new RuleStoreError('STORE_CLOSED', 'the rule store is closed');
  };
  /**
   * Reads our own writes at once: a poll feed would not hear them before its next
   * tick (SQLite's data_version ignores this connection's commits), and on listen
   * it saves the doorbell's round trip (whose read then finds nothing).
   */
  function afterWrite(): void {
    reader.pump('local-write');
  }

  const reads = createStoreReads({ backend, maxRuleBytes: settings.maxRuleBytes, ensureOpen, expiry, reportError });
  const writes = createStoreWrites({ backend, strict: settings.strict, maxRuleBytes: settings.maxRuleBytes, tracing, ensureOpen, afterWrite });

  const store: RuleStore = {
    kind: backend.kind,
    changes$: reader.changes$,
    errors$: errors.asObservable(),

    ...reads,
    ...writes,

    changesSince(position) {
      ensureOpen();
      const from = checkPosition(position);
      return replayThenLive(from, { backend, reader, logger: log, pageSize: settings.pageSize, pageBytes: settings.pageBytes, maxRuleBytes: settings.maxRuleBytes, onError: reportError, health });
    },

    readLog: (after, options) => {
      ensureOpen();
      return readLogPage(after, options);
    },

    prune: (options) => {
      ensureOpen();
      return retention.prune(options);
    },
    consumers: () => {
      ensureOpen();
      return retention.consumers();
    },
    consumer: (name, options) => {
      ensureOpen();
      return retention.consumer(name, options);
    },

    async stats() {
      ensureOpen();
      const watermark = reader.watermark;
      // While reads fail, stats() still answers: with the last head it could read.
      const head = await backend.readHead().then((h) => (lastHead = h), () => (lastHead > watermark ? lastHead : watermark));
      return {
        kind: backend.kind,
        transport: feed.transport,
        position: watermark.toString(),
        head: head.toString(),
        lag: (head > watermark ? head - watermark : 0n).toString(),
        delivered: reader.delivered,
        reconnects: feed.reconnects,
        errors: errorCount,
        subscribers: reader.subscribers,
        stalledSince: health.stalledSince,
        expiry: expiry.stats,
      };
    },

    position: () => reader.watermark.toString(),

    waitForPosition(position) {
      return reader.waitFor(checkPosition(position));
    },

    async close() {
      if (closed) return;
      closed = true;
      expiry.close();
      await feed.close();
      reader.close();
      health.close();
      errors.complete();
      await backend.close();
      log.info({ component: 'store', event: 'store:close' }, 'rule store closed');
    },
  };

  // Listen first, then read the head: a doorbell rung in between is not lost,
  // and the reader starts live from the head.
  try {
    await feed.start((reason) => reader.pump(reason));
    reader.start(await backend.readHead());
    if (settings.revertExpired) await expiry.start();
  } catch (error) {
    expiry.close();
    await feed.close().catch(() => {});
    await backend.close().catch(() => {});
    throw RuleStoreError.is(error) ? error : new StoreUnavailableError(`could not start the change feed: ${(error as Error).message}`, { cause: error });
  }
  reader.pump('open');
  log.info({ component: 'store', event: 'store:open', kind: backend.kind, position: reader.watermark.toString() }, 'rule store open');
  return store;
}
