import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { MigrationRequiredError, RuleStoreError } from '../../domain/errors.js';
import { enableWal, openSqliteDatabase, type SqliteDatabase } from './sqliteDatabase.js';
import { mapSqliteError } from './sqliteErrors.js';
import { RULE_ID_PATTERN } from '../../domain/ruleSchema.js';

/** The `sql/sqlite/` folder shipped with the package (same path from `src/` and `dist/`). */
export const SQLITE_SQL_DIR = fileURLToPath(new URL('../../../sql/sqlite', import.meta.url));

/**
 * Marks a file as a ttp-rule-store database (`PRAGMA application_id`, 'TTPR'),
 * so that another application's `user_version` is never taken for ours.
 */
export const SQLITE_APPLICATION_ID = 0x54545052;

/** One schema step: `sql/sqlite/0001.sql` brings `user_version` to 1. */
export interface SqliteSchemaVersion {
  readonly version: number;
  readonly name: string;
  readonly file: string;
}

/** The schema versions this code ships, in order (1, 2, …, without holes). */
export function knownSqliteVersions(): SqliteSchemaVersion[] {
  const versions = readdirSync(SQLITE_SQL_DIR)
    .filter((f) => /^\d+\.sql$/.test(f))
    .map((f) => ({ version: Number.parseInt(f, 10), name: f.replace(/\.sql$/, ''), file: join(SQLITE_SQL_DIR, f) }))
    .sort((a, b) => a.version - b.version);
  versions.forEach((v, i) => {
    if (v.version !== i + 1) throw new RuleStoreError('CONFIG_INVALID', `sql/sqlite is broken: expected version ${i + 1}, found ${v.name}.sql`);
  });
  return versions;
}

const howToMigrate = (path: string): string => `run \`npx ttp-rules migrate --db sqlite:${path}\` or open the store with { migrate: true }`;

function readVersion(db: SqliteDatabase): { version: number; applicationId: number } {
  return {
    version: Number(db.pragma('user_version', { simple: true })),
    applicationId: Number(db.pragma('application_id', { simple: true })),
  };
}

/** Refuses files that belong to another application or to a newer ttp-rule-store. */
function assertOurs(path: string, found: { version: number; applicationId: number }, latest: number): void {
  const foreign = found.applicationId !== SQLITE_APPLICATION_ID && (found.applicationId !== 0 || found.version !== 0);
  if (foreign) {
    throw new RuleStoreError(
      'CONFIG_INVALID',
      `the SQLite file ${path} is not a ttp-rule-store database (application_id ${found.applicationId}, user_version ${found.version})`,
    );
  }
  if (found.version > latest) {
    throw new RuleStoreError(
      'SCHEMA_TOO_NEW',
      `the SQLite database ${path} has schema version ${found.version}, but this version of ttp-rule-store only knows versions up to ${latest}; upgrade ttp-rule-store (it never downgrades a schema)`,
    );
  }
}

/**
 * A version may define the view `ttp_rule_schema_violations` (table_name, rule_id,
 * problem): existing rows its new rules refuse. Any row stops the migration (the
 * version's transaction rolls back) with a message naming them.
 */
function refuseViolations(db: SqliteDatabase, path: string, step: SqliteSchemaVersion): void {
  const view = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'ttp_rule_schema_violations'`).get();
  if (!view) return;
  const rows = db.prepare('SELECT table_name, rule_id, problem FROM ttp_rule_schema_violations ORDER BY table_name, rule_id').all() as { table_name: string; rule_id: string; problem: string }[];
  if (rows.length === 0) return;
  // Spell out the characters a rule id must not hold: they are often invisible.
  const spelled = (id: string): string => [...id].filter((ch) => !RULE_ID_PATTERN.test(ch)).map((ch) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
  const list = rows.map((r) => `${r.table_name} ${JSON.stringify(r.rule_id)}${spelled(r.rule_id) ? ` (${spelled(r.rule_id)})` : ''}: ${r.problem}`).join('; ');
  throw new RuleStoreError('WRITE_FAILED', `the SQLite database ${path} cannot take schema version ${step.version}: fix or delete these rows first, then migrate again: ${list}`);
}

/** Options of {@link applySqliteSchema}. */
export interface ApplySqliteSchemaOptions {
  /** The path as the user gave it, for messages. */
  path: string;
  /** Apply missing versions (true) or refuse with MigrationRequiredError (false). */
  migrate: boolean;
  logger?: Logger;
}

/**
 * Brings an open database to the latest schema version. Each version is applied
 * in its own IMMEDIATE transaction together with its `user_version`, and the
 * version is re-read under the write lock, so processes that open a fresh file
 * at the same moment apply it exactly once. Returns the versions applied.
 */
export function applySqliteSchema(db: SqliteDatabase, options: ApplySqliteSchemaOptions): string[] {
  const versions = knownSqliteVersions();
  const latest = versions.length;
  const found = readVersion(db);
  assertOurs(options.path, found, latest);
  // Only now that the file is known to be ours (or empty) may it be changed.
  if (found.version > 0 || options.migrate) enableWal(db, options.logger);
  if (found.version === latest) return [];
  if (!options.migrate) {
    throw new MigrationRequiredError(
      found.version === 0
        ? `the SQLite database ${options.path} has no ttp-rule-store schema; ${howToMigrate(options.path)}`
        : `the SQLite database ${options.path} has schema version ${found.version}, this version of ttp-rule-store needs ${latest}; ${howToMigrate(options.path)}`,
    );
  }
  const applied: string[] = [];
  for (const step of versions) {
    const ran = db
      .transaction(() => {
        const now = readVersion(db);
        assertOurs(options.path, now, latest);
        if (now.version >= step.version) return false;
        db.exec(readFileSync(step.file, 'utf8'));
        refuseViolations(db, options.path, step);
        // Both pragmas write the file header inside this transaction: they commit with the schema or not at all.
        db.pragma(`application_id = ${SQLITE_APPLICATION_ID}`);
        db.pragma(`user_version = ${step.version}`);
        return true;
      })
      .immediate();
    if (ran) {
      applied.push(step.name);
      options.logger?.info({ event: 'store:sqlite:migrate', path: options.path, version: step.version }, 'SQLite schema version applied');
    }
  }
  return applied;
}

/**
 * Creates or upgrades the ttp-rule-store schema in a SQLite file (created if
 * missing; its folder must exist). Returns the schema versions applied, e.g.
 * `['0001']`, or `[]` when the file was up to date. Refuses a file whose schema
 * is newer than this code (`SCHEMA_TOO_NEW`).
 *
 * @example await migrateSqlite('./ttp-rules.db')
 */
export async function migrateSqlite(path: string, logger?: Logger): Promise<string[]> {
  const db = openSqliteDatabase(path, { create: true, ...(logger ? { logger } : {}) });
  try {
    return applySqliteSchema(db, { path, migrate: true, ...(logger ? { logger } : {}) });
  } catch (error) {
    throw mapSqliteError(error, `migrate the SQLite database ${path}`);
  } finally {
    db.close();
  }
}
