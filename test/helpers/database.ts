import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { migrate } from '../../src/index.js';

/**
 * The Postgres server that tests and the bench run against (trust auth on this
 * machine and in CI). The bench imports this module too (bench/ depends on
 * test/helpers/, never the other way round).
 */
export const PG_SERVER_URL = process.env['TTP_TEST_PG_URL'] ?? 'postgres://root@127.0.0.1:5432/postgres';

/** The URL of `database` on {@link PG_SERVER_URL}. */
export function urlFor(database: string): string {
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `fn` on a short-lived connection to the server's maintenance database. */
export async function withAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  try {
    return await fn(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** A fresh, uniquely named Postgres database for one test file (or one bench scenario); `drop()` removes it. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Options of {@link createTestDatabase}. */
export interface CreateTestDatabaseOptions {
  /** False: an empty database, no migrations applied (default true). */
  migrated?: boolean;
  /** The name's prefix (default `ttp_test`; the bench uses `ttp_bench`). */
  prefix?: string;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
let template: Promise<string> | undefined;

/**
 * A migrated template database for the migrations as they are now (named by a
 * digest of their text), built once per server and reused by every test file
 * and run: `CREATE DATABASE … TEMPLATE` copies it in milliseconds, where
 * migrating a fresh database takes hundreds. Test files run in parallel
 * processes; one builds the template under a session advisory lock while the
 * others wait on it.
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const digest = createHash('sha256');
    for (const file of readdirSync(MIGRATIONS_DIR).sort()) digest.update(file).update(readFileSync(join(MIGRATIONS_DIR, file)));
    const name = `ttp_test_template_${digest.digest('hex').slice(0, 16)}`;
    await withAdmin(async (admin) => {
      await admin`SELECT pg_advisory_lock(hashtext(${name}))`;
      const [ready] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name} AND datistemplate`;
      if (!ready) {
        const building = `${name}_build`;
        await admin.unsafe(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
        await admin.unsafe(`CREATE DATABASE "${building}"`);
        await migrate(urlFor(building));
        await admin.unsafe(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
        await admin.unsafe(`ALTER DATABASE "${name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
      }
      await admin`SELECT pg_advisory_unlock(hashtext(${name}))`;
    });
    return name;
  })();
  return template;
}

/**
 * Creates a fresh database (a copy of the migrated template unless
 * `migrated: false`), so test files never share state. Drop it in `after()`.
 */
export async function createTestDatabase(label: string, options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `${options.prefix ?? 'ttp_test'}_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const from = options.migrated === false ? '' : ` TEMPLATE "${await migratedTemplate()}"`;
  await withAdmin((admin) => admin.unsafe(`CREATE DATABASE "${name}"${from}`));
  return {
    name,
    url: urlFor(name),
    drop: () => withAdmin((admin) => admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

/** The positions committed to a Postgres database's event log after `after`, in order (the truth to audit a consumer against). */
export async function readLogPositions(url: string, after: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return (await sql`SELECT position::text AS p FROM ttp_rule_event WHERE position > ${after}::bigint ORDER BY position`).map((r) => String(r['p']));
  } finally {
    await sql.end();
  }
}

/** A fresh SQLite file in its own temp folder; `drop()` removes the folder. */
export function createTestSqliteFile(label: string): { url: string; path: string; drop(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `ttp-test-${label}-`));
  const path = join(dir, 'rules.db');
  return {
    url: `sqlite:${path}`,
    path,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
