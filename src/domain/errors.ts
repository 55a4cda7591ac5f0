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
