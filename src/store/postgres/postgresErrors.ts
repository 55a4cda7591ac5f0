import { MigrationRequiredError, RuleStoreError, StoreUnavailableError } from '../../domain/errors.js';

const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

/** True for errors that mean "the database is not reachable right now" (retry later). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // SQLSTATE class 08 (connection exception), 57P01..57P03 (shutdown / cannot connect now).
  return CONNECTION_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
}

/** Read operations are named "read …" (and "take a snapshot", "open"): their failures are never `WRITE_FAILED`. */
const READ_OPERATION = /^(read|take a snapshot|open)\b/;

/** What to tell a person for SQLSTATEs that mean "this deployment cannot get in". */
const ADVICE: Record<string, string> = {
  '53300': 'the server has no free connection slots (too many clients): raise max_connections, run fewer processes or a smaller maxConnections option, or put pgbouncer in front (with transport: \'poll\')',
  '57P03': 'the server is not accepting connections right now (starting up, shutting down or in recovery): retry shortly',
  '28P01': 'authentication failed: check the user and password in the URL (or PGPASSWORD) and pg_hba.conf',
  '28000': 'the server refused this user (pg_hba.conf has no matching entry, or the role may not log in): check the URL\'s user and pg_hba.conf',
  '3D000': 'the database does not exist: create it (createdb) or fix the database name in the URL',
};

/**
 * Maps a driver error to a {@link RuleStoreError} by SQLSTATE, keeping the
 * original as `cause`. `what` says what was being done, for the message; reads
 * ("read …", "take a snapshot", "open") fail as `STORE_UNAVAILABLE`, never as
 * `WRITE_FAILED`. Connection-slot exhaustion (53300), "cannot connect now"
 * (57P03) and authentication failures (28P01, 28000) are `STORE_UNAVAILABLE`
 * with a message saying what to do.
 */
export function mapPostgresError(error: unknown, what: string): RuleStoreError {
  if (RuleStoreError.is(error)) return error;
  const e = error as { code?: string; message?: string; constraint_name?: string };
  const detail = e?.message ?? String(error);
  const advice = e?.code === undefined ? undefined : ADVICE[e.code];
  if (advice) return new StoreUnavailableError(`${what}: ${advice} (${e.code}: ${detail})`, { cause: error });
  if (isConnectionError(error)) {
    return new StoreUnavailableError(`${what}: the database is unavailable (${e.code}): ${detail}`, { cause: error });
  }
  const read = READ_OPERATION.test(what);
  switch (e?.code) {
    case '42P01': // undefined_table
    case '42883': // undefined_function
      return new MigrationRequiredError(
        `${what}: the ttp-rule-store schema is missing or out of date (${detail}); run \`npx ttp-rules migrate --db <url>\` or call migrate(url)`,
        { cause: error },
      );
    case '23514': // check_violation
      return new RuleStoreError(
        e.constraint_name?.startsWith('ttp_rule_state') ? 'STATE_INVALID' : 'RULE_INVALID',
        `${what}: refused by the database constraint ${e.constraint_name ?? ''}`.trim(),
        { cause: error },
      );
    case '55P03': // lock_not_available: lock_timeout expired (writes name the holder; see postgresWriter)
      return new RuleStoreError('LOCK_TIMEOUT', `${what}: ${detail}`, { cause: error });
    case '25006': // read_only_sql_transaction: a hot standby, or default_transaction_read_only
      return new RuleStoreError('WRITE_FAILED', `${what}: the database is read only (a hot standby?): ${detail}`, { cause: error });
    case '42501': // insufficient_privilege
      return read
        ? new StoreUnavailableError(`${what}: permission denied (${detail}); grant the role ttp_rules_reader (sql/roles.sql)`, { cause: error })
        : new RuleStoreError('WRITE_FAILED', `${what}: permission denied (${detail})`, { cause: error });
    default:
      return read
        ? new StoreUnavailableError(`${what}: the database could not answer (${e?.code ?? 'no SQLSTATE'}): ${detail}`, { cause: error })
        : new RuleStoreError('WRITE_FAILED', `${what}: ${detail}`, { cause: error });
  }
}
