import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { RuleStoreError } from '../domain/errors.js';
import { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './cliErrors.js';
import { registerApply } from './commands/apply.js';
import { registerCheck } from './commands/check.js';
import { registerHistory } from './commands/history.js';
import { registerList } from './commands/list.js';
import { registerMigrate } from './commands/migrate.js';
import { registerShow } from './commands/show.js';
import { registerStart } from './commands/start.js';
import { registerState } from './commands/state.js';
import { registerValidate } from './commands/validate.js';
import { registerWatch } from './commands/watch.js';
import { registerPrune } from './commands/prune.js';
import { registerConsumers } from './commands/consumers.js';
import { registerDoctor } from './commands/doctor.js';
import { registerBridge } from './commands/bridge.js';
import { registerSync } from './commands/sync.js';
import { registerServe } from './commands/serve.js';
import { registerToken } from './commands/token.js';
import { printError, printStatus, writeStdout } from './output.js';

/** Wraps a command's action: its resolved value is the process exit code. */
export type ActionRunner = <A extends unknown[]>(action: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;

/** Store errors that come from the command line rather than from the database. */
const USAGE_CODES = new Set(['CONFIG_INVALID', 'POSITION_INVALID', 'STATE_INVALID']);

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' ');
}

/** Options of {@link createProgram}. */
export interface ProgramOptions {
  /** `--json` is on the command line: usage errors are printed as JSON objects too. */
  json?: boolean;
}

/** Builds the `ttp-rules` program; `run` records each action's exit code. */
export function createProgram(run: ActionRunner, options: ProgramOptions = {}): Command {
  const program = new Command('ttp-rules')
    .description('Detection rules and their operational state in Postgres or SQLite, with every change pushed to every rule engine.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => writeStdout(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) =>
        write(options.json ? `${JSON.stringify({ code: 'USAGE', message: oneLine(text).replace(/^error: /, '') })}\n` : `ttp-rules: ${oneLine(text)}\n`),
    })
    .addHelpText(
      'after',
      `
Database: --db URL, else $TTP_RULES_DB, else $DATABASE_URL, else the embedded
SQLite file ./ttp-rules.db. URLs: postgres://user@host/db, sqlite:path (a value
without a scheme is a SQLite path).

Exit codes: 0 ok (also a long-running command stopped by SIGINT/SIGTERM),
1 failure (invalid rules, database errors, rule not stored), 2 usage error
(unknown command, bad arguments or options).

Output: data on stdout (tables, rules, changes, problems; --json: one object
per line); summaries, status and errors on stderr (--json: an error is one
object {"code":…,"message":…}).

Examples:
  $ ttp-rules start                                   # load ./rules, print live changes
  $ ttp-rules sync rules/ --watch                     # the master: follow ./rules
  $ ttp-rules state EX001_ssh_bruteforce disable --for 10m --reason "pentest"
  $ ttp-rules validate rules/
  $ ttp-rules <command> --help`,
    );
  registerMigrate(program, run);
  registerValidate(program, run);
  registerApply(program, run);
  registerList(program, run);
  registerShow(program, run);
  registerState(program, run);
  registerWatch(program, run);
  registerHistory(program, run);
  registerCheck(program, run);
  registerStart(program, run);
  registerSync(program, run);
  registerPrune(program, run);
  registerConsumers(program, run);
  registerDoctor(program, run);
  registerBridge(program, run);
  registerServe(program, run);
  registerToken(program, run);
  return program;
}

/** Maps anything a command threw to one stderr line (or JSON object) and an exit code; never a stack trace for user mistakes. */
export function reportError(error: unknown, json = false): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message (or the help/version).
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof UsageError) {
    printError(json, { code: error.code, message: error.message });
    return EXIT_USAGE;
  }
  if (error instanceof CliFailure) {
    printError(json, { code: error.code, message: error.message });
    return EXIT_FAILURE;
  }
  if (RuleStoreError.is(error)) {
    printError(json, { code: error.code, message: error.message, tagged: true });
    return USAGE_CODES.has(error.code) ? EXIT_USAGE : EXIT_FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  printError(json, { code: 'FAILED', message });
  if (process.env['TTP_RULES_DEBUG'] && error instanceof Error && error.stack) printStatus(error.stack);
  return EXIT_FAILURE;
}

/** The arguments before `--` (after it, everything is an operand). */
function optionPart(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

/**
 * Commander answers `ttp-rules nope --help` with the program's help and exit 0;
 * an unknown command must be a usage error, so its help flags are dropped and
 * Commander reports the command (with a suggestion).
 */
function withoutHelpOfUnknownCommand(program: Command, argv: readonly string[]): string[] {
  const first = argv.find((arg) => !arg.startsWith('-'));
  if (first === undefined || first === 'help') return [...argv];
  const known = program.commands.some((c) => c.name() === first || c.aliases().includes(first));
  return known ? [...argv] : argv.filter((arg) => arg !== '--help' && arg !== '-h');
}

/**
 * Runs `ttp-rules` with `argv` (without `node` and the script) and resolves
 * with the exit code.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const run: ActionRunner = (action) => async (...args) => {
    exitCode = await action(...args);
  };
  const json = optionPart(argv).includes('--json');
  try {
    const program = createProgram(run, { json });
    await program.parseAsync(withoutHelpOfUnknownCommand(program, argv), { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, json);
  }
}
