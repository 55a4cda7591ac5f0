import Database from 'better-sqlite3';
import postgres from 'postgres';
import { openRuleStore, type OpenRuleStoreOptions, type RuleStore } from '../../src/index.js';
import { createTestDatabase, createTestSqliteFile } from './database.js';

/** The backends every contract test runs against. */
export type BackendName = 'postgres-listen' | 'postgres-poll' | 'sqlite';
const ALL_BACKENDS: readonly BackendName[] = ['postgres-listen', 'postgres-poll', 'sqlite'];
/** All three, or a comma-separated subset from TTP_TEST_BACKENDS (for a quick local run). */
export const BACKENDS: readonly BackendName[] = process.env['TTP_TEST_BACKENDS']
  ? ALL_BACKENDS.filter((b) => process.env['TTP_TEST_BACKENDS']!.split(',').includes(b))
  : ALL_BACKENDS;

/** A raw connection for hand edits, like an operator in psql or the sqlite3 shell. `$1`-style parameters on both. */
export interface RawDb {
  run(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** One backend under test: a fresh database, stores on it, and a raw connection. */
export interface BackendFixture {
  readonly name: BackendName;
  readonly url: string;
  open(options?: Omit<OpenRuleStoreOptions, 'url'>): Promise<RuleStore>;
  raw(): RawDb;
  /** Closes every store and raw connection opened through the fixture, then drops the database. */
  teardown(): Promise<void>;
}

/**
 * Creates a fresh database for one backend. Poll intervals are short so the
 * suite runs quickly; nothing in the tests depends on their value.
 */
export async function createBackendFixture(name: BackendName, label: string): Promise<BackendFixture> {
  const closers: (() => Promise<void>)[] = [];
  let url: string;
  let drop: () => Promise<void>;
  if (name === 'sqlite') {
    const file = createTestSqliteFile(label);
    url = file.url;
    drop = file.drop;
  } else {
    const db = await createTestDatabase(`${label}_${name === 'postgres-poll' ? 'poll' : 'listen'}`);
    url = db.url;
    drop = db.drop;
  }
  const defaults: OpenRuleStoreOptions = name === 'postgres-poll' ? { transport: 'poll', pollIntervalMs: 50 } : name === 'sqlite' ? { pollIntervalMs: 50 } : {};
  return {
    name,
    url,
    async open(options = {}) {
      const store = await openRuleStore({ url, ...defaults, ...options });
      closers.push(() => store.close());
      return store;
    },
    raw() {
      let raw: RawDb;
      if (name === 'sqlite') {
        const db = new Database(url.slice('sqlite:'.length));
        db.pragma('busy_timeout = 5000');
        raw = {
          async run(sql, params = []) {
            // $1-style placeholders become named ones (better-sqlite3 binds ?NNN only positionally).
            const stmt = db.prepare(sql.replace(/\$(\d+)/g, '@p$1'));
            const args = Object.fromEntries(params.map((p, i) => [`p${i + 1}`, p instanceof Date ? p.toISOString() : p]));
            return stmt.reader ? (stmt.all(args) as Record<string, unknown>[]) : (stmt.run(args), []);
          },
          async close() {
            db.close();
          },
        };
      } else {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        raw = {
          async run(text, params = []) {
            return [...(await sql.unsafe(text, params as never[]))] as Record<string, unknown>[];
          },
          async close() {
            await sql.end({ timeout: 1 });
          },
        };
      }
      closers.push(() => raw.close());
      return raw;
    },
    async teardown() {
      for (const close of closers.reverse()) await close().catch(() => {});
      await drop();
    },
  };
}
