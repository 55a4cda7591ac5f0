import { hostname, userInfo } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Logger } from 'pino';
// Not '../index.js': the public entry loads every backend and the NATS bridge;
// the CLI imports each piece where it is used, so that it starts fast.
import { isPostgresUrl } from '../store/databaseUrl.js';
import { DEFAULT_SQLITE_FILE, openRuleStore, type OpenRuleStoreOptions } from '../store/openRuleStore.js';
import type { RuleStore } from '../store/ruleStore.js';
import { UsageError } from './cliErrors.js';
import { createCliLogger, LOG_LEVELS, type LogLevel } from './logger.js';

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
  logLevel: LogLevel;
}

/** Options of commands that open a database. */
export interface DatabaseOptions extends CommonOptions {
  db?: string;
  transport?: 'listen' | 'poll';
  lockTimeout?: number;
}

/** What a command runs with: its output mode, its logger, and (for database commands) the URL. */
export interface CliContext {
  readonly json: boolean;
  readonly logger: Logger;
  /** Postgres feed (`--transport`), when given. */
  readonly transport?: 'listen' | 'poll';
  /** Postgres writes' longest wait for the writers' lock (`--lock-timeout`), when given. */
  readonly lockTimeoutMs?: number;
}

/** The embedded default, as a URL. */
export const DEFAULT_DB_URL = `sqlite:${DEFAULT_SQLITE_FILE}`;

/** Adds `--json` and `--log-level` (and `--db` for database commands). */
export function addCommonOptions(command: Command, options: { database: boolean }): Command {
  if (options.database) {
    command.option('--db <url>', `database URL: postgres://… or sqlite:path (default: $TTP_RULES_DB, else $DATABASE_URL, else ${DEFAULT_DB_URL})`);
    command.addOption(
      new Option('--transport <feed>', "Postgres change feed: listen (NOTIFY) or poll (behind pgbouncer in transaction pooling, or on a hot standby)")
        .choices(['listen', 'poll'])
        .env('TTP_RULES_TRANSPORT'),
    );
    command.addOption(
      new Option('--lock-timeout <ms>', "Postgres: longest wait of a write for the writers' lock, then fail with LOCK_TIMEOUT naming the holder (default 5000)")
        .argParser(parseMilliseconds)
        .env('TTP_RULES_LOCK_TIMEOUT'),
    );
  }
  command.option('--json', 'print one JSON object per line instead of text');
  command.addOption(
    new Option('--log-level <level>', 'log level of the JSON (or, on a terminal, pretty) logs on stderr').choices(LOG_LEVELS).env('TTP_RULES_LOG_LEVEL').default('warn'),
  );
  return command;
}

/** Builds the context of one command run. */
export async function createContext(options: CommonOptions): Promise<CliContext> {
  const { transport, lockTimeout } = options as DatabaseOptions;
  return {
    json: options.json === true,
    logger: await createCliLogger(options.logLevel),
    ...(transport ? { transport } : {}),
    ...(lockTimeout !== undefined ? { lockTimeoutMs: lockTimeout } : {}),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * The database to use: `--db`, else `TTP_RULES_DB`, else `DATABASE_URL`, else
 * the embedded default `sqlite:./ttp-rules.db`. A value without a URL scheme is
 * taken as a SQLite file path (`--db rules.db` = `--db sqlite:rules.db`).
 */
export function resolveDatabaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const value = nonEmpty(flag) ?? nonEmpty(env['TTP_RULES_DB']) ?? nonEmpty(env['DATABASE_URL']) ?? DEFAULT_DB_URL;
  if (isPostgresUrl(value) || /^sqlite:/i.test(value)) return value;
  if (/^[a-z][a-z0-9+.-]+:/i.test(value)) {
    throw new UsageError(`unsupported database URL scheme in ${JSON.stringify(redactUrl(value))}: use postgres://… or sqlite:path`);
  }
  return `sqlite:${value}`;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/**
 * Store options of commands that only read (list, show, history, check,
 * consumers, watch): no schema is created, so a mistyped SQLite path is an
 * error naming the file (`MIGRATION_REQUIRED`, exit 1), never a new empty database.
 */
export const READ_ONLY: Omit<OpenRuleStoreOptions, 'url' | 'logger'> = Object.freeze({ migrate: false });

/** Opens the store for a command; the caller closes it (see {@link withStore}). */
export async function openStore(context: CliContext, url: string, options: Omit<OpenRuleStoreOptions, 'url' | 'logger'> = {}): Promise<RuleStore> {
  context.logger.debug({ event: 'cli:store:open', url: redactUrl(url) }, 'opening the rule store');
  return openRuleStore({
    revertExpired: false,
    ...(context.transport ? { transport: context.transport } : {}),
    ...(context.lockTimeoutMs !== undefined ? { lockTimeoutMs: context.lockTimeoutMs } : {}),
    ...options,
    url,
    logger: context.logger,
  });
}

/** Opens the store, runs `fn`, and closes the store whatever happens. */
export async function withStore<T>(
  context: CliContext,
  url: string,
  fn: (store: RuleStore) => Promise<T>,
  options: Omit<OpenRuleStoreOptions, 'url' | 'logger'> = {},
): Promise<T> {
  const store = await openStore(context, url, options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Refuses a rule id that can never be stored, before touching the database. */
export async function checkRuleIdArgument(ruleId: string): Promise<string> {
  const { isValidRuleId } = await import('../domain/ruleSchema.js');
  if (!isValidRuleId(ruleId)) {
    throw new UsageError(`invalid rule id ${JSON.stringify(String(ruleId).slice(0, 140))}: a rule id is one bus-topic segment of 1-128 characters, without '.', '*', '>' or whitespace`);
  }
  return ruleId;
}

/** Who is making a change, for `--by` defaults: `user@host`. */
export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  let user = nonEmpty(env['USER']) ?? nonEmpty(env['USERNAME']);
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `${user}@${hostname()}`;
}

/** Commander option parser for a positive whole number of milliseconds. */
export function parseMilliseconds(value: string): number {
  const ms = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(ms) || ms < 1) throw new InvalidArgumentError('must be a positive whole number of milliseconds');
  return ms;
}

/** Commander option parser for `--by`. */
export function parseActor(value: string): string {
  const actor = value.trim();
  if (actor === '') throw new InvalidArgumentError('must not be empty');
  return actor;
}
