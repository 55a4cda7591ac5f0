import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRuleStore } from '../../src/index.js';
import { forkChild, type BenchChild, type ChildMessage } from '../support/child.js';
import { stamp } from '../support/clock.js';
import { BENCH_KINDS, manyRuleId, ruleText } from '../support/ruleText.js';
import { summarize, type LatencySummary } from '../support/stats.js';
import { withAdmin } from '../../test/helpers/database.js';
import type { Scenario } from '../support/scenario.js';

/** Memory of one worker process (MB, after a full GC). */
export interface WorkerMemory {
  readonly rules: number;
  readonly workers: number;
  /** Median over the workers. */
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

/** The swarm: a master syncing a directory, `workers` engine processes, one burst of files. */
export interface SwarmResult {
  readonly workers: number;
  readonly files: number;
  /** Writing the files (all at once). */
  readonly writeFilesMs: number;
  /** First file write issued -> each worker holds every rule, ms (one value per worker). */
  readonly convergeMs: LatencySummary;
  /** Workers that start on `memory[1].rules` rules: process start -> first index, ms. */
  readonly loadMs: LatencySummary | null;
  /** Per-worker memory: an empty index, then the large one. */
  readonly memory: readonly WorkerMemory[];
  /** Server connections the swarm held while idle (master + workers). */
  readonly connections: number | null;
}

const mb = (bytes: number): number => bytes / 1024 / 1024;

/**
 * The swarm (issues 4 and 6), real processes on the built package: a master
 * (`syncDirectory` with `watch`, in a child process) follows an empty rules
 * directory; `workers` engine processes each hold a `watchRules` index. The bench
 * writes `files` rule files into the directory at once (a `git checkout`) and
 * times, per worker, first write issued -> its index holds all of them. Then
 * the database grows to `bigRules` rules (written directly, in batches) and
 * `memoryWorkers` fresh workers load it: per-worker RSS and heap after a full
 * GC, next to the workers' with an empty index.
 */
export async function measureSwarm(
  url: string,
  options: { workers: number; files: number; bigRules: number; memoryWorkers: number; log: (m: string) => void; connections: () => Promise<number> },
): Promise<SwarmResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ttp-bench-swarm-'));
  const children: BenchChild[] = [];
  const workerArgs = { nodeArgs: ['--expose-gc'] };
  try {
    const master = await forkChild('../support/swarmMaster.mjs', import.meta.url, [url, dir]);
    children.push(master);
    const startWorkers = async (n: number): Promise<(BenchChild & { ready: ChildMessage })[]> => {
      const started = await Promise.all(Array.from({ length: n }, () => forkChild('../support/swarmWorker.mjs', import.meta.url, [url], { ...workerArgs, readyTimeoutMs: 120_000 })));
      children.push(...started);
      return started;
    };
    const memoryOf = async (workers: readonly BenchChild[], rules: number): Promise<WorkerMemory> => {
      const replies = await Promise.all(workers.map((w) => w.ask<{ type: string; rss: number; heapUsed: number; rules: number }>({ type: 'memory' }, 'memory')));
      for (const r of replies) if (r.rules !== rules) throw new Error(`swarm: a worker holds ${r.rules} rules, expected ${rules}`);
      return { rules, workers: replies.length, rssMb: mb(summarize(replies.map((r) => r.rss)).p50), heapUsedMb: mb(summarize(replies.map((r) => r.heapUsed)).p50) };
    };

    const workers = await startWorkers(options.workers);
    options.log(`swarm: master + ${workers.length} workers ready`);
    const connections = await options.connections().catch(() => null);
    const memory: WorkerMemory[] = [await memoryOf(workers, 0)];

    const reached = workers.map((w) => w.ask<{ type: string; at: number }>({ type: 'expect', count: options.files }, 'reached', 120_000));
    const t0 = stamp();
    await Promise.all(
      Array.from({ length: options.files }, (_, i) => {
        const ruleId = manyRuleId('SW', i);
        return writeFile(join(dir, `${ruleId}.yaml`), ruleText(1, ruleId, BENCH_KINDS[i % BENCH_KINDS.length]));
      }),
    );
    const writeFilesMs = stamp() - t0;
    const converge = (await Promise.all(reached)).map((r) => r.at - t0);
    const convergeMs = summarize(converge);
    options.log(`swarm: ${options.files} files -> every worker in ${convergeMs.max.toFixed(0)} ms (fastest ${convergeMs.min.toFixed(0)} ms)`);
    await Promise.all(workers.map((w) => w.stop()));

    // The large index: written directly (not through files), loaded by fresh workers.
    const store = await openRuleStore({ url });
    try {
      const docs = Array.from({ length: options.bigRules - options.files }, (_, i) => {
        const ruleId = manyRuleId('SB', i);
        return { yaml: ruleText(1, ruleId, BENCH_KINDS[i % BENCH_KINDS.length]) };
      });
      for (let i = 0; i < docs.length; i += 2000) await store.upsertRules(docs.slice(i, i + 2000), { updatedBy: 'bench' });
    } finally {
      await store.close();
    }
    const big = await startWorkers(options.memoryWorkers);
    memory.push(await memoryOf(big, options.bigRules));
    const loadMs = summarize(big.map((w) => Number(w.ready['loadMs'])));
    options.log(`swarm: ${options.bigRules} rules per worker: RSS ${memory[1]!.rssMb.toFixed(0)} MB, heap ${memory[1]!.heapUsedMb.toFixed(0)} MB (empty index: ${memory[0]!.rssMb.toFixed(0)} / ${memory[0]!.heapUsedMb.toFixed(0)} MB)`);
    return { workers: options.workers, files: options.files, writeFilesMs, convergeMs, loadMs, memory, connections };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Swarm: a master and many worker processes on the built package. */
export const swarmScenario: Scenario<{ workers: number; files: number; bigRules: number; memoryWorkers: number }> = {
  id: 'swarm',
  title: 'Swarm',
  measures: 'rule files written -> every worker holds them; worker memory empty and with many rules; server connections held',
  plan: { quick: { workers: 4, files: 100, bigRules: 2000, memoryWorkers: 2 }, full: { workers: 16, files: 500, bigRules: 10_000, memoryWorkers: 4 } },
  needsBuild: true,
  async run(context, plan) {
    context.log(`swarm: master + ${plan.workers} workers, ${plan.files} files`);
    const swarm = await context.withDatabase('swarm', (db) => {
      const connections = (): Promise<number> =>
        withAdmin(async (sql) => Number((await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name}`)[0]?.n ?? 0));
      return measureSwarm(db.url, { ...plan, log: context.log, connections });
    });
    return { swarm };
  },
};
