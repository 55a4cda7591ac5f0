/**
 * `npm run bench`: one run, every figure next to its baseline, measured in the
 * same run, written to bench/results.json, bench/results.md and
 * bench/latency.svg, and pasted into README.md. The bench only reports; no
 * threshold here fails anything (results.md says which targets are met).
 *
 *   npm run bench                      the full run (about 8 minutes on 2 cores)
 *   npm run bench -- --quick           a short smoke run; prints, writes nothing
 *   npm run bench -- --only=floor,listenCross   a subset; writes nothing
 *
 * Profiling both sides (the subscriber here, the writer child):
 *   BENCH_CPU_PROF_DIR=/tmp/prof node --cpu-prof --cpu-prof-dir=/tmp/prof \
 *     --import tsx bench/run.ts --only=listenCross
 *
 * Ids for --only: commit, notify, notifyPgListen, floor, listenCross,
 * listenCrossState, listenSameStore, pollCross, sqliteCross, seedPoll, fanOut,
 * idle, throughput, catchUp, coldStart, readPast, tracing, swarm, nats, cliStartup, sse, cpu.
 *
 * Processes: the writers, the catch-up consumer and the swarm's master and
 * workers are child processes; the ones whose memory is measured (catch-up,
 * swarm) run the built package (dist/) under plain node, so run `npm run
 * build` first when calling this file directly.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { updateReadme } from './readme.js';
import postgres from 'postgres';
import { commitProbe, notifyProbe } from './scenarios/context.js';
import { createFloorSchema, floorProbe } from './scenarios/floor.js';
import { measureCpuCosts } from './scenarios/cpuCost.js';
import { measureIdle, seedPoller, storeSubject, type IdleCounter, type IdleResult } from './scenarios/idleCost.js';
import { SQLITE_POLL_MS, createBenchSqliteFile, measureSqliteIdle, sqliteUnavailable, type BenchSqliteFile } from './scenarios/sqlite.js';
import { crossStoreProbe, sameStoreProbe } from './scenarios/storeLatency.js';
import { measureSeedPoll, SEED_POLL_MS } from './scenarios/seedPoll.js';
import { measureFanOut } from './scenarios/fanOut.js';
import { measureThroughput } from './scenarios/throughput.js';
import { measureCatchUp } from './scenarios/catchUp.js';
import { measureColdStart } from './scenarios/coldStart.js';
import { measureReadPast } from './scenarios/readPast.js';
import { measureCliStartup } from './scenarios/cliStartup.js';
import { measureTracingCost } from './scenarios/tracingCost.js';
import { measureSwarm } from './scenarios/swarm.js';
import { measureSse } from './scenarios/sse.js';
import { evaluate, renderMarkdown, writeResults, type LatencyRow, type MeasuredResults } from './report.js';
import { builtPackage } from './support/child.js';
import { createBenchDatabase, withAdmin, type BenchDatabase } from './support/database.js';
import { runBlock, type LatencyProbe } from './support/latency.js';
import { percentiles, summarize } from './support/stats.js';
import { startWriter, type Writer } from './support/writerClient.js';

const POLL_MS = 250; // the library's default Postgres poll interval
const LISTEN_SAFETY_MS = 30_000; // the library's default safety check

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const only = args.only ? new Set(args.only.split(',').map((s) => s.trim())) : null;
const wanted = (id: string): boolean => only === null || only.has(id);
const writeFiles = !args.quick && only === null;

const plan = args.quick
  ? {
      rounds: 2, perRound: 100, firstWarmup: 50, warmup: 10, pollSamples: 20, sqliteSamples: 40, seedSamples: 20, idleWindowMs: 3000, idleSettleMs: 1000,
      fanOut: { subscribers: 1000, changes: 300 },
      throughput: { writers: 4, perWriter: 100, rounds: 1, warmup: 20 },
      catchUp: { changes: 10_000, definitionsOnly: true },
      coldStart: { rules: 2000, reps: 2 },
      readPast: { rules: 1000, events: 10_000, reps: 3 },
      cliStartup: { reps: 5 },
      tracing: { rounds: 2, perBlock: 100 },
      swarm: { workers: 4, files: 100, bigRules: 2000, memoryWorkers: 2 },
      nats: { edits: 50, engines: 20, processes: 2, direct: 4, burst: 100 },
      sse: { samples: 50, clients: 100, fanOutChanges: 3 },
    }
  : {
      rounds: 8, perRound: 250, firstWarmup: 200, warmup: 20, pollSamples: 120, sqliteSamples: 200, seedSamples: 150, idleWindowMs: 10_000, idleSettleMs: 1000,
      fanOut: { subscribers: 1000, changes: 2000 },
      throughput: { writers: 4, perWriter: 500, rounds: 3, warmup: 50 },
      catchUp: { changes: 100_000, definitionsOnly: true },
      coldStart: { rules: 10_000, reps: 3 },
      readPast: { rules: 10_000, events: 100_000, reps: 10 },
      cliStartup: { reps: 20 },
      tracing: { rounds: 5, perBlock: 400 },
      swarm: { workers: 16, files: 500, bigRules: 10_000, memoryWorkers: 4 },
      nats: { edits: 300, engines: 200, processes: 4, direct: 10, burst: 500 },
      sse: { samples: 300, clients: 500, fanOutChanges: 20 },
    };

const t0 = performance.now();
const log = (message: string): void => {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
};

const databases: BenchDatabase[] = [];
const sqliteFiles: BenchSqliteFile[] = [];
let writer: Writer | null = null;
let cleaning: Promise<void> | null = null;
const cleanup = (): Promise<void> =>
  (cleaning ??= (async () => {
    await writer?.close().catch(() => {});
    for (const db of databases) await db.drop().catch((e: unknown) => log(`could not drop ${db.name}: ${String(e)}`));
    for (const f of sqliteFiles) f.drop();
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: dropping the bench databases`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** True when git reports uncommitted changes under any of `paths` (false if git is unavailable). */
function uncommitted(...paths: string[]): boolean {
  try {
    return execSync(`git status --porcelain -- ${paths.join(' ')}`, { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

let seq = 0;
const nextSeq = (): number => ++seq;

/** Runs probes in interleaved rounds, so slow drift of a shared machine hits all of them alike. */
async function runRounds(probes: readonly LatencyProbe[]): Promise<Map<string, { samples: number[]; acks: number[] }>> {
  const collected = new Map(probes.map((p) => [p.id, { samples: [] as number[], acks: [] as number[] }]));
  for (let round = 0; round < plan.rounds; round++) {
    for (const probe of probes) {
      const block = await runBlock(probe, { warmup: round === 0 ? plan.firstWarmup : plan.warmup, samples: plan.perRound, nextSeq });
      const into = collected.get(probe.id)!;
      into.samples.push(...block.samples);
      into.acks.push(...block.acks);
    }
    log(`round ${round + 1}/${plan.rounds}: ${probes.map((p) => `${p.id} p50 ${summarize(collected.get(p.id)!.samples).p50.toFixed(2)}`).join(', ')}`);
  }
  return collected;
}

function row(probe: Pick<LatencyProbe, 'id' | 'label'>, group: LatencyRow['group'], data: { samples: number[]; acks: number[] }, extra: Partial<LatencyRow> = {}): LatencyRow {
  return {
    id: probe.id,
    label: probe.label,
    group,
    latency: summarize(data.samples),
    percentiles: percentiles(data.samples).map((v) => Number(v.toFixed(3))),
    ...(data.acks.length ? { ack: summarize(data.acks) } : {}),
    // Per write: delivery after the writer's acknowledgement (the acks pair up with the samples).
    ...(data.acks.length === data.samples.length && data.acks.length > 0 ? { afterAck: summarize(data.samples.map((s, i) => s - data.acks[i]!)) } : {}),
    ...extra,
  };
}

/** Runs `fn` on a fresh bench database, dropped afterwards (also on SIGINT, through cleanup). */
async function withDatabase<T>(label: string, fn: (db: BenchDatabase) => Promise<T>): Promise<T> {
  const db = await createBenchDatabase(label);
  databases.push(db);
  try {
    return await fn(db);
  } finally {
    await db.drop();
    databases.splice(databases.indexOf(db), 1);
  }
}

/** Server connections to `db` right now (the swarm reports what it holds). */
const connectionsTo = (db: BenchDatabase) => (): Promise<number> =>
  withAdmin(async (sql) => Number((await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name}`)[0]?.n ?? 0));

/** Null when NATS answers at `url`; otherwise why the NATS figures are skipped. */
async function natsUnavailable(url: string): Promise<string | null> {
  try {
    const { connect } = await import('nats');
    const nc = await connect({ servers: url, timeout: 2000, reconnect: false });
    await nc.close();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function main(): Promise<void> {
  const meta: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    loadStart: loadavg().map((l) => l.toFixed(2)).join(' '),
    commit: (() => {
      try {
        const head = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
        return uncommitted('src', 'migrations', 'sql') ? `${head} + uncommitted changes in src/, migrations/ or sql/` : head;
      } catch {
        return 'unknown';
      }
    })(),
    plan,
  };
  const rows: LatencyRow[] = [];
  const skipped: string[] = [];
  const notes: string[] = [];
  let idle: MeasuredResults['idle'] = { counter: 'skipped', windowMs: plan.idleWindowMs, results: [] };
  const families: { -readonly [K in 'throughput' | 'catchUp' | 'coldStart' | 'fanOut' | 'tracing' | 'swarm' | 'nats' | 'cliStartup']: MeasuredResults[K] } = {
    throughput: null,
    catchUp: null,
    coldStart: null,
    fanOut: null,
    tracing: null,
    swarm: null,
    nats: null,
    cliStartup: null,
  };
  const dist = builtPackage();

  log('creating the latency database');
  const db = await createBenchDatabase('latency');
  databases.push(db);
  await createFloorSchema(db.url);
  {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const [v] = await sql<{ v: string }[]>`SELECT split_part(version(), ' on ', 1) AS v`;
    meta['postgres'] = v?.v ?? 'unknown';
    const [sc] = await sql<{ s: string }[]>`SELECT current_setting('synchronous_commit') AS s`;
    meta['synchronousCommit'] = sc?.s;
    await sql.end({ timeout: 5 });
  }
  writer = await startWriter();
  await writer.call('connect', { url: db.url });
  await writer.call('openStore', { name: 'pg', options: { url: db.url, transport: 'listen' } });

  // (a) (b) (c): interleaved rounds on one database.
  const allProbes: { probe: LatencyProbe; group: LatencyRow['group'] }[] = [
    { probe: commitProbe(writer), group: 'context' },
    { probe: notifyProbe(db.url, writer, 'postgres.js'), group: 'context' },
    { probe: notifyProbe(db.url, writer, 'pg-listen'), group: 'context' },
    { probe: floorProbe(db.url, writer), group: 'floor' },
    {
      probe: crossStoreProbe({ id: 'listenCross', label: 'store on listen: upsertRule (new rule_version) -> changes$ of a second store', url: db.url, writer, writerStore: 'pg', edit: 'upsert', transport: 'listen' }),
      group: 'store',
    },
    {
      probe: crossStoreProbe({ id: 'listenCrossState', label: 'store on listen: setState -> changes$ of a second store', url: db.url, writer, writerStore: 'pg', edit: 'setState', transport: 'listen' }),
      group: 'store',
    },
    { probe: sameStoreProbe(db.url), group: 'store' },
  ];
  const probes = allProbes.filter((p) => wanted(p.probe.id));
  if (probes.length > 0) {
    log(`latency: ${probes.length} probes × ${plan.rounds} rounds × ${plan.perRound} samples (+ warm-up)`);
    const collected = await runRounds(probes.map((p) => p.probe));
    for (const p of probes) rows.push(row(p.probe, p.group, collected.get(p.probe.id)!));
  }

  // (d) Postgres poll: each sample costs up to an interval, so fewer samples, at a random phase.
  if (wanted('pollCross')) {
    const probe = crossStoreProbe({
      id: 'pollCross',
      label: `store on Postgres poll (${POLL_MS} ms): upsertRule -> changes$ of a second store`,
      url: db.url,
      writer,
      writerStore: 'pg',
      edit: 'upsert',
      transport: 'poll',
      pollIntervalMs: POLL_MS,
    });
    log(`poll: ${plan.pollSamples} samples at ${POLL_MS} ms`);
    const data = await runBlock(probe, { warmup: 3, samples: plan.pollSamples, nextSeq, jitterMs: POLL_MS });
    rows.push(row(probe, 'store', data, { intervalMs: POLL_MS, note: `${plan.pollSamples} samples, each issued at a random phase of the interval` }));
    notes.push(`Postgres poll: ${plan.pollSamples} sequential edits (each costs up to one ${POLL_MS} ms interval), each issued after a random 0–${POLL_MS} ms pause so the poll phase is uniform.`);
  }

  // (f) SQLite across processes, once the backend exists.
  const sqliteWanted = wanted('sqliteCross') || wanted('idle');
  const sqliteMissing = sqliteWanted ? await sqliteUnavailable() : 'not requested';
  if (sqliteMissing !== null && sqliteWanted) skipped.push(`SQLite figures: the SQLite backend does not open yet (${sqliteMissing}).`);
  if (sqliteMissing === null && wanted('sqliteCross')) {
    const file = createBenchSqliteFile('latency');
    sqliteFiles.push(file);
    await writer.call('openStore', { name: 'sqlite', options: { url: file.url, pollIntervalMs: SQLITE_POLL_MS } });
    const probe = crossStoreProbe({
      id: 'sqliteCross',
      label: `store on SQLite (poll ${SQLITE_POLL_MS} ms), writer process -> changes$ in another process`,
      url: file.url,
      writer,
      writerStore: 'sqlite',
      edit: 'upsert',
      pollIntervalMs: SQLITE_POLL_MS,
    });
    log(`sqlite: ${plan.sqliteSamples} samples at ${SQLITE_POLL_MS} ms`);
    const data = await runBlock(probe, { warmup: 5, samples: plan.sqliteSamples, nextSeq, jitterMs: SQLITE_POLL_MS });
    await writer.call('closeStore', { name: 'sqlite' });
    rows.push(row(probe, 'store', data, { intervalMs: SQLITE_POLL_MS }));
    notes.push(`SQLite: ${plan.sqliteSamples} sequential edits across processes on one WAL file, each after a random 0–${SQLITE_POLL_MS} ms pause.`);
    if (uncommitted('src/store/sqlite', 'sql/sqlite')) notes.push('SQLite figures were measured on the SQLite backend as it stood in the working tree, not yet committed.');
  }

  // (g) The old design: the seed's 1 s poll of ttp_rule.updated_at.
  if (wanted('seedPoll')) {
    log(`seed poll: ${plan.seedSamples} writes at random phases of its ${SEED_POLL_MS} ms poll`);
    const data = await measureSeedPoll(db.url, writer, { samples: plan.seedSamples, nextSeq });
    rows.push(row({ id: 'seedPoll', label: `old design (the seed): 1 s poll of ttp_rule WHERE updated_at > watermark, upsertRule -> row seen` }, 'old', data, { intervalMs: SEED_POLL_MS }));
    notes.push(`Old design: ${plan.seedSamples} upserts issued 100–300 ms apart (so at uniformly random phases of the poll), to 20 rules in turn, each timed to the poll that returned it.`);
  }

  // Fan-out: 1,000 subscribers on one store, fed by the writer.
  if (wanted('fanOut')) {
    log(`fan-out: ${plan.fanOut.subscribers} subscribers, ${plan.fanOut.changes} changes`);
    families.fanOut = await measureFanOut(db.url, writer, plan.fanOut);
  }

  await writer.close();
  writer = null;
  await db.drop();
  databases.splice(databases.indexOf(db), 1);

  // (e) Idle cost, alone in a fresh database.
  if (wanted('idle')) {
    log('idle: measuring queries per second while nothing changes');
    const idleDb = await createBenchDatabase('idle');
    databases.push(idleDb);
    const measured = await measureIdle(
      idleDb,
      [
        seedPoller,
        storeSubject('listen', `this store on listen (safety check ${LISTEN_SAFETY_MS / 1000} s, the default)`, { transport: 'listen', intervalMs: LISTEN_SAFETY_MS }),
        storeSubject('listenTick', 'this store on listen, safety check shortened to 1 s (prices one check)', { transport: 'listen', intervalMs: 1000 }),
        storeSubject('poll', `this store on Postgres poll (${POLL_MS} ms, the default)`, { transport: 'poll', intervalMs: POLL_MS }),
      ],
      { windowMs: plan.idleWindowMs, settleMs: plan.idleSettleMs },
    );
    const results: IdleResult[] = [...measured.results];
    let counter: IdleCounter = measured.counter;
    if (sqliteMissing === null) results.push(await measureSqliteIdle({ windowMs: plan.idleWindowMs, settleMs: plan.idleSettleMs }));
    const tick = results.find((r) => r.id === 'listenTick');
    if (tick) {
      notes.push(
        `Listen idle: one safety check costs about ${tick.queriesPerSecond.toFixed(1)} queries (measured with the check every 1 s); at the default ${LISTEN_SAFETY_MS / 1000} s that amortises to ${(tick.queriesPerSecond / (LISTEN_SAFETY_MS / 1000)).toFixed(3)} queries/s per store. The seed polled once a second per worker.`,
      );
    }
    idle = { counter, windowMs: measured.windowMs, results, note: counter === 'xact_commit' ? 'transactions, not statements: every query here is one autocommit transaction' : '' };
    await idleDb.drop();
    databases.splice(databases.indexOf(idleDb), 1);
  }

  if (wanted('throughput')) {
    log(`throughput: ${plan.throughput.writers} writer processes × ${plan.throughput.perWriter} changes, ${plan.throughput.rounds} rounds`);
    families.throughput = await withDatabase('throughput', (tdb) => measureThroughput(tdb.url, { ...plan.throughput, log }));
    notes.push('Throughput: the raw rows write the same tables (the triggers log them, under the same writers\' lock) without the library: no validation, no writer-side store reading the log; the raw reader does not decode rules. Each writer process also keeps its own store open (as a master does), and every store reads every change.');
  }

  const needsDist = (what: string): boolean => {
    if (dist) return true;
    skipped.push(`${what}: dist/index.js is missing (npm run build); its processes run the built package.`);
    return false;
  };
  if (wanted('catchUp') && needsDist('Catch-up')) {
    log(`catch-up: ${plan.catchUp.changes} missed changes`);
    families.catchUp = await withDatabase('catchup', (cdb) => measureCatchUp(cdb.url, { ...plan.catchUp, log }));
  }

  if (wanted('coldStart')) {
    log(`cold start: snapshot of ${plan.coldStart.rules} rules`);
    families.coldStart = await withDatabase('coldstart', (cdb) => measureColdStart(cdb.url, { ...plan.coldStart, log }));
  }

  if (wanted('readPast')) {
    // Printed only (not yet in results.json / the README table): see bench/scenarios/readPast.ts.
    log(`reads of the past: snapshot({ at }) over ${plan.readPast.events} events of ${plan.readPast.rules} rules; a ${plan.readPast.rules}-rule transaction through watchRules`);
    const r = await withDatabase('readpast', (rdb) => measureReadPast(rdb.url, { ...plan.readPast, log }));
    log(`  snapshot() ${r.snapshotMs.toFixed(1)} ms, snapshot({ at }) ${r.snapshotAtMs.toFixed(1)} ms: ${r.ratio.toFixed(2)}× (target ≤ 3×)`);
    log(`  ${r.transactionRules}-rule transaction: ${r.transactionIndexes} new index after ${r.transactionMs.toFixed(0)} ms; RSS ${r.rssBeforeMb.toFixed(0)} MB before, peak ${r.rssPeakMb.toFixed(0)} MB`);
  }

  if (wanted('tracing')) {
    log('tracing: the write path with tracing off, on (no SDK) and plain');
    families.tracing = await withDatabase('tracing', (tdb) => measureTracingCost(tdb.url, plan.tracing));
  }

  if (wanted('swarm') && needsDist('Swarm')) {
    log(`swarm: master + ${plan.swarm.workers} workers, ${plan.swarm.files} files`);
    families.swarm = await withDatabase('swarm', (sdb) => measureSwarm(sdb.url, { ...plan.swarm, log, connections: connectionsTo(sdb) }));
  }

  if (wanted('sse') && needsDist('SSE')) {
    const sse = plan.sse;
    log(`sse: ${sse.samples} writes timed to changes$ and to an SSE client; ${sse.clients} SSE clients`);
    const r = await withDatabase('sse', (sdb) => measureSse(sdb.url, { ...sse, log }));
    const ms = (v: number): string => v.toFixed(2);
    const line = `SSE (bench/scenarios/sse.ts): write -> event, p50 ${ms(r.sse.p50)} ms via an SSE client of a server in another process vs ${ms(r.changes.p50)} ms via changes$ in this process (ratio ${r.ratioP50.toFixed(2)}, target <= 1.5${r.ratioP50 <= 1.5 ? ', met' : ', not met'}; p90 ${ms(r.sse.p90)} vs ${ms(r.changes.p90)} ms; ${r.samples} writes); one change to all of ${r.clients} SSE clients: p50 ${ms(r.allClients.p50)} ms, max ${ms(r.allClients.max)} ms (${sse.fanOutChanges} changes); server RSS ${r.rssIdleMb.toFixed(1)} MB idle, ${r.rssWithClientsMb.toFixed(1)} MB with ${r.clients} clients.`;
    log(line);
    notes.push(line);
  }

  if (wanted('nats')) {
    const natsUrl = process.env['TTP_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
    const down = await natsUnavailable(natsUrl);
    if (down !== null) {
      skipped.push(`NATS figures: no NATS at ${natsUrl} (${down}).`);
    } else {
      log(`nats: bridge latency and bus-fed engines (bench/scenarios/nats.ts)`);
      const { runNatsBench } = await import('./scenarios/nats.js');
      families.nats = await runNatsBench({ natsUrl, ...plan.nats, log: (line) => log(`nats: ${line.trim()}`) });
    }
  }

  if (wanted('cliStartup') && needsDist('CLI start-up')) {
    log(`cli start-up: node -e 0, ttp-rules --version and ttp-rules list (SQLite), ${plan.cliStartup.reps} runs each`);
    families.cliStartup = measureCliStartup({ ...plan.cliStartup, log });
  }

  // Where the gap to the floor goes: CPU per change that only the store spends.
  const cpu = wanted('cpu') ? measureCpuCosts({ calls: args.quick ? 500 : 3000 }) : [];

  notes.push('The writer runs in a child process (as the master, the CLI or psql would); the subscriber in the bench process. Stamps use the monotonic clock shared by both processes (the one performance.now() reads).');
  notes.push('The floor inserts the same ~450-byte rule text the store writes; its listener reads past a watermark (one read in flight, one queued), as the store does.');
  notes.push('Context rows are not ratios: "bare insert" is the commit round trip alone; the two notify rows show how fast each client library hears a NOTIFY.');
  meta['loadEnd'] = loadavg().map((l) => l.toFixed(2)).join(' ');
  meta['rounds'] = plan.rounds;
  meta['durationS'] = Number(((performance.now() - t0) / 1000).toFixed(1));

  const results = evaluate({ meta, latency: rows, ...families, cpu, idle, skipped, notes });
  const markdown = renderMarkdown(results);
  process.stdout.write(`\n${markdown}\n`);
  if (writeFiles) {
    writeResults(results, new URL('./', import.meta.url));
    updateReadme(['bench']);
    log('wrote bench/results.json, bench/results.md and bench/latency.svg, and pasted the table into README.md');
  } else {
    log('partial or quick run: results not written');
  }
}

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
