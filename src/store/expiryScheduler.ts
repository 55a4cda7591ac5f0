import type { Logger } from 'pino';
import type { Backend } from './backend.js';

/** setTimeout's ceiling (about 24.8 days); longer delays are re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1;
const RETRY_MS = 1000;

/** Reverts expired states on time, in every process, written once in the database. */
export interface ExpiryScheduler {
  /** Reads the earliest expiry from the database and arms the timer. */
  start(): Promise<void>;
  /** A state with this expiry was seen in the log: arm earlier if needed. */
  noteExpiry(expiresAt: Date): void;
  close(): void;
}

/**
 * Arms one timer for the earliest known expiry. When it fires, the backend's
 * conditional delete reverts every expired state (only the first process in a
 * swarm deletes anything; everyone sees the one event through the log), then the
 * next expiry is read with the database's clock, so client clock skew only
 * shifts a timer, never the decision.
 */
export function createExpiryScheduler(backend: Backend, logger: Logger, onReverted: () => void): ExpiryScheduler {
  const log = logger.child({ component: 'store:expiry' });
  let timer: NodeJS.Timeout | null = null;
  let dueAt = Number.POSITIVE_INFINITY;
  let closed = false;

  const arm = (delayMs: number): void => {
    if (closed) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (timer && at >= dueAt) return;
    if (timer) clearTimeout(timer);
    dueAt = at;
    timer = setTimeout(fire, Math.min(Math.max(0, delayMs), MAX_DELAY_MS));
    timer.unref();
  };

  const fire = async (): Promise<void> => {
    timer = null;
    dueAt = Number.POSITIVE_INFINITY;
    try {
      const reverted = await backend.revertExpired();
      if (reverted.length > 0) {
        log.info({ event: 'store:expiry:reverted', ruleIds: reverted }, 'expired states reverted');
        onReverted(); // a local write like any other: poll feeds do not hear their own commits
      }
      const next = await backend.msUntilNextExpiry();
      // A few ms of slack so that the database clock has surely passed the deadline.
      if (next !== null) arm(next + 5);
    } catch (error) {
      if (closed) return;
      log.warn({ event: 'store:expiry:retry', err: error }, 'reverting expired states failed; retrying');
      arm(RETRY_MS);
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
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
