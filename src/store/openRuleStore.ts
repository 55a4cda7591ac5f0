import type { Logger } from 'pino';
import { RuleStoreError } from '../domain/errors.js';
import type { Backend } from './backend.js';
import { isPostgresUrl } from './databaseUrl.js';
import type { RuleStore } from './ruleStore.js';
import { DEFAULT_STALL_WARN_MS } from './readHealth.js';

// Everything heavier than this file is imported when a store is opened, and the
// Postgres stack (postgres.js, pg-listen, node-pg-migrate) only for a postgres://
// URL: the CLI imports this module directly, and `ttp-rules --version` or a
// SQLite `list` should not pay for drivers they never use.

/** The embedded default database file, relative to the working directory. */
export const DEFAULT_SQLITE_FILE = './ttp-rules.db';

/** Options of {@link openRuleStore}. Every field has a default. */
export interface OpenRuleStoreOptions {
  /** `postgres://…` / `postgresql://…`, or `sqlite:path` (`sqlite::memory:` for tests). Default: `sqlite:./ttp-rules.db`. */
  url?: string;
  /** Postgres only: `'listen'` (LISTEN/NOTIFY, default) or `'poll'` (pgbouncer in transaction mode, hot standby). */
  transport?: 'listen' | 'poll';
  /** Poll interval in ms (default 100 on SQLite, 250 for Postgres poll). */
  pollIntervalMs?: number;
  /** Listen only: interval of the missed-doorbell and listener health check, ms (default 30,000). */
  safetyCheckMs?: number;
  /**
   * Postgres: the longest a write waits for the writers' lock (and for a write
   * connection) before it fails with `LOCK_TIMEOUT` naming the holder, ms
   * (default: `$TTP_RULES_LOCK_TIMEOUT`, else 5000). SQLite waits its busy timeout.
   */
  lockTimeoutMs?: number;
  /** Postgres only: connections in the read pool (default 4); writes have their own 2, listen 1. */
  maxConnections?: number;
  /** Create or upgrade the schema on open (default: true on SQLite, false on Postgres). */
  migrate?: boolean;
  /** Revert expired states on time from this process (default true). */
  revertExpired?: boolean;
  /** Refuse unknown top-level keys in rule documents (default false, like the seed). */
  strict?: boolean;
  /** Largest rule document accepted, bytes (default 256 KiB). */
  maxRuleBytes?: number;
  /** Events per log read (default 1000); also the most live changes a `changesSince` buffers while it replays. */
  pageSize?: number;
  /**
   * Bytes of rule and state rows per log read (default 16 MiB, `DEFAULT_PAGE_BYTES`):
   * a page stops there (one event at least). Rows above `maxRuleBytes` are never
   * loaded and cost nothing here; the default `readLog` `maxBytes`.
   */
  pageBytes?: number;
  /**
   * A log read that keeps failing (retried with backoff, each failure a
   * `FEED_ERROR` on `errors$`) is logged at error level once it has failed for
   * this long, ms (default 30,000).
   */
  stallWarnMs?: number;
  /** A pino logger; the library is silent without one. */
  logger?: Logger;
  /** OpenTelemetry spans (default: on when TTP_RULES_TRACING=1). No-op unless the host installs an SDK. */
  tracing?: boolean;
}

function stallWarnMs(option: number | undefined): number {
  if (option === undefined) return DEFAULT_STALL_WARN_MS;
  if (!Number.isFinite(option) || option < 0) throw new RuleStoreError('CONFIG_INVALID', `stallWarnMs must be a number of milliseconds >= 0, got ${JSON.stringify(option)}`);
  return option;
}

