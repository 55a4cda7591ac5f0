/**
 * The NATS bridge, measured (not wired into bench/run.ts):
 *
 *   npm run build && node --import tsx bench/scenarios/nats.ts [--edits 500] [--engines 200] [--processes 4] [--direct 20] [--burst 500]
 *
 * or `import { runNatsBench } from './bench/scenarios/nats.js'` and call it.
 *
 * (1) End-to-end latency of sequential edits, database -> NATS subscriber, with
 *     JetStream and with core NATS; in the same edits, the bus-fed engine's index
 *     and a direct LISTEN watchRules index, for comparison.
 * (2) Fan-out: N bus-fed engines in a few processes (one NATS connection and one
 *     shared store source per process) converging after a burst of rules in one
 *     transaction, with the database connections they use, next to direct LISTEN
 *     engines (one store each, as one worker process each would have).
 *
 * The same file is the worker of (2) when TTP_BENCH_NATS_WORKER is set.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import postgres from 'postgres';
import type { Subscription } from 'rxjs';
import {
  bridgeToNats,
  createSharedStoreSource,
  openRuleStore,
  watchRules,
  watchRulesFromNats,
  type RuleIndex,
  type RuleStore,
} from '../../src/index.js';
import { stamp } from '../support/clock.js';
import { createTestDatabase } from '../../test/helpers/database.js';
import { ruleText } from '../support/ruleText.js';
import type { Scenario } from '../support/scenario.js';
import { summarize, type LatencySummary } from '../support/stats.js';

/** Options of {@link runNatsBench}; every field has a default. */
export interface NatsBenchOptions {
  natsUrl?: string;
  /** Sequential edits per latency block (default 500, after 20 warm-up edits). */
  edits?: number;
  /** Bus-fed engines in the fan-out (default 200)… */
  engines?: number;
  /** …spread over this many processes (default 4). */
  processes?: number;
  /** Direct LISTEN engines, one store each, over 2 processes (default 10: each holds ~3 connections, and max_connections is shared with everything else on the server). */
  direct?: number;
  /** Rules upserted in the burst's single transaction (default 500). */
  burst?: number;
  log?: (line: string) => void;
}

/** One fan-out run. */
export interface FanoutResult {
  readonly engines: number;
  readonly processes: number;
  /** Burst committed -> each engine's index holds the whole burst, ms. */
  readonly convergeMs: LatencySummary;
  /** Connections to the database beyond the writer, bridge and probe, before the burst (engines settled). */
  readonly connectionsIdle: number;
  /** The most seen while the engines converged. */
  readonly connectionsPeak: number;
}

/** What {@link runNatsBench} measured. */
export interface NatsBenchResult {
  readonly latency: Record<'jetstream' | 'core', { nats: LatencySummary; busEngine: LatencySummary; directEngine: LatencySummary }>;
  /** `bus`: the N engines; `busSmall`: as many bus-fed engines as `listen` has, in as many processes, for a like-for-like time. */
  readonly fanout: { bus: FanoutResult; busSmall: FanoutResult; listen: FanoutResult };
}

const RULE = 'BENCHNATS';
const SELF = fileURLToPath(import.meta.url);

/** Resolves arrivals of rule versions on several paths. */
function createArrivals(paths: readonly string[]): { expect(version: number): Promise<Record<string, number>>; arrive(path: string, version: number): void } {
  const waiting = new Map<number, { times: Record<string, number>; resolve: (t: Record<string, number>) => void }>();
  return {
    expect(version) {
      return new Promise((resolve) => waiting.set(version, { times: {}, resolve }));
    },
    arrive(path, version) {
      const entry = waiting.get(version);
      if (!entry || entry.times[path] !== undefined) return;
      entry.times[path] = stamp();
      if (paths.every((p) => entry.times[p] !== undefined)) {
        waiting.delete(version);
        entry.resolve(entry.times);
      }
    },
  };
}

