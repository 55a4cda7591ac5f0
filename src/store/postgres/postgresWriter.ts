import type { PendingQuery, ReservedSql, Row, Sql } from 'postgres';
import { LockTimeoutError, type WriterLockBlocker } from '../../domain/errors.js';
import { describeBlocker, readWriterLockBlockers } from './writerLockBlockers.js';

/** Runs the store's writes: one transaction each, with a bounded wait. */
export interface PostgresWriter {
  /**
   * Runs `body` in one transaction on a write connection. The whole wait (for a
   * write connection, then for any lock, the writers' lock first) is at most
   * `lockTimeoutMs`; past it the write fails with {@link LockTimeoutError}
   * naming who held the lock, and nothing was written.
   */
  transaction<T>(what: string, body: (tx: Sql) => Promise<T>): Promise<T>;
  /**
   * The same for one statement, in one round trip: BEGIN, the setting, the
   * statement `build` returns (not yet awaited) and COMMIT go out pipelined.
   */
  statement(what: string, build: (tx: Sql) => PendingQuery<Row[]>): Promise<Row[]>;
}

/** Options of {@link createPostgresWriter}. */
export interface PostgresWriterOptions {
  /** The write pool: a few connections of their own, so that blocked writes never hold a read's connection. */
  writes: Sql;
  /** The read pool, used to name the blockers after a timeout (it waits on no lock). */
  reads: Sql;
  lockTimeoutMs: number;
}

/** SQLSTATE lock_not_available: `lock_timeout` expired. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Builds the writer. `lock_timeout` is set with `set_config(…, true)` (SET LOCAL)
 * in each transaction rather than on the session, so that it holds behind a
 * transaction pooler too and never leaks to another client; BEGIN and the
 * setting go out pipelined ahead of the body, costing no extra round trip.
 */
export function createPostgresWriter(options: PostgresWriterOptions): PostgresWriter {
  const { writes, reads, lockTimeoutMs } = options;

  const timedOut = async (what: string, waited: string, cause: unknown): Promise<LockTimeoutError> => {
    let blockers: WriterLockBlocker[] = [];
    let named: string;
    try {
      blockers = await readWriterLockBlockers(reads);
      named = blockers.length > 0 ? `held by ${blockers.map(describeBlocker).join('; ')}` : 'free now (the holder has just finished: try again)';
    } catch (error) {
      named = `held by a session this role cannot name (${(error as Error).message}): grant EXECUTE on ttp_rule_writer_lock_blockers() to this role, or run \`ttp-rules doctor\``;
    }
    return new LockTimeoutError(`${what}: waited ${lockTimeoutMs} ms (lockTimeoutMs) for ${waited} and gave up, nothing written; the writers' lock is ${named}`, blockers, { cause });
  };

  const reserve = async (what: string, deadline: number): Promise<ReservedSql> => {
    const pending = writes.reserve();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.max(0, deadline - performance.now()))));
    const connection = await Promise.race([pending, late]).finally(() => clearTimeout(timer));
    if (connection === null) {
      // Give the connection back as soon as it comes; the write never ran.
      pending.then((c) => c.release(), () => {});
      throw await timedOut(what, "a write connection (each one waits for the writers' lock)", null);
    }
    return connection;
  };

  /** A failed statement (a timeout named), after the transaction is over. */
  const failure = async (what: string, error: unknown): Promise<unknown> =>
    (error as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE ? timedOut(what, "the writers' lock", error) : error;

  return {
    async statement(what, build) {
      const deadline = performance.now() + lockTimeoutMs;
      const tx = await reserve(what, deadline);
      try {
        const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
        // Sent in this order, now: execute() writes the query at once, where awaiting
        // a query would send it a microtask later (after the COMMIT).
        const sent = [
          tx`BEGIN`.execute(),
          tx`SELECT set_config('lock_timeout', ${`${remaining}ms`}, true)`.execute(),
          build(tx).execute(),
          tx`COMMIT`.execute(),
        ] as const;
        // A failed statement makes the COMMIT a ROLLBACK: wait for all four, then judge.
        const settled = await Promise.allSettled(sent);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw await failure(what, failed.reason);
        const commit = settled[3] as PromiseFulfilledResult<Awaited<(typeof sent)[3]>>;
        if (commit.value.command !== 'COMMIT') throw new Error(`${what}: the transaction was rolled back (${commit.value.command})`);
        return (settled[2] as PromiseFulfilledResult<Row[]>).value;
      } finally {
        tx.release();
      }
    },

    async transaction(what, body) {
      const deadline = performance.now() + lockTimeoutMs;
      const tx = await reserve(what, deadline);
      try {
        const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
        const begin = tx`BEGIN`.execute();
        const setting = tx`SELECT set_config('lock_timeout', ${`${remaining}ms`}, true)`.execute();
        // Handled here, awaited below: a failed BEGIN must not be an unhandled rejection meanwhile.
        begin.catch(() => {});
        setting.catch(() => {});
        try {
          const result = await body(tx);
          await begin;
          await setting;
          // A statement that failed inside `body` but was caught there leaves an aborted
          // transaction, whose COMMIT answers ROLLBACK without an error: never acknowledge that.
          const commit = await tx`COMMIT`;
          if (commit.command !== 'COMMIT') throw new Error(`${what}: the transaction was rolled back (${commit.command})`);
          return result;
        } catch (error) {
          await tx`ROLLBACK`.catch(() => {});
          throw await failure(what, error);
        }
      } finally {
        tx.release();
      }
    },
  };
}
