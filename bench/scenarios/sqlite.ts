import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openRuleStore } from '../../src/index.js';
import { sleep } from '../support/clock.js';
import type { IdleResult } from './idleCost.js';
import { uncommitted } from '../support/git.js';
import { latencyRow, runBlock } from '../support/latency.js';
import type { Scenario } from '../support/scenario.js';
import { crossStoreProbe } from './storeLatency.js';

/** The library's default SQLite poll interval (`openRuleStore` docs), passed explicitly so the report states it. */
export const SQLITE_POLL_MS = 100;

/** A SQLite file in its own temp folder, removed by `drop()`. */
export interface BenchSqliteFile {
  readonly url: string;
  drop(): void;
}

export function createBenchSqliteFile(label: string): BenchSqliteFile {
  const dir = mkdtempSync(join(tmpdir(), `ttp-bench-${label}-`));
  return { url: `sqlite:${join(dir, 'rules.db')}`, drop: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Null when the SQLite backend opens; otherwise why the SQLite figures are skipped. */
export async function sqliteUnavailable(): Promise<string | null> {
  const file = createBenchSqliteFile('probe');
  try {
    const store = await openRuleStore({ url: file.url });
    await store.close();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    file.drop();
  }
}

/**
 * Counts statements executed through better-sqlite3 in this process, by
 * wrapping its prototypes (SQLite has no server to ask). Installed once; every
 * `run`/`get`/`all`/`iterate`/`exec` (and so every `pragma`) counts one.
 */
function installStatementCounter(): () => number {
  let count = 0;
  const probe = new Database(':memory:');
  const statementProto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  const wrap = (proto: Record<string, unknown>, name: string): void => {
    const original = proto[name];
    if (typeof original !== 'function') return;
    proto[name] = function counted(this: unknown, ...args: unknown[]) {
      count++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  };
  for (const name of ['run', 'get', 'all', 'iterate']) wrap(statementProto, name);
  wrap(Database.prototype as unknown as Record<string, unknown>, 'exec');
  return () => count;
}

let statementCount: (() => number) | null = null;

/**
 * (e) SQLite idle cost: statements per second a SQLite store runs while nothing
 * changes, counted client-side (see {@link installStatementCounter}) over a
 * window after the store has settled.
 */
export async function measureSqliteIdle(options: { windowMs: number; settleMs: number }): Promise<IdleResult> {
  statementCount ??= installStatementCounter();
  const file = createBenchSqliteFile('idle');
  try {
    const store = await openRuleStore({ url: file.url, pollIntervalMs: SQLITE_POLL_MS });
    const sub = store.changes$.subscribe(() => {});
    await sleep(options.settleMs);
    const before = statementCount();
    await sleep(options.windowMs);
    const after = statementCount();
    sub.unsubscribe();
    await store.close();
    return {
      id: 'sqlite',
      label: `this store on SQLite, poll ${SQLITE_POLL_MS} ms (statements counted in better-sqlite3)`,
      intervalMs: SQLITE_POLL_MS,
      queriesPerSecond: (after - before) / (options.windowMs / 1000),
      connections: null,
      counted: { short: 0, long: after - before },
    };
  } finally {
    file.drop();
  }
}

/** (f) SQLite across processes: the writer child edits a WAL file another process polls. */
export const sqliteCrossScenario: Scenario<{ samples: number }> = {
  id: 'sqliteCross',
  title: 'Propagation latency on SQLite',
  measures: `write in a writer process -> change in a store polling the same SQLite file every ${SQLITE_POLL_MS} ms`,
  plan: { quick: { samples: 40 }, full: { samples: 200 } },
  usesWriter: true,
  async run(context, plan) {
    const missing = await context.sqliteMissing();
    if (missing !== null) return void context.skip(`SQLite figures: the SQLite backend does not open yet (${missing}).`);
    const { writer } = await context.shared();
    const file = createBenchSqliteFile('latency');
    context.trackSqliteFile(file);
    await writer.call('openStore', { name: 'sqlite', options: { url: file.url, pollIntervalMs: SQLITE_POLL_MS } });
    const probe = crossStoreProbe({ id: 'sqliteCross', label: `store on SQLite (poll ${SQLITE_POLL_MS} ms), writer process -> changes$ in another process`, url: file.url, writer, writerStore: 'sqlite', edit: 'upsert', pollIntervalMs: SQLITE_POLL_MS });
    context.log(`sqlite: ${plan.samples} samples at ${SQLITE_POLL_MS} ms`);
    const data = await runBlock(probe, { warmup: 5, samples: plan.samples, nextSeq: context.nextSeq, jitterMs: SQLITE_POLL_MS });
    await writer.call('closeStore', { name: 'sqlite' });
    context.note(`SQLite: ${plan.samples} sequential edits across processes on one WAL file, each after a random 0–${SQLITE_POLL_MS} ms pause.`);
    if (uncommitted('src/store/sqlite', 'sql/sqlite')) context.note('SQLite figures were measured on the SQLite backend as it stood in the working tree, not yet committed.');
    return { latency: [latencyRow(probe, 'store', data, { intervalMs: SQLITE_POLL_MS })] };
  },
};