async function latencyBlock(url: string, natsUrl: string, mode: 'jetstream' | 'core', edits: number): Promise<NatsBenchResult['latency']['core']> {
  const id = randomBytes(3).toString('hex');
  const prefix = `bench${id}.ttp.rule`;
  const stream = `BENCH_${id.toUpperCase()}`;
  const bridgeStore = await openRuleStore({ url });
  const writer = await openRuleStore({ url });
  const directStore = await openRuleStore({ url });
  const nc = await connect({ servers: natsUrl });
  const bridge = await bridgeToNats(bridgeStore, { nats: nc, name: `bench-${id}`, subjectPrefix: prefix, jetstream: mode === 'jetstream' ? { stream } : false });
  const arrivals = createArrivals(['nats', 'busEngine', 'directEngine']);
  const version = (index: RuleIndex): number | undefined => index.byId.get(RULE)?.ruleVersion;
  const sub = nc.subscribe(`${prefix}.reloaded.${RULE}`, {
    callback: (_e, msg) => arrivals.arrive('nats', Number((JSON.parse(new TextDecoder().decode(msg.data)) as { rule_version: number }).rule_version)),
  });
  await nc.flush();
  const source = createSharedStoreSource(() => openRuleStore({ url, transport: 'poll', revertExpired: false }));
  const subs: Subscription[] = [
    watchRulesFromNats(source, { nats: nc, subjectPrefix: prefix }).subscribe((i) => version(i) !== undefined && arrivals.arrive('busEngine', version(i)!)),
    watchRules(directStore).subscribe((i) => version(i) !== undefined && arrivals.arrive('directEngine', version(i)!)),
  ];
  const samples = { nats: [] as number[], busEngine: [] as number[], directEngine: [] as number[] };
  try {
    let v = 1;
    await (await arrivalsOf(arrivals, writer, v++)).done;
    for (let i = 0; i < 20 + edits; i++) {
      const { t0, done } = await arrivalsOf(arrivals, writer, v++);
      const times = await done;
      if (i < 20) continue;
      for (const path of ['nats', 'busEngine', 'directEngine'] as const) samples[path].push(times[path]! - t0);
    }
  } finally {
    subs.forEach((s) => s.unsubscribe());
    sub.unsubscribe();
    await bridge.stop();
    if (mode === 'jetstream') await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
    await nc.close();
    await Promise.all([bridgeStore.close(), writer.close(), directStore.close()]);
  }
  return { nats: summarize(samples.nats), busEngine: summarize(samples.busEngine), directEngine: summarize(samples.directEngine) };
}

async function arrivalsOf(arrivals: ReturnType<typeof createArrivals>, writer: RuleStore, version: number): Promise<{ t0: number; done: Promise<Record<string, number>> }> {
  const done = arrivals.expect(version);
  const t0 = stamp();
  await writer.upsertRule(ruleText(version, RULE));
  return { t0, done };
}

type WorkerMessage = { type: 'ready' } | { type: 'converged'; times: number[] } | { type: 'error'; message: string };

