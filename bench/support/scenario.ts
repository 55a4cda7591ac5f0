import { createTestDatabase, type TestDatabase } from '../../test/helpers/database.js';
import type { MeasuredResults } from '../report.js';
import { createFloorSchema } from '../scenarios/floor.js';
import { sqliteUnavailable, type BenchSqliteFile } from '../scenarios/sqlite.js';
import { builtPackage } from './child.js';
import { startWriter, type Writer } from './writerClient.js';

/** A bench database: a fresh copy of the migrated template (test/helpers/database.ts), dropped after its scenario. */
export type BenchDatabase = TestDatabase;

/** What a scenario hands to the report: the families of {@link MeasuredResults} it measured. */
export type ScenarioOutput = Partial<Omit<MeasuredResults, 'meta' | 'skipped' | 'notes'>>;

/**
 * One benchmark scenario. `bench/run.ts` is a table of these: the driver picks
 * the plan (`--quick` or full), runs the selected scenarios in table order and
 * merges their outputs into one report (bench/report.ts derives the targets).
 */
export interface Scenario<P = unknown> {
  /** Its id for `--only` (and in the report). */
  readonly id: string;
  /** Further ids that select it: figures measured together (the interleaved latency probes). */
  readonly figures?: readonly string[];
  readonly title: string;
  /** What it measures, against which baseline. */
  readonly measures: string;
  readonly plan: { readonly quick: P; readonly full: P };
  /** Its processes run the built package (dist/): skipped when it is missing. */
  readonly needsBuild?: boolean;
  /** Uses the shared latency database and writer process ({@link BenchContext.shared}). */
  readonly usesWriter?: boolean;
  run(context: BenchContext, plan: P): Promise<ScenarioOutput | void>;
}

/** What the driver gives every scenario. */
export interface BenchContext {
  readonly quick: boolean;
  /** True when `id` was selected (`--only`), or no selection was made. */
  wanted(id: string): boolean;
  log(message: string): void;
  /** A line under the report's tables. */
  note(line: string): void;
  /** Says why a figure was not measured. */
  skip(reason: string): void;
  /** A sequence number for latency samples, unique over the run. */
  nextSeq(): number;
  /** Runs `fn` on a fresh database, dropped afterwards (also on SIGINT). */
  withDatabase<T>(label: string, fn: (db: BenchDatabase) => Promise<T>): Promise<T>;
  /** A SQLite file dropped at the end of the run. */
  trackSqliteFile(file: BenchSqliteFile): void;
  /**
   * The latency database (with the floor's schema) and the writer child
   * connected to it, store `pg` open on listen; opened on first use, closed
   * once no later scenario of the table uses it.
   */
  shared(): Promise<{ db: BenchDatabase; writer: Writer }>;
  /** Null when the SQLite backend opens; otherwise why not (checked once). */
  sqliteMissing(): Promise<string | null>;
}

/** The driver's side of the context: its collected notes and what to release. */
export interface BenchContextControl {
  readonly context: BenchContext;
  readonly notes: string[];
  readonly skipped: string[];
  /** Closes the shared writer and drops its database. */
  releaseShared(): Promise<void>;
  /** Drops everything still open (SIGINT included). */
  cleanup(): Promise<void>;
}

/** Creates the context for one run. */
export function createBenchContext(options: { quick: boolean; only: ReadonlySet<string> | null; log: (message: string) => void }): BenchContextControl {
  const notes: string[] = [];
  const skipped: string[] = [];
  const databases: BenchDatabase[] = [];
  const sqliteFiles: BenchSqliteFile[] = [];
  let shared: Promise<{ db: BenchDatabase; writer: Writer }> | null = null;
  let sqlite: Promise<string | null> | null = null;
  let seq = 0;
  const open = async (label: string): Promise<BenchDatabase> => {
    const db = await createTestDatabase(label, { prefix: 'ttp_bench' });
    databases.push(db);
    return db;
  };
  const drop = async (db: BenchDatabase): Promise<void> => {
    databases.splice(databases.indexOf(db), 1);
    await db.drop().catch((e: unknown) => options.log(`could not drop ${db.name}: ${String(e)}`));
  };
  const releaseShared = async (): Promise<void> => {
    const s = await shared?.catch(() => null);
    shared = null;
    if (!s) return;
    await s.writer.close().catch(() => {});
    await drop(s.db);
  };
  const context: BenchContext = {
    quick: options.quick,
    wanted: (id) => options.only === null || options.only.has(id),
    log: options.log,
    note: (line) => void notes.push(line),
    skip: (reason) => void skipped.push(reason),
    nextSeq: () => ++seq,
    async withDatabase(label, fn) {
      const db = await open(label);
      try {
        return await fn(db);
      } finally {
        await drop(db);
      }
    },
    trackSqliteFile: (file) => void sqliteFiles.push(file),
    shared: () =>
      (shared ??= (async () => {
        options.log('creating the latency database and the writer process');
        const db = await open('latency');
        await createFloorSchema(db.url);
        const writer = await startWriter();
        await writer.call('connect', { url: db.url });
        await writer.call('openStore', { name: 'pg', options: { url: db.url, transport: 'listen' } });
        return { db, writer };
      })()),
    sqliteMissing: () => (sqlite ??= sqliteUnavailable()),
  };
  let cleaning: Promise<void> | null = null;
  return {
    context,
    notes,
    skipped,
    releaseShared,
    cleanup: () =>
      (cleaning ??= (async () => {
        await releaseShared();
        for (const db of [...databases]) await drop(db);
        for (const f of sqliteFiles) f.drop();
      })()),
  };
}

/** Null when the scenario can run; otherwise why it is skipped. */
export function missingPrerequisite(scenario: Scenario): string | null {
  if (scenario.needsBuild && !builtPackage()) return `${scenario.title}: dist/index.js is missing (npm run build); its processes run the built package.`;
  return null;
}
