import type { Logger } from 'pino';
import { RuleStoreError } from '../domain/errors.js';
import type { NamedConsumer } from '../store/ruleStore.js';

/** Options of {@link createCheckpointer}. */
export interface CheckpointerOptions {
  consumer: NamedConsumer;
  /** The checkpoint already stored. */
  start: bigint;
  /** Save after this many acknowledged positions… */
  every: number;
  /** …or this long after the first unsaved one, ms. */
  intervalMs: number;
  logger: Logger;
  onSaved: (position: bigint) => void;
  onError: (error: RuleStoreError) => void;
}

/** Batched checkpoints of acknowledged positions: see {@link createCheckpointer}. */
export interface Checkpointer {
  /** The last checkpoint stored. */
  readonly saved: bigint;
  /** Records that everything up to `position` is acknowledged; saves when a batch is due. */
  acknowledge(position: bigint): void;
  /** Saves what is acknowledged now (one write at a time; a failure is reported, not thrown). */
  flush(): Promise<void>;
  /** Stops the timer; call `flush()` first to keep the last batch. */
  close(): void;
}

/**
 * Stores a durable consumer's checkpoint in batches: after `every` acknowledged
 * positions or `intervalMs` after the first unsaved one, whichever comes first.
 * Writes never overlap and never go backwards; a failed write (database down) is
 * reported and retried on the next batch or timer, and never stops the caller:
 * a late checkpoint only means republishing a few messages after a restart.
 */
export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  let acknowledged = options.start;
  let saved = options.start;
  let unsaved = 0;
  let timer: NodeJS.Timeout | null = null;
  let saving: Promise<void> | null = null;
  let due = false;
  let closed = false;

  const schedule = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, options.intervalMs);
  };

  const flush = async (): Promise<void> => {
    while (saving) await saving;
    if (acknowledged <= saved) return;
    const target = acknowledged;
    unsaved = 0;
    saving = options.consumer
      .checkpoint(target)
      .then(() => {
        saved = target;
        options.onSaved(target);
        options.logger.debug({ event: 'bridge:nats:checkpoint', position: target.toString() }, 'checkpoint stored');
      })
      .catch((error: unknown) => {
        options.logger.warn({ event: 'bridge:nats:checkpoint-failed', err: error }, 'storing the checkpoint failed; will retry');
        options.onError(RuleStoreError.is(error) ? error : new RuleStoreError('WRITE_FAILED', `storing the bridge checkpoint failed: ${String(error)}`, { cause: error }));
        schedule();
      })
      .finally(() => {
        saving = null;
      });
    await saving;
  };

  return {
    get saved() {
      return saved;
    },
    acknowledge(position) {
      if (position <= acknowledged) return;
      acknowledged = position;
      unsaved++;
      if (unsaved >= options.every && !due) {
        due = true;
        void flush().finally(() => (due = false));
      } else {
        schedule();
      }
    },
    flush,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
