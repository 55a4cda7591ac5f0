/**
 * Typed errors. Every error the library raises or emits is a {@link RuleStoreError}
 * with a stable string `code` (listed in the README) and, when it wraps a driver
 * error, the original as `cause`. SQL parameters and rule bodies are never put in
 * enumerable fields.
 */

/** Every stable error code, as listed in the README. */
export type RuleStoreErrorCode =
  | 'RULE_INVALID'
  | 'RULE_TOO_LARGE'
  | 'STATE_INVALID'
  | 'POSITION_INVALID'
  | 'MIGRATION_REQUIRED'
  | 'SCHEMA_TOO_NEW'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CLOSED'
  | 'WRITE_FAILED'
  | 'LOCK_TIMEOUT'
  | 'FEED_ERROR'
  | 'LOG_TRUNCATED'
  | 'CONFIG_INVALID';

const BRAND = Symbol.for('ttp-rule-store.error');

/** Base class: `code` is stable, `message` is for people. */
export class RuleStoreError extends Error {
  readonly code: RuleStoreErrorCode;
  /** Survives duplicate installs of the package, unlike `instanceof`. */
  static is(value: unknown): value is RuleStoreError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(code: RuleStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuleStoreError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** One problem found in a rule document. `path` is the dotted field path, '' for the whole document. */
export interface RuleIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A rule document that cannot be accepted. Carries the rule id (when known), the
 * file or source it came from, the log position (for rows read from the log) and
 * every issue found.
 */
export class RuleValidationError extends RuleStoreError {
  readonly ruleId: string | null;
  readonly source: string | null;
  readonly position: string | null;
  readonly issues: readonly RuleIssue[];

  constructor(
    issues: readonly RuleIssue[],
    where: { ruleId?: string | null; source?: string | null; position?: string | null } = {},
    options?: { cause?: unknown; code?: 'RULE_INVALID' | 'RULE_TOO_LARGE' },
  ) {
    const ruleId = where.ruleId ?? null;
    const source = where.source ?? null;
    const head = [source, ruleId].filter((part): part is string => part !== null && part !== '').join(': ');
    const body = issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ');
    super(options?.code ?? 'RULE_INVALID', head ? `${head}: ${body}` : body, options);
    this.name = 'RuleValidationError';
    this.ruleId = ruleId;
    this.source = source;
    this.position = where.position ?? null;
    this.issues = Object.freeze([...issues]);
  }

  /** A copy of this error located at a log position (used when a stored row fails to compile). */
  at(position: string): RuleValidationError {
    return new RuleValidationError(this.issues, { ruleId: this.ruleId, source: this.source, position }, { cause: this.cause, code: this.code as 'RULE_INVALID' });
  }
}

/** The database has no ttp-rule-store schema, or an older one. */
export class MigrationRequiredError extends RuleStoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MIGRATION_REQUIRED', message, options);
    this.name = 'MigrationRequiredError';
  }
}

/** The database cannot be reached, or a query failed for reasons outside the caller's input. */
export class StoreUnavailableError extends RuleStoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A session that holds the writers' lock, or blocks a session waiting for it (Postgres). */
export interface WriterLockBlocker {
  readonly pid: number;
  /** Its login role. */
  readonly role: string | null;
  readonly applicationName: string | null;
  /** `pg_stat_activity.state` (`idle in transaction`, `active`, …); null when the server hides it from the schema owner. */
  readonly state: string | null;
  /** When it entered that state. */
  readonly since: Date | null;
  /** When its transaction began. */
  readonly transactionSince: Date | null;
  /** True when it holds the lock itself (false: it blocks a session that waits for the lock). */
  readonly holds: boolean;
}

/**
 * A write waited `lockTimeoutMs` for the writers' lock (or for a write
 * connection) and gave up without writing anything. `blockers` names the
 * sessions that held or blocked the lock when the wait ended (empty if none
 * could be named); the message says the same for people.
 */
export class LockTimeoutError extends RuleStoreError {
  readonly blockers: readonly WriterLockBlocker[];

  constructor(message: string, blockers: readonly WriterLockBlocker[], options?: { cause?: unknown }) {
    super('LOCK_TIMEOUT', message, options);
    this.name = 'LockTimeoutError';
    this.blockers = Object.freeze([...blockers]);
  }
}
