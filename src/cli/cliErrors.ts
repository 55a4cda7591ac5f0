/**
 * Errors the CLI raises for its user. A {@link UsageError} is a mistake in the
 * command line (exit 2); a {@link CliFailure} is a command that ran and failed
 * (exit 1). Both print one line, never a stack trace.
 */

/** Bad arguments, unknown rule id syntax, missing file, bad duration: exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  /** The `code` of the `--json` error object. */
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Codes of {@link CliFailure}, beside the store's own error codes. */
export type CliFailureCode = 'RULE_NOT_FOUND' | 'RULE_INVALID' | 'FAILED';

/** The command ran and could not do what was asked (rule not stored, …): exit 1. */
export class CliFailure extends Error {
  readonly exitCode = 1;
  /** Stable, for `--json` errors: `RULE_NOT_FOUND` (show, history, state of an id that is not stored), … */
  readonly code: CliFailureCode;
  constructor(message: string, code: CliFailureCode = 'FAILED') {
    super(message);
    this.name = 'CliFailure';
    this.code = code;
  }
}

/** Exit codes of `ttp-rules`. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
