import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { migrate } from '../../src/index.js';

/** The server the bench runs against (trust auth on this machine). */
export const PG_SERVER_URL = process.env['TTP_BENCH_PG_URL'] ?? process.env['TTP_TEST_PG_URL'] ?? 'postgres://root@127.0.0.1:5432/postgres';

/** A fresh, uniquely named database owned by one bench run; `drop()` removes it. */
export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

function urlFor(database: string): string {
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

/** Creates a fresh database, migrated with the library's own `migrate()` unless `migrated: false`. */
export async function createBenchDatabase(label: string, options: { migrated?: boolean } = {}): Promise<BenchDatabase> {
  const name = `ttp_bench_${label}_${randomBytes(4).toString('hex')}`;
  await withAdmin((sql) => sql.unsafe(`CREATE DATABASE "${name}"`));
  const url = urlFor(name);
  const db: BenchDatabase = {
    name,
    url,
    drop: () => withAdmin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
  try {
    if (options.migrated !== false) await migrate(url);
  } catch (error) {
    await db.drop().catch(() => {});
    throw error;
  }
  return db;
}