/** Default of {@link OpenRuleStoreOptions.lockTimeoutMs}. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5000;

function lockTimeout(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env['TTP_RULES_LOCK_TIMEOUT']?.trim();
  const value = option ?? (fromEnv ? Number(fromEnv) : DEFAULT_LOCK_TIMEOUT_MS);
  if (!Number.isSafeInteger(value) || value < 1) {
    const where = option !== undefined ? 'lockTimeoutMs' : 'TTP_RULES_LOCK_TIMEOUT';
    throw new RuleStoreError('CONFIG_INVALID', `${where} must be a positive whole number of milliseconds, got ${JSON.stringify(option ?? fromEnv)}`);
  }
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RuleStoreError('CONFIG_INVALID', `${name} must be a positive whole number, got ${JSON.stringify(value)}`);
  return value;
}

function parseUrl(url: string): { kind: 'postgres'; url: string } | { kind: 'sqlite'; path: string } {
  if (isPostgresUrl(url)) return { kind: 'postgres', url };
  const sqlite = /^sqlite:(?:\/\/)?(.+)$/i.exec(url);
  if (sqlite?.[1]) return { kind: 'sqlite', path: sqlite[1] };
  throw new RuleStoreError('CONFIG_INVALID', `unsupported database url ${JSON.stringify(url.slice(0, 80))}: use postgres://… or sqlite:path`);
}

/**
 * Opens a rule store on Postgres or SQLite. The store listens (or polls) for
 * changes from the moment it opens; close it with `close()`.
 *
 * @example
 * const store = await openRuleStore({ url: 'postgres://localhost/rules' });
 * store.changes$.subscribe((change) => console.log(change.kind, change.ruleId));
 */
export async function openRuleStore(options: OpenRuleStoreOptions = {}): Promise<RuleStore> {
  const logger = options.logger ?? (await import('pino')).pino({ level: 'silent' });
  const target = parseUrl(options.url ?? `sqlite:${DEFAULT_SQLITE_FILE}`);
  const transport = options.transport ?? 'listen';
  if (transport !== 'listen' && transport !== 'poll') {
    throw new RuleStoreError('CONFIG_INVALID', `transport must be 'listen' or 'poll', got ${JSON.stringify(transport)}`);
  }
  const stallWarn = stallWarnMs(options.stallWarnMs);
  let backend: Backend;
  if (target.kind === 'postgres') {
    const { openPostgresBackend } = await import('./postgres/postgresBackend.js');
    backend = await openPostgresBackend({
      url: target.url,
      transport,
      pollIntervalMs: options.pollIntervalMs ?? 250,
      safetyCheckMs: options.safetyCheckMs ?? 30_000,
      migrate: options.migrate ?? false,
      lockTimeoutMs: lockTimeout(options.lockTimeoutMs),
      ...(options.maxConnections !== undefined ? { maxConnections: positiveInteger(options.maxConnections, 'maxConnections') } : {}),
      logger,
    });
  } else {
    const { openSqliteBackend } = await import('./sqlite/sqliteBackend.js');
    backend = await openSqliteBackend({
      path: target.path,
      pollIntervalMs: options.pollIntervalMs ?? 100,
      migrate: options.migrate ?? true,
      lockTimeoutMs: lockTimeout(options.lockTimeoutMs),
      logger,
    });
  }
  const [{ createRuleStore }, { DEFAULT_MAX_RULE_BYTES }, { DEFAULT_PAGE_BYTES }, { createTracing, tracingEnabled }] = await Promise.all([
    import('./createRuleStore.js'),
    import('../domain/compileRule.js'),
    import('../log/readLog.js'),
    import('../observability/tracing.js'),
  ]);
  return createRuleStore(backend, {
    logger,
    pageSize: positiveInteger(options.pageSize ?? 1000, 'pageSize'),
    pageBytes: positiveInteger(options.pageBytes ?? DEFAULT_PAGE_BYTES, 'pageBytes'),
    revertExpired: options.revertExpired ?? true,
    strict: options.strict ?? false,
    maxRuleBytes: options.maxRuleBytes ?? DEFAULT_MAX_RULE_BYTES,
    tracing: createTracing(tracingEnabled(options.tracing)),
    stallWarnMs: stallWarn,
  });
}

/**
 * Creates or upgrades the schema. Postgres runs the node-pg-migrate migrations
 * in `migrations/` (the same as `npx node-pg-migrate up`); SQLite applies the
 * versioned schema in `sql/sqlite/`.
 *
 * @example await migrate('postgres://localhost/rules')
 */
export async function migrate(url: string = `sqlite:${DEFAULT_SQLITE_FILE}`): Promise<string[]> {
  const target = parseUrl(url);
  if (target.kind === 'postgres') {
    const { migratePostgres } = await import('./postgres/migrate.js');
    return migratePostgres(target.url);
  }
  const { migrateSqlite } = await import('./sqlite/sqliteBackend.js');
  return migrateSqlite(target.path);
}
