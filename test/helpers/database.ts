import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { migrate } from '../../src/index.js';

/** The server tests run against (trust auth on this machine and in CI). */
export const PG_SERVER_URL = process.env['TTP_TEST_PG_URL'] ?? 'postgres://root@127.0.0.1:5432/postgres';

function urlFor(database: string): string {
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A fresh, uniquely named Postgres database for one test file; `drop()` removes it. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * Creates a fresh database (migrated unless `migrated: false`), so test files
 * never share state. Drop it in `after()`.
 */
export async function createTestDatabase(label: string, options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `ttp_test_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  if (options.migrated !== false) await migrate(url);
  return {
    name,
    url,
    async drop() {
      const a = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
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
