import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { MigrationRequiredError, StoreUnavailableError } from '../../domain/errors.js';
import { mapSqliteError } from './sqliteErrors.js';

/** A better-sqlite3 connection. */
export type SqliteDatabase = Database.Database;

/**
 * How long a write waits for another process's write lock before failing with
 * SQLITE_BUSY (mapped to `STORE_UNAVAILABLE`). better-sqlite3 is synchronous,
 * so this wait blocks the event loop; rule writes are short, so it rarely does.
 */
export const BUSY_TIMEOUT_MS = 5000;

/** True for the in-memory database name (`sqlite::memory:`). */
export function isMemoryPath(path: string): boolean {
  return path === ':memory:';
}

/** Options of {@link openSqliteDatabase}. */
export interface OpenSqliteDatabaseOptions {
  /** Create the file when it does not exist (otherwise: MigrationRequiredError). */
  create: boolean;
  logger?: Logger;
}

/**
 * Switches a file to WAL, so that readers never block the writer and several
 * processes share the file. journal_mode is stored in the file: only the first
 * opener pays for the switch. Called once the file is known to be ours.
 */
export function enableWal(db: SqliteDatabase, logger?: Logger): void {
  if (db.memory || db.pragma('journal_mode', { simple: true }) === 'wal') return;
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    logger?.warn({ event: 'store:sqlite:wal-refused', path: db.name, mode }, 'could not switch the SQLite database to WAL; readers will wait for writers');
  }
}

/**
 * Opens one connection on a SQLite file with the settings every connection of
 * the store needs: a busy timeout, and `synchronous = FULL` so that a committed
 * change survives a power loss, as on Postgres. The parent folder must exist;
 * it is not created, so a typo in a path fails loudly instead of scattering
 * databases.
 *
 * @example const db = openSqliteDatabase('./ttp-rules.db', { create: true });
 */
export function openSqliteDatabase(path: string, options: OpenSqliteDatabaseOptions): SqliteDatabase {
  if (!isMemoryPath(path)) {
    const file = resolve(path);
    const folder = dirname(file);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new StoreUnavailableError(`cannot open the SQLite database ${path}: the folder ${folder} does not exist (create it first)`);
    }
    if (!options.create && !existsSync(file)) {
      throw new MigrationRequiredError(`there is no SQLite database at ${path}; run \`npx ttp-rules migrate --db sqlite:${path}\` or open the store with { migrate: true }`);
    }
  }
  let db: SqliteDatabase;
  try {
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    throw mapSqliteError(error, `open the SQLite database ${path}`, 'read');
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('synchronous = FULL');
  } catch (error) {
    db.close();
    throw mapSqliteError(error, `open the SQLite database ${path}`, 'read');
  }
  return db;
}
