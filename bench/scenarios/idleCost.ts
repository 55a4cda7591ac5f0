import postgres from 'postgres';
import { openRuleStore } from '../../src/index.js';
import { sleep } from '../support/clock.js';
import { PG_SERVER_URL, type TestDatabase as BenchDatabase } from '../../test/helpers/database.js';
import { SEED_POLL_MS, startSeedPoller } from './seedPoll.js';
import type { Scenario } from '../support/scenario.js';
import { measureSqliteIdle } from './sqlite.js';
import { POLL_MS } from './latency.js';

/** Something that runs against the database while nothing changes. */
export interface IdleSubject {
  readonly id: string;
  readonly label: string;
  /** The configured interval that drives its queries (poll or safety check), ms. */
  readonly intervalMs: number | null;
  open(url: string): Promise<{ close(): Promise<void> }>;
}

/** One idle-cost figure. */
export interface IdleResult {
  readonly id: string;
  readonly label: string;
  readonly intervalMs: number | null;
  /** Statements (pg_stat_statements) or transactions (xact_commit) per second while idle. */
  readonly queriesPerSecond: number;
  /** Server backends the subject held open in the bench database (null: embedded, no server). */
  readonly connections: number | null;
  readonly counted: { readonly short: number; readonly long: number };
}

/** How the server counts: statements if pg_stat_statements is loaded, else transactions. */
export type IdleCounter = 'pg_stat_statements' | 'xact_commit';

/**
 * (e) Idle cost measured from the server's side. `xact_commit` is flushed by
 * each backend at most once a second and may stay pending up to 10 s on an idle
 * backend, so a plain before/after window would be off by whatever the opening
 * queries left pending. Instead every subject lives twice, alone in the
 * database: once for `settleMs`, once for `settleMs + windowMs`; the count is
 * read only after it closed and its backends exited (exit flushes the stats).
 * The difference is what the idle window cost, with the opening burst cancelled.
 * Anything else that touches the database meanwhile (an autovacuum worker
 * visiting it) can only add transactions, so each lifetime is measured twice
 * and the smaller count kept.
 */
export async function measureIdle(db: BenchDatabase, subjects: readonly IdleSubject[], options: { windowMs: number; settleMs: number }): Promise<{ counter: IdleCounter; windowMs: number; results: IdleResult[] }> {
  // The monitor sits in the server's maintenance database, so its own queries never count.
  const monitor = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  try {
    const [preload] = await monitor<{ libs: string }[]>`SELECT current_setting('shared_preload_libraries') AS libs`;
    const counter: IdleCounter = preload?.libs.includes('pg_stat_statements') ? 'pg_stat_statements' : 'xact_commit';
    if (counter === 'pg_stat_statements') {
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`.finally(() => sql.end({ timeout: 5 }));
    }
    const read = async (): Promise<number> => {
      if (counter === 'pg_stat_statements') {
        const [row] = await monitor<{ n: string }[]>`
          SELECT coalesce(sum(s.calls), 0)::text AS n FROM pg_stat_statements s
            JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ${db.name}`;
        return Number(row?.n ?? 0);
      }
      const [row] = await monitor<{ n: string }[]>`
        SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = ${db.name}`;
      return Number(row?.n ?? 0);
    };
    const backends = async (): Promise<number> => {
      const [row] = await monitor<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name}`;
      return row?.n ?? 0;
    };
    /** Waits until nothing is connected to the bench database and the counter has settled. */
    const quiet = async (): Promise<number> => {
      for (let i = 0; i < 100 && (await backends()) > 0; i++) await sleep(100);
      let last = await read();
      for (let i = 0; i < 20; i++) {
        await sleep(150);
        const now = await read();
        if (now === last) return now;
        last = now;
      }
      return last;
    };
    const lifetime = async (subject: IdleSubject, lifeMs: number): Promise<{ count: number; connections: number }> => {
      const before = await quiet();
      const handle = await subject.open(db.url);
      await sleep(lifeMs / 2);
      const connections = await backends();
      await sleep(lifeMs / 2);
      await handle.close();
      return { count: (await quiet()) - before, connections };
    };

    const results: IdleResult[] = [];
    for (const subject of subjects) {
      const fewest = async (lifeMs: number): Promise<{ count: number; connections: number }> => {
        const a = await lifetime(subject, lifeMs);
        const b = await lifetime(subject, lifeMs);
        return a.count <= b.count ? a : b;
      };
      const short = await fewest(options.settleMs);
      const long = await fewest(options.settleMs + options.windowMs);
      results.push({
        id: subject.id,
        label: subject.label,
        intervalMs: subject.intervalMs,
        queriesPerSecond: Math.max(0, long.count - short.count) / (options.windowMs / 1000),
        connections: long.connections,
        counted: { short: short.count, long: long.count },
      });
    }
    return { counter, windowMs: options.windowMs, results };
  } finally {
    await monitor.end({ timeout: 5 });
  }
}

