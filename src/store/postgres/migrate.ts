import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import postgres, { type Sql } from 'postgres';
import { MigrationRequiredError, RuleStoreError } from '../../domain/errors.js';
import { mapPostgresError } from './postgresErrors.js';
import { postgresJsOptions, resolvePostgresConnection } from './postgresConnection.js';

/** The `migrations/` folder shipped with the package (same path from `src/` and `dist/`). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));
/** node-pg-migrate's default bookkeeping table, so `npx node-pg-migrate up` and `migrate()` agree. */
export const MIGRATIONS_TABLE = 'pgmigrations';

/** Names (file names without extension) of the migrations this version ships. */
export function knownMigrations(): string[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();
}

/**
 * Creates or upgrades the ttp-rule-store schema on a Postgres database with
 * node-pg-migrate, exactly as `DATABASE_URL=… npx node-pg-migrate up -m
 * node_modules/ttp-rule-store/migrations` would. Returns the migrations applied.
 *
 * @example await migrate('postgres://localhost/rules')
 */
export async function migratePostgres(url: string): Promise<string[]> {
  try {
    // node-pg-migrate would stop on an unknown run migration with a message about
    // ordering; say what it means first (and never touch a newer schema).
    const connection = resolvePostgresConnection(url);
    const sql = postgres(connection.url, postgresJsOptions(connection, { max: 1, onnotice: () => {} }));
    try {
      const [row] = await sql<{ table: string | null }[]>`SELECT to_regclass(${MIGRATIONS_TABLE})::text AS table`;
      if (row?.table) assertNotNewer(await sql<{ name: string }[]>`SELECT name FROM ${sql(MIGRATIONS_TABLE)}`);
    } finally {
      await sql.end({ timeout: 1 });
    }
    const applied = await runner({
      databaseUrl: resolvePostgresConnection(url).url,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      // As the stock CLI does: search_path = public while migrating (the log
      // functions capture it with SET search_path FROM CURRENT).
      schema: 'public',
      migrationsTable: MIGRATIONS_TABLE,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      log: () => {},
    } as Parameters<typeof runner>[0]);
    return applied.map((m) => m.name);
  } catch (error) {
    throw mapPostgresError(error, 'migrate');
  }
}

/**
 * Refuses (`SCHEMA_TOO_NEW`) a database on which a migration ran that this
 * version does not ship: a newer ttp-rule-store migrated it, and this code may
 * read or write it wrongly (SQLite refuses a newer `user_version` the same way).
 */
function assertNotNewer(rows: readonly { name: string }[]): void {
  const known = new Set(knownMigrations());
  // Ours are numbered 0001_…; node-pg-migrate's own default names (a 13-digit
  // timestamp) belong to another application sharing the table.
  const unknown = rows.map((r) => r.name).filter((name) => !known.has(name) && /^\d{4}_/.test(name)).sort();
  if (unknown.length > 0) {
    throw new RuleStoreError(
      'SCHEMA_TOO_NEW',
      `the ttp-rule-store schema of this database is newer than this version of ttp-rule-store (it has migration ${unknown.join(', ')}, which this version does not ship; it knows up to ${knownMigrations().at(-1) ?? 'none'}); upgrade ttp-rule-store (it never downgrades a schema)`,
    );
  }
}

/**
 * Throws {@link MigrationRequiredError} (saying how to migrate) unless every shipped
 * migration has run, and `SCHEMA_TOO_NEW` if a migration this version does not ship has.
 */
export async function assertMigrated(sql: Sql): Promise<void> {
  const [row] = await sql<{ table: string | null }[]>`SELECT to_regclass(${MIGRATIONS_TABLE})::text AS table`;
  const how = 'run `npx ttp-rules migrate --db <url>` (or `DATABASE_URL=<url> npx node-pg-migrate up -m node_modules/ttp-rule-store/migrations`), or open the store with { migrate: true }';
  if (!row?.table) {
    throw new MigrationRequiredError(`this database has no ttp-rule-store schema; ${how}`);
  }
  const rows = await sql<{ name: string }[]>`SELECT name FROM ${sql(MIGRATIONS_TABLE)}`;
  assertNotNewer(rows);
  const done = new Set(rows.map((r) => r.name));
  const missing = knownMigrations().filter((name) => !done.has(name));
  if (missing.length > 0) {
    throw new MigrationRequiredError(`the ttp-rule-store schema is out of date (missing ${missing.join(', ')}); ${how}`);
  }
}
