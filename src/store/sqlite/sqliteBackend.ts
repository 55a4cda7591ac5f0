import type { Logger } from 'pino';
import { RuleStoreError } from '../../domain/errors.js';
import type { Backend } from '../backend.js';

/** Options of the SQLite backend. */
export interface SqliteBackendOptions {
  path: string;
  pollIntervalMs: number;
  migrate: boolean;
  logger: Logger;
}

export async function openSqliteBackend(_options: SqliteBackendOptions): Promise<Backend> {
  throw new RuleStoreError('CONFIG_INVALID', 'SQLite backend not implemented yet');
}

export async function migrateSqlite(_path: string): Promise<string[]> {
  throw new RuleStoreError('CONFIG_INVALID', 'SQLite backend not implemented yet');
}