function startWorkers(count: number, env: Record<string, string>, perWorker: number[]): { children: ChildProcess[]; ready: Promise<void>; converged: () => Promise<number[]>; stop: () => void } {
  const children: ChildProcess[] = [];
  const readies: Promise<void>[] = [];
  const results: Promise<number[]>[] = [];
  for (let w = 0; w < count; w++) {
    const child = fork(SELF, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env, TTP_BENCH_NATS_WORKER: '1', TTP_BENCH_NATS_COUNT: String(perWorker[w]) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    const on = <T>(type: string, pick: (m: WorkerMessage) => T): Promise<T> =>
      new Promise((resolve, reject) => {
        child.on('message', (m: WorkerMessage) => (m.type === type ? resolve(pick(m)) : m.type === 'error' ? reject(new Error(m.message)) : undefined));
        child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    readies.push(on('ready', () => undefined));
    results.push(on('converged', (m) => (m.type === 'converged' ? m.times : [])));
  }
  for (const p of [...readies, ...results]) p.catch(() => {});
  return {
    children,
    ready: Promise.all(readies).then(() => undefined),
    converged: () => Promise.all(results).then((r) => r.flat()),
    stop: () => children.forEach((c) => c.kill('SIGKILL')),
  };
}

async function fanout(url: string, dbName: string, natsUrl: string, mode: 'bus' | 'listen', engines: number, processes: number, burst: number, log: (l: string) => void): Promise<FanoutResult> {
  const id = randomBytes(3).toString('hex');
  const prefix = `fan${id}.ttp.rule`;
  const stream = `FAN_${id.toUpperCase()}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const connections = async (): Promise<number> => Number((await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${dbName}`)[0]!['n']);
  const writer = await openRuleStore({ url });
  const bridgeStore = mode === 'bus' ? await openRuleStore({ url }) : null;
  const nc = mode === 'bus' ? await connect({ servers: natsUrl }) : null;
  const bridge = bridgeStore && nc ? await bridgeToNats(bridgeStore, { nats: nc, name: `fan-${id}`, subjectPrefix: prefix, jetstream: { stream } }) : null;
  await Promise.all(Array.from({ length: 8 }, () => writer.snapshot())); // the writer's pool, full before the baseline
  // Closed stores of earlier blocks leave the server a moment later: wait for a steady count.
  const settled = async (): Promise<number> => {
    let last = -1;
    for (let same = 0, i = 0; same < 5 && i < 100; i++) {
      const now = await connections();
      same = now === last ? same + 1 : 0;
      last = now;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return last;
  };
  const baseline = await settled();
  const perWorker = Array.from({ length: processes }, (_, w) => Math.floor(engines / processes) + (w < engines % processes ? 1 : 0));
  const workers = startWorkers(processes, { TTP_BENCH_NATS_MODE: mode, TTP_BENCH_NATS_DB: url, TTP_BENCH_NATS_URL: natsUrl, TTP_BENCH_NATS_PREFIX: prefix }, perWorker);
  try {
    await workers.ready;
    // Engines settled: the shared sources have closed their stores (idle 500 ms).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = (await settled()) - baseline;
    const version = 1000 + Math.floor(Math.random() * 1000);
    let peak = idle;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await connections()) - baseline);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const t0 = stamp();
    await writer.upsertRules(Array.from({ length: burst }, (_, i) => ({ yaml: ruleText(version, `FAN${String(i).padStart(4, '0')}`) })));
    const [row] = await admin`SELECT max(position)::text AS p FROM ttp_rule_event`;
    for (const child of workers.children) child.send({ type: 'expect', position: String(row!['p']) });
    const times = await workers.converged();
    sampling = false;
    await sampler;
    log(`  ${mode}: ${engines} engines in ${processes} processes converged; connections idle ${idle}, peak ${peak}`);
    return { engines, processes, convergeMs: summarize(times.map((t) => t - t0)), connectionsIdle: idle, connectionsPeak: peak };
  } finally {
    workers.stop();
    await bridge?.stop();
    if (nc) {
      await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
      await nc.close();
    }
    await bridgeStore?.close();
    await writer.close();
    await admin.end();
  }
}

/** Worker of the fan-out: `TTP_BENCH_NATS_COUNT` engines, reporting when each holds the burst. */
async function worker(): Promise<void> {
  const env = process.env;
  const count = Number(env['TTP_BENCH_NATS_COUNT']);
  const url = env['TTP_BENCH_NATS_DB']!;
  const emissions: { position: bigint; at: number }[][] = Array.from({ length: count }, () => []);
  const firsts: Promise<void>[] = [];
  let check: () => void = () => {};
  const track = (i: number, index: RuleIndex): void => {
    emissions[i]!.push({ position: BigInt(index.position), at: stamp() });
    check();
  };
  if (env['TTP_BENCH_NATS_MODE'] === 'bus') {
    const nc: NatsConnection = await connect({ servers: env['TTP_BENCH_NATS_URL']! });
    const source = createSharedStoreSource(() => openRuleStore({ url, transport: 'poll', revertExpired: false }), { idleMs: 500 });
    for (let i = 0; i < count; i++) {
      firsts.push(new Promise((resolve) => watchRulesFromNats(source, { nats: nc, subjectPrefix: env['TTP_BENCH_NATS_PREFIX']! }).subscribe((index) => (track(i, index), resolve()))));
    }
  } else {
    for (let i = 0; i < count; i++) {
      const store = await openRuleStore({ url, revertExpired: false });
      firsts.push(new Promise((resolve) => watchRules(store).subscribe((index) => (track(i, index), resolve()))));
    }
  }
  await Promise.all(firsts);
  process.send!({ type: 'ready' });
  process.on('message', (message: { type: string; position: string }) => {
    const target = BigInt(message.position);
    check = () => {
      const times = emissions.map((list) => list.find((e) => e.position >= target)?.at);
      if (times.every((t) => t !== undefined)) {
        check = () => {};
        process.send!({ type: 'converged', times });
      }
    };
    check();
  });
}

