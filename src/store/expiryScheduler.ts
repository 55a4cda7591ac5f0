import type { Logger } from 'pino';
import { createBackoff } from '../domain/backoff.js';
import { RuleStoreError } from '../domain/errors.js';
import type { Backend } from './backend.js';

/** setTimeout's ceiling (about 24.8 days); longer delays are re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** Retry of a failed revert: 1 s doubling to 10 s, for as long as it fails. */
const RETRY = { minMs: 1000, maxMs: 10_000 };

/** How this store's expiry reverts are doing (part of `stats()`). */
export interface ExpiryStats {
  /** Reverts (or reads of the next expiry) that failed since the store opened. */
  readonly failures: number;
  /** True while a failed revert waits for its retry (a held writers' lock, the database away). */
  readonly retrying: boolean;
  /** True once the database refused a revert as read only (a hot standby): this store reverts nothing more. */
  readonly readOnly: boolean;
  /** The last failure's message, null if none. */
  readonly lastError: string | null;
}

/** Reverts expired states on time, in every process, written once in the database. */
export interface ExpiryScheduler {
  /** Reads the earliest expiry from the database and arms the timer. */
  start(): Promise<void>;
  /** A state with this expiry was seen in the log: arm earlier if needed. */
  noteExpiry(expiresAt: Date): void;
  /**
   * An expired state was read: revert it now, unless a revert is already waiting
   * for its retry or the database is read only (the retry, or the primary, does
   * it). Never throws: a failure is reported and retried like the timer's.
   */
  revertNow(ruleId: string): Promise<void>;
  readonly stats: ExpiryStats;
  close(): void;
}

/** True when the database refused the write as read only (Postgres hot standby, a read-only SQLite file). */
function isReadOnly(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === '25006' || code === 'SQLITE_READONLY') return true;
  }
  return false;
}

/**
 * Arms one timer for the earliest known expiry. When it fires, the backend's
 * conditional delete reverts every expired state (only the first process in a
 * swarm deletes anything; everyone sees the one event through the log), then the
 * next expiry is read with the database's clock, so client clock skew only
 * shifts a timer, never the decision.
 *
 * A revert that fails (the writers' lock held past `lockTimeoutMs`, the database
 * away) is reported through `onError` and retried with backoff until it
 * succeeds, never dropped and never wedging anything else. A database that
 * refuses it as read only (a hot standby) stops the reverts for good, reported
 * once: a standby cannot write, and a store on the primary reverts for it.
 */
export function createExpiryScheduler(backend: Backend, logger: Logger, onReverted: () => void, onError: (error: RuleStoreError) => void = () => {}): ExpiryScheduler {
  const log = logger.child({ component: 'store:expiry' });
  let timer: NodeJS.Timeout | null = null;
  let dueAt = Number.POSITIVE_INFINITY;
  let closed = false;
  /** The timer's revert in flight, if any (a revertNow meanwhile waits for it rather than racing it). */
  let running: Promise<void> | null = null;
  let rerun = false;
  /** Its `attempts` are the failures in a row (0: not retrying). */
  const backoff = createBackoff(RETRY);
  let failures = 0;
  let readOnly = false;
  let lastError: string | null = null;

  const arm = (delayMs: number): void => {
    if (closed || readOnly) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (timer && at >= dueAt) return;
    if (timer) clearTimeout(timer);
    dueAt = at;
    timer = setTimeout(() => void fire(), Math.min(Math.max(0, delayMs), MAX_DELAY_MS));
    timer.unref();
  };

  const failed = (error: unknown): void => {
    if (closed) return;
    failures++;
    lastError = (error as Error)?.message ?? String(error);
    if (isReadOnly(error)) {
      readOnly = true;
      if (timer) clearTimeout(timer);
      timer = null;
      log.warn({ event: 'store:expiry:read-only', err: error }, 'the database is read only: this store reverts no expired state (a store on the primary does)');
      onError(new RuleStoreError('WRITE_FAILED', 'reverting expired states: the database is read only (a hot standby?); expired states read as the default here, a store on the primary reverts them', { cause: error }));
      return;
    }
    const delay = backoff.next();
    log.warn({ event: 'store:expiry:retry', attempt: backoff.attempts, delayMs: delay, err: error }, 'reverting expired states failed; retrying');
    onError(RuleStoreError.is(error) ? error : new RuleStoreError('WRITE_FAILED', `reverting expired states: ${lastError}`, { cause: error }));
    arm(delay);
  };

  const succeeded = (reverted: readonly string[]): void => {
    if (backoff.attempts > 0) log.info({ event: 'store:expiry:recovered', attempts: backoff.attempts }, 'expired states reverted again');
    backoff.reset();
    if (reverted.length > 0) {
      log.info({ event: 'store:expiry:reverted', ruleIds: reverted }, 'expired states reverted');
      onReverted(); // a local write like any other: poll feeds do not hear their own commits
    }
  };

  const fire = async (): Promise<void> => {
    timer = null;
    dueAt = Number.POSITIVE_INFINITY;
    if (running) {
      rerun = true;
      return;
    }
    running = (async () => {
      try {
        succeeded(await backend.revertExpired());
        const next = await backend.msUntilNextExpiry();
        // A few ms of slack so that the database clock has surely passed the deadline.
        if (next !== null) arm(next + 5);
      } catch (error) {
        failed(error);
      }
    })();
    await running;
    running = null;
    if (rerun && !closed) {
      rerun = false;
      arm(0);
    }
  };

  return {
    async start() {
      const next = await backend.msUntilNextExpiry();
      if (next !== null) arm(next + 5);
    },
    noteExpiry(expiresAt) {
      arm(expiresAt.getTime() - Date.now() + 5);
    },
    async revertNow(ruleId) {
      if (closed || readOnly || backoff.attempts > 0) return;
      if (running) return running; // it reverts every expired state, this one included
      try {
        succeeded(await backend.revertExpired(ruleId));
      } catch (error) {
        failed(error);
      }
    },
    get stats() {
      return { failures, retrying: backoff.attempts > 0 && !readOnly && !closed, readOnly, lastError };
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
