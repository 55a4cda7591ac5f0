import { MigrationRequiredError, RuleStoreError, StoreUnavailableError } from '../../domain/errors.js';

/**
 * Result-code prefixes (better-sqlite3 puts the extended code, e.g.
 * `SQLITE_BUSY_SNAPSHOT`, in `code`) that mean "the file cannot be used right
 * now": another writer holds the lock past the busy timeout, or the file is
 * missing, unreadable or not a database. (An I/O error is one of these for a
 * read; a write that meets one is `WRITE_FAILED`, see {@link WRITE_REFUSALS}.)
 */
const UNAVAILABLE_PREFIXES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_PROTOCOL'];

/**
 * Result-code prefixes that refuse a write, with what a person can do about it.
 * Each of these rolls the call's transaction back: every write runs in an
 * explicit transaction whose COMMIT is checked, so none of it was acknowledged.
 */
const WRITE_REFUSALS: readonly (readonly [prefix: string, reason: string])[] = [
  ['SQLITE_FULL', 'the disk is full: free space on the file system that holds the SQLite database (its -wal file grows with every write until a checkpoint), then retry'],
  ['SQLITE_IOERR', 'an I/O error while writing the SQLite database: the disk may be full, failing or gone (an unmounted or network file system); check the file system, then retry'],
  ['SQLITE_READONLY', 'the SQLite database is read only: the file, its folder (SQLite creates -wal and -shm files beside it) or the mount is not writable by this process'],
  ['SQLITE_PERM', 'permission denied writing the SQLite database'],
  ['SQLITE_NOMEM', 'SQLite ran out of memory'],
];

const CHECK_FAILED = /CHECK constraint failed: ([A-Za-z0-9_]+)/;

/** True for SQLITE_BUSY (and its extended codes): another connection holds the lock this one needs. */
export function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** True for errors that mean "the database cannot be used right now" (retry later). */
export function isSqliteUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_PREFIXES.some((prefix) => code.startsWith(prefix));
}

/**
 * Maps a better-sqlite3 error to a {@link RuleStoreError} by its result code,
 * keeping the original as `cause`. `what` says what was being done, for the
 * message. A CHECK constraint on `ttp_rule_state` becomes `STATE_INVALID`, one
 * on `ttp_rule` `RULE_INVALID` (every constraint in sql/sqlite is named after
 * its table, as on Postgres). For a write (`access: 'write'`, the default), a
 * full disk, an I/O error or a read-only file is `WRITE_FAILED` with the reason
 * ("the disk is full", "read only", …); a read that fails for a reason outside
 * the caller's input is `STORE_UNAVAILABLE`, never `WRITE_FAILED`.
 *
 * @example throw mapSqliteError(error, 'set the state of R1') // WRITE_FAILED: set the state of R1: the disk is full: …
 */
export function mapSqliteError(error: unknown, what: string, access: 'read' | 'write' = 'write'): RuleStoreError {
  if (RuleStoreError.is(error)) return error;
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const detail = typeof e?.message === 'string' ? e.message : String(error);
  if (error instanceof TypeError && /database connection is not open/i.test(detail)) {
    return new RuleStoreError('STORE_CLOSED', `${what}: the SQLite connection is closed`, { cause: error });
  }
  const refusal = access === 'write' ? WRITE_REFUSALS.find(([prefix]) => code.startsWith(prefix)) : undefined;
  if (refusal) {
    return new RuleStoreError('WRITE_FAILED', `${what}: ${refusal[1]}; the write was rolled back (${code}: ${detail})`, { cause: error });
  }
  if (isSqliteUnavailable(error)) {
    return new StoreUnavailableError(`${what}: the SQLite database is unavailable (${code}): ${detail}`, { cause: error });
  }
  // Schema version 3 enforces some rules with triggers that RAISE the same message.
  if (code === 'SQLITE_CONSTRAINT_CHECK' || (code === 'SQLITE_CONSTRAINT_TRIGGER' && CHECK_FAILED.test(detail))) {
    const constraint = CHECK_FAILED.exec(detail)?.[1] ?? '';
    return new RuleStoreError(
      constraint.startsWith('ttp_rule_state') ? 'STATE_INVALID' : 'RULE_INVALID',
      `${what}: refused by the database constraint ${constraint}`.trim(),
      { cause: error },
    );
  }
  if (code === 'SQLITE_ERROR' && /no such (table|view|column)/i.test(detail)) {
    return new MigrationRequiredError(
      `${what}: the ttp-rule-store schema is missing or out of date (${detail}); run \`npx ttp-rules migrate --db sqlite:PATH\` or open the store with { migrate: true }`,
      { cause: error },
    );
  }
  if (access === 'read') {
    return new StoreUnavailableError(`${what}: the SQLite database cannot be read (${code || 'error'}): ${detail}`, { cause: error });
  }
  return new RuleStoreError('WRITE_FAILED', `${what}: ${detail}`, { cause: error });
}
