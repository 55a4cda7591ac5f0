/**
 * Errors the CLI raises for its user. A {@link UsageError} is a mistake in the
 * command line (exit 2); a {@link CliFailure} is a command that ran and failed
 * (exit 1). Both print one line, never a stack trace.
 */

/** Bad arguments, unknown rule id syntax, missing file, bad duration: exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command ran and could not do what was asked (rule not stored, …): exit 1. */
export class CliFailure extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}

/** Exit codes of `ttp-rules`. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