/** The seed's worker tail: `SELECT * FROM ttp_rule WHERE updated_at > watermark` once a second. */
export const seedPoller: IdleSubject = {
  id: 'seed',
  label: 'seed design: 1 s poll of ttp_rule.updated_at',
  intervalMs: SEED_POLL_MS,
  open: (url) => startSeedPoller(url, () => {}),
};

/** This store on Postgres with the given transport. */
export function storeSubject(id: string, label: string, options: { transport: 'listen' | 'poll'; intervalMs: number }): IdleSubject {
  return {
    id,
    label,
    intervalMs: options.intervalMs,
    async open(url) {
      const store = await openRuleStore(
        options.transport === 'listen' ? { url, transport: 'listen', safetyCheckMs: options.intervalMs } : { url, transport: 'poll', pollIntervalMs: options.intervalMs },
      );
      const sub = store.changes$.subscribe(() => {});
      return {
        async close() {
          sub.unsubscribe();
          await store.close();
        },
      };
    },
  };
}

/** The library's default listen safety check. */
const LISTEN_SAFETY_MS = 30_000;

/** (e) Idle cost, alone in a fresh database. */
export const idleScenario: Scenario<{ windowMs: number; settleMs: number }> = {
  id: 'idle',
  title: 'Idle cost',
  measures: 'queries per second per store while nothing changes (listen, poll, SQLite), against the seed\'s 1 s poll',
  plan: { quick: { windowMs: 3000, settleMs: 1000 }, full: { windowMs: 10_000, settleMs: 1000 } },
  async run(context, plan) {
    context.log('idle: measuring queries per second while nothing changes');
    const measured = await context.withDatabase('idle', (db) =>
      measureIdle(
        db,
        [
          seedPoller,
          storeSubject('listen', `this store on listen (safety check ${LISTEN_SAFETY_MS / 1000} s, the default)`, { transport: 'listen', intervalMs: LISTEN_SAFETY_MS }),
          storeSubject('listenTick', 'this store on listen, safety check shortened to 1 s (prices one check)', { transport: 'listen', intervalMs: 1000 }),
          storeSubject('poll', `this store on Postgres poll (${POLL_MS} ms, the default)`, { transport: 'poll', intervalMs: POLL_MS }),
        ],
        plan,
      ),
    );
    const results: IdleResult[] = [...measured.results];
    const sqliteMissing = await context.sqliteMissing();
    if (sqliteMissing === null) results.push(await measureSqliteIdle(plan));
    else context.skip(`SQLite idle: the SQLite backend does not open (${sqliteMissing}).`);
    const tick = results.find((r) => r.id === 'listenTick');
    if (tick) {
      context.note(
        `Listen idle: one safety check costs about ${tick.queriesPerSecond.toFixed(1)} queries (measured with the check every 1 s); at the default ${LISTEN_SAFETY_MS / 1000} s that amortises to ${(tick.queriesPerSecond / (LISTEN_SAFETY_MS / 1000)).toFixed(3)} queries/s per store. The seed polled once a second per worker.`,
      );
    }
    return { idle: { counter: measured.counter, windowMs: measured.windowMs, results, note: measured.counter === 'xact_commit' ? 'transactions, not statements: every query here is one autocommit transaction' : '' } };
  },
};