/** Runs both parts and returns the figures (see the file's header). */
export async function runNatsBench(options: NatsBenchOptions = {}): Promise<NatsBenchResult> {
  const natsUrl = options.natsUrl ?? process.env['TTP_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const db = await createTestDatabase('nats', { prefix: 'ttp_bench' });
  try {
    log('latency: database -> NATS subscriber (jetstream)');
    const jetstream = await latencyBlock(db.url, natsUrl, 'jetstream', options.edits ?? 500);
    log('latency: database -> NATS subscriber (core)');
    const core = await latencyBlock(db.url, natsUrl, 'core', options.edits ?? 500);
    log('fan-out');
    const burst = options.burst ?? 500;
    const bus = await fanout(db.url, db.name, natsUrl, 'bus', options.engines ?? 200, options.processes ?? 4, burst, log);
    const busSmall = await fanout(db.url, db.name, natsUrl, 'bus', options.direct ?? 10, 2, burst, log);
    const listen = await fanout(db.url, db.name, natsUrl, 'listen', options.direct ?? 10, 2, burst, log);
    return { latency: { jetstream, core }, fanout: { bus, busSmall, listen } };
  } finally {
    await db.drop();
  }
}

/** Null when NATS answers at `url`; otherwise why the NATS figures are skipped. */
async function natsUnavailable(url: string): Promise<string | null> {
  try {
    const nc = await connect({ servers: url, timeout: 2000, reconnect: false });
    await nc.close();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The NATS bridge: latency to NATS subscribers and bus-fed engines, and bus-fed against direct LISTEN engines. */
export const natsScenario: Scenario<Required<Omit<NatsBenchOptions, 'natsUrl' | 'log'>>> = {
  id: 'nats',
  title: 'NATS bridge',
  measures: 'database -> NATS subscriber and bus-fed engine latency, against a direct LISTEN engine; a burst to many bus-fed engines against direct LISTEN engines',
  plan: { quick: { edits: 50, engines: 20, processes: 2, direct: 4, burst: 100 }, full: { edits: 300, engines: 200, processes: 4, direct: 10, burst: 500 } },
  async run(context, plan) {
    const natsUrl = process.env['TTP_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
    const down = await natsUnavailable(natsUrl);
    if (down !== null) return void context.skip(`NATS figures: no NATS at ${natsUrl} (${down}).`);
    context.log('nats: bridge latency and bus-fed engines (bench/scenarios/nats.ts)');
    return { nats: await runNatsBench({ natsUrl, ...plan, log: (line) => context.log(`nats: ${line.trim()}`) }) };
  },
};

function flag(name: string): number | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : undefined;
}

if (process.env['TTP_BENCH_NATS_WORKER']) {
  worker().catch((error: unknown) => {
    process.send?.({ type: 'error', message: String(error) });
    process.exit(1);
  });
} else if (process.argv[1] === SELF) {
  const options: NatsBenchOptions = {};
  for (const key of ['edits', 'engines', 'processes', 'direct', 'burst'] as const) {
    const value = flag(key);
    if (value !== undefined) options[key] = value;
  }
  runNatsBench(options)
    .then((result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
      process.exit(1);
    });
}
