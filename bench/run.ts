/**
 * `npm run bench`: one run, every figure next to its baseline, measured in the
 * same run. A full run pastes the report into README.md (between the bench
 * markers; the only committed copy of the figures) and redraws
 * bench/latency.svg. The bench only reports; no threshold here fails anything
 * (the report says which targets are met).
 *
 *   npm run bench                      the full run (about 8 minutes on 2 cores)
 *   npm run bench -- --quick           a short smoke run; prints, writes nothing
 *   npm run bench -- --only=floor,listenCross   a subset (scenario or figure ids); writes nothing
 *   npm run bench -- --json=/tmp/b.json         also writes every figure as JSON (to compare runs)
 *
 * Profiling both sides (the subscriber here, the writer child):
 *   BENCH_CPU_PROF_DIR=/tmp/prof node --cpu-prof --cpu-prof-dir=/tmp/prof \
 *     --import tsx bench/run.ts --only=listenCross
 *
 * Ids for --only: latency (its figures: commit, notify, notifyPgListen, floor,
 * listenCross, listenCrossState, listenSameStore), pollCross, sqliteCross,
 * seedPoll, fanOut, idle, throughput, catchUp, coldStart, readPast, tracing,
 * swarm, sse, nats, cliStartup, cpu, largeRows.
 *
 * Processes: the writers, the catch-up consumer, the large-rows subscriber and
 * the swarm's master and workers are child processes; the ones whose memory is
 * measured run the built package (dist/) under plain node, so run `npm run
 * build` first when calling this file directly.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { withAdmin } from '../test/helpers/database.js';
import { updateReadme } from './readme.js';
import { evaluate, renderMarkdown, writeChart, type LatencyRow, type MeasuredResults } from './report.js';
import { catchUpScenario } from './scenarios/catchUp.js';
import { cliStartupScenario } from './scenarios/cliStartup.js';
import { coldStartScenario } from './scenarios/coldStart.js';
import { cpuScenario } from './scenarios/cpuCost.js';
import { fanOutScenario } from './scenarios/fanOut.js';
import { idleScenario } from './scenarios/idleCost.js';
import { largeRowsScenario } from './scenarios/largeRows.js';
import { latencyScenario, pollCrossScenario } from './scenarios/latency.js';
import { natsScenario } from './scenarios/nats.js';
import { readPastScenario } from './scenarios/readPast.js';
import { seedPollScenario } from './scenarios/seedPoll.js';
import { sqliteCrossScenario } from './scenarios/sqlite.js';
import { sseScenario } from './scenarios/sse.js';
import { swarmScenario } from './scenarios/swarm.js';
import { throughputScenario } from './scenarios/throughput.js';
import { tracingScenario } from './scenarios/tracingCost.js';
import { measuredCommit } from './support/git.js';
import { createBenchContext, missingPrerequisite, type Scenario } from './support/scenario.js';

/** Every scenario, in the order they run (the ones on the shared writer first, so it can go early). */
const SCENARIOS: readonly Scenario[] = [
  latencyScenario,
  pollCrossScenario,
  sqliteCrossScenario,
  seedPollScenario,
  fanOutScenario,
  idleScenario,
  throughputScenario,
  catchUpScenario,
  coldStartScenario,
  readPastScenario,
  tracingScenario,
  swarmScenario,
  sseScenario,
  natsScenario,
  cliStartupScenario,
  cpuScenario,
  largeRowsScenario,
];

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, json: { type: 'string' } } });
const only = args.only ? new Set(args.only.split(',').map((s) => s.trim())) : null;
const selected = SCENARIOS.filter((s) => only === null || only.has(s.id) || (s.figures ?? []).some((f) => only.has(f)));
const unknown = [...(only ?? [])].filter((id) => !SCENARIOS.some((s) => s.id === id || s.figures?.includes(id)));
if (unknown.length > 0) throw new Error(`unknown scenario ids: ${unknown.join(', ')} (see bench/run.ts)`);

const t0 = performance.now();
const log = (message: string): void => void process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
const control = createBenchContext({ quick: args.quick, only, log });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: dropping the bench databases`);
    void control.cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const [server] = await withAdmin((sql) => sql<{ v: string; sc: string }[]>`SELECT split_part(version(), ' on ', 1) AS v, current_setting('synchronous_commit') AS sc`);
  const plans: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    postgres: server?.v ?? 'unknown',
    synchronousCommit: server?.sc,
    loadStart: loadavg().map((l) => l.toFixed(2)).join(' '),
    commit: measuredCommit(),
    plan: plans,
  };
  const latencyRows: LatencyRow[] = [];
  const measured: { -readonly [K in keyof MeasuredResults]: MeasuredResults[K] } = {
    meta,
    latency: latencyRows,
    throughput: null,
    catchUp: null,
    coldStart: null,
    fanOut: null,
    tracing: null,
    swarm: null,
    nats: null,
    cliStartup: null,
    largeRows: null,
    cpu: [],
    idle: { counter: 'skipped', windowMs: 0, results: [] },
    skipped: control.skipped,
    notes: control.notes,
  };
  for (const [i, scenario] of selected.entries()) {
    const missing = missingPrerequisite(scenario);
    if (missing !== null) control.context.skip(missing);
    else {
      const plan = args.quick ? scenario.plan.quick : scenario.plan.full;
      plans[scenario.id] = plan;
      const output = await scenario.run(control.context, plan);
      const { latency, ...families } = output ?? {};
      if (latency) latencyRows.push(...latency);
      Object.assign(measured, families);
    }
    // The writer process and its database go as soon as no later scenario uses them.
    if (!selected.slice(i + 1).some((s) => s.usesWriter)) await control.releaseShared();
  }

  meta['loadEnd'] = loadavg().map((l) => l.toFixed(2)).join(' ');
  meta['durationS'] = Number(((performance.now() - t0) / 1000).toFixed(1));

  const results = evaluate(measured);
  const markdown = renderMarkdown(results);
  process.stdout.write(`\n${markdown}\n`);
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  if (!args.quick && only === null) {
    writeChart(results, new URL('./', import.meta.url));
    updateReadme({ bench: markdown });
    log('redrew bench/latency.svg and pasted the report into README.md');
  } else {
    log('partial or quick run: README.md and bench/latency.svg left as they are');
  }
}

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await control.cleanup();
}
log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
