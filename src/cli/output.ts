/**
 * Standard output: the CLI's product. Everything a command prints for its user
 * goes through here (logs go to stderr through pino). A closed pipe
 * (`ttp-rules list | head -1`) is not an error: further lines are dropped and the
 * registered handler (by default a quiet exit 0) runs once.
 */

let broken = false;
let onBroken: () => void = () => process.exit(0);

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
    if (broken) return;
    broken = true;
    onBroken();
    return;
  }
  throw error;
});

/** Writes raw text to stdout (help text, already terminated lines). */
export function writeStdout(text: string): void {
  if (!broken) process.stdout.write(text);
}

/** Prints one line to stdout. */
export function printLine(line: string): void {
  writeStdout(`${line}\n`);
}

/** Prints one JSON object as one line (dates become ISO strings). */
export function printJson(value: unknown): void {
  printLine(JSON.stringify(value));
}

/** Prints one line to stderr: status and errors meant for people, not for pipes. */
export function printStatus(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** What {@link printError} prints. */
export interface CliErrorOutput {
  /** Stable code: a store error code (`STORE_UNAVAILABLE`, …), `USAGE`, `RULE_NOT_FOUND`, … */
  readonly code: string;
  readonly message: string;
  /** Append ` [CODE]` to the text line (store errors, whose codes the README lists). */
  readonly tagged?: boolean;
}

/**
 * Prints an error on stderr: `ttp-rules: error: message` for people, or with
 * `--json` one object `{"code":…,"message":…}` on one line.
 */
export function printError(json: boolean, error: CliErrorOutput): void {
  const message = error.message.trim().replace(/\s*\n\s*/g, ' ');
  if (json) printStatus(JSON.stringify({ code: error.code, message }));
  else printStatus(`ttp-rules: error: ${message}${error.tagged ? ` [${error.code}]` : ''}`);
}

/**
 * Replaces what happens when stdout's reader goes away (long-running commands
 * close their store first). Returns a function that restores the default.
 */
export function onStdoutClosed(handler: () => void): () => void {
  const previous = onBroken;
  onBroken = handler;
  return () => {
    onBroken = previous;
  };
}

/** True once stdout's reader has gone away. */
export function isStdoutClosed(): boolean {
  return broken;
}
