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

/**
 * Maps a driver error to a {@link RuleStoreError} by SQLSTATE, keeping the
 * original as `cause`. `what` says what was being done, for the message.
 */
export function mapPostgresError(error: unknown, what: string): RuleStoreError {
  if (RuleStoreError.is(error)) return error;
  const e = error as { code?: string; message?: string; constraint_name?: string };
  const detail = e?.message ?? String(error);
  if (isConnectionError(error)) {
    return new StoreUnavailableError(`${what}: the database is unavailable (${e.code}): ${detail}`, { cause: error });
  }
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
    case '3D000': // invalid_catalog_name: the database does not exist
    case '28000': // invalid_authorization_specification
    case '28P01': // invalid_password
      return new StoreUnavailableError(`${what}: ${detail}`, { cause: error });
    case '55P03': // lock_not_available: lock_timeout expired (writes name the holder; see postgresWriter)
      return new RuleStoreError('LOCK_TIMEOUT', `${what}: ${detail}`, { cause: error });
    case '25006': // read_only_sql_transaction: a hot standby, or default_transaction_read_only
      return new RuleStoreError('WRITE_FAILED', `${what}: the database is read only (a hot standby?): ${detail}`, { cause: error });
    case '42501': // insufficient_privilege
      return new RuleStoreError('WRITE_FAILED', `${what}: permission denied (${detail})`, { cause: error });
    default:
      return new RuleStoreError('WRITE_FAILED', `${what}: ${detail}`, { cause: error });
  }
}
