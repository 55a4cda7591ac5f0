import { writeFileSync } from 'node:fs';
import { renderLatencySvg, type ChartSeries } from './chart.js';
import type { CatchUpResult } from './scenarios/catchUp.js';
import type { CliStartupResult } from './scenarios/cliStartup.js';
import type { ColdStartResult } from './scenarios/coldStart.js';
import type { CpuCost } from './scenarios/cpuCost.js';
import type { FanOutResult } from './scenarios/fanOut.js';
import type { IdleCounter, IdleResult } from './scenarios/idleCost.js';
import type { LargeRowsResult } from './scenarios/largeRows.js';
import type { NatsBenchResult } from './scenarios/nats.js';
import type { SwarmResult } from './scenarios/swarm.js';
import type { ThroughputResult } from './scenarios/throughput.js';
import type { TracingRow } from './scenarios/tracingCost.js';
import type { LatencySummary } from './support/stats.js';

/** One latency row: a way of propagating a write, and how long it took. */
export interface LatencyRow {
  readonly id: string;
  readonly label: string;
  /** `floor` rows are compared with the floor; `context` rows explain it; `old` is the seed's design. */
  readonly group: 'floor' | 'store' | 'old' | 'context';
  readonly latency: LatencySummary;
  /** The 0th…100th percentiles (ms), for the chart. */
  readonly percentiles?: readonly number[];
  /** Writer side: issuing the write -> acknowledged (where measured). */
  readonly ack?: LatencySummary;
  /** Per write, in hand minus acknowledged: how long delivery took once the writer's call returned. */
  readonly afterAck?: LatencySummary;
  /** Poll interval in force, for polled transports. */
  readonly intervalMs?: number;
  readonly note?: string;
}

/** One of the issue's targets, checked against this run. */
export interface TargetCheck {
  readonly id: string;
  readonly family: 'latency' | 'throughput' | 'catch-up' | 'cold start' | 'fan-out' | 'idle' | 'tracing' | 'large rows';
  /** What is compared, e.g. "store on listen p50 / floor p50". */
  readonly what: string;
  readonly value: number;
  readonly target: number;
  /** `max`: value ≤ target; `min`: value ≥ target. */
  readonly bound: 'max' | 'min';
  readonly unit: '×' | '%' | 's' | 'MB' | 'µs' | 'queries/s' | 'rows';
  readonly met: boolean;
}

/** Everything one `npm run bench` measured; a family is null when it was not run. */
export interface BenchResults {
  readonly meta: Record<string, unknown>;
  readonly latency: readonly LatencyRow[];
  /** Store rows against the floor measured in the same run (p50/p50, p99/p99). */
  readonly ratios: Record<string, { readonly p50: number; readonly p99: number }>;
  readonly throughput: readonly ThroughputResult[] | null;
  readonly catchUp: readonly CatchUpResult[] | null;
  readonly coldStart: ColdStartResult | null;
  readonly fanOut: FanOutResult | null;
  readonly tracing: readonly TracingRow[] | null;
  readonly swarm: SwarmResult | null;
  readonly nats: NatsBenchResult | null;
  readonly cliStartup: CliStartupResult | null;
  readonly largeRows: LargeRowsResult | null;
  /** CPU per change spent only by the store (in the bench process). */
  readonly cpu: readonly CpuCost[];
  readonly idle: { readonly counter: IdleCounter | 'skipped'; readonly windowMs: number; readonly results: readonly IdleResult[]; readonly note?: string };
  readonly targets: readonly TargetCheck[];
  /** What bench/latency.svg draws. */
  readonly chart: { readonly title: string; readonly series: readonly ChartSeries[] };
  readonly skipped: readonly string[];
  readonly notes: readonly string[];
}

/** The measured families, before targets, ratios and the chart are derived from them. */
export type MeasuredResults = Omit<BenchResults, 'ratios' | 'targets' | 'chart'>;

const ms = (v: number): string => (Number.isNaN(v) ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '' : `${v.toFixed(2)}×`);
const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? Number.NaN;
const perSecond = (v: number): string => v.toFixed(0);

/** The chart's series: the ways of propagating a write, old design included. */
const CHART_ROWS: readonly { id: string; label: string }[] = [
  { id: 'floor', label: 'floor: insert + NOTIFY doorbell, listen, read the row' },
  { id: 'listenCross', label: 'store on listen: rule definition' },
  { id: 'listenCrossState', label: 'store on listen: state change' },
  { id: 'pollCross', label: 'store on Postgres poll (250 ms)' },
  { id: 'sqliteCross', label: 'store on SQLite across processes (poll 100 ms)' },
  { id: 'seedPoll', label: 'old design: 1 s poll of ttp_rule.updated_at' },
];

function check(family: TargetCheck['family'], id: string, what: string, value: number, bound: 'max' | 'min', target: number, unit: TargetCheck['unit']): TargetCheck {
  return { id, family, what, value, target, bound, unit, met: bound === 'max' ? value <= target : value >= target };
}

/** Derives the ratios to the floor, the issue's targets and the chart from what was measured. */
export function evaluate(measured: MeasuredResults): BenchResults {
  const rows = measured.latency;
  const floor = rows.find((r) => r.id === 'floor');
  const ratios: Record<string, { p50: number; p99: number }> = {};
  if (floor) {
    for (const row of rows) {
      if (row.group === 'context') continue;
      ratios[row.id] = { p50: row.latency.p50 / floor.latency.p50, p99: row.latency.p99 / floor.latency.p99 };
    }
  }
  const targets: TargetCheck[] = [];
  for (const [id, what] of [['listenCross', 'rule definition'], ['listenCrossState', 'state change']] as const) {
    const r = ratios[id];
    if (!r) continue;
    targets.push(check('latency', `${id}P50`, `store on listen, ${what}: p50 / floor p50`, r.p50, 'max', 1.3, '×'));
    targets.push(check('latency', `${id}P99`, `store on listen, ${what}: p99 / floor p99`, r.p99, 'max', 2, '×'));
  }
  for (const [store, raw] of [['definitions', 'rawDefinitions'], ['states', 'rawStates']] as const) {
    const s = measured.throughput?.find((t) => t.id === store);
    const b = measured.throughput?.find((t) => t.id === raw);
    if (s && b) targets.push(check('throughput', `throughput_${store}`, `${store}: delivered/s / raw on the same tables`, (100 * median(s.deliveredPerSecond)) / median(b.deliveredPerSecond), 'min', 80, '%'));
  }
  const mix = measured.catchUp?.find((c) => c.id === 'mix');
  if (mix) {
    targets.push(check('catch-up', 'catchUpTime', `${mix.changes.toLocaleString('en')} changes (${mix.label}): time`, mix.ms / 1000, 'max', 2, 's'));
    targets.push(check('catch-up', 'catchUpRss', `${mix.changes.toLocaleString('en')} changes (${mix.label}): peak RSS`, mix.peakRssMb, 'max', 200, 'MB'));
    targets.push(check('catch-up', 'catchUpRaw', `${mix.changes.toLocaleString('en')} changes (${mix.label}): time / raw read of the same rows`, mix.ms / mix.rawReadMs, 'max', 1.2, '×'));
  }
  if (measured.coldStart) {
    targets.push(check('cold start', 'coldStartCached', 'snapshot() / YAML parse alone (rows written by the library)', measured.coldStart.ratios.cached, 'max', 2, '×'));
    targets.push(check('cold start', 'coldStartUncached', 'snapshot() / YAML parse alone (rows without the cached document)', measured.coldStart.ratios.uncached, 'max', 2, '×'));
  }
  if (measured.fanOut) targets.push(check('fan-out', 'fanOut', `per change per no-op subscriber (${measured.fanOut.subscribers} subscribers), p50`, measured.fanOut.store.p50Us, 'max', 0.2, 'µs'));
  const listenIdle = measured.idle.results.find((r) => r.id === 'listen');
  if (listenIdle) targets.push(check('idle', 'idleListen', 'store on listen, idle (default 30 s safety check)', listenIdle.queriesPerSecond, 'max', 0.1, 'queries/s'));
  const large = measured.largeRows;
  if (large) {
    targets.push(check('large rows', 'largeRowsRss', `${large.rows} rows × ${large.rowMb} MB in one transaction: subscriber peak RSS over idle`, large.peakRssMb - large.idleRssMb, 'max', 300, 'MB'));
    targets.push(check('large rows', 'largeRowsReported', `${large.rows} rows × ${large.rowMb} MB in one transaction: rows reported on errors$`, large.reported, 'min', large.rows, 'rows'));
  }
  const off = measured.tracing?.find((t) => t.id === 'off');
  const on = measured.tracing?.find((t) => t.id === 'on');
  if (off && on) targets.push(check('tracing', 'tracingOff', 'tracing on (no SDK) − off, CPU per write, share of off', (100 * (on.cpuUs - off.cpuUs)) / off.cpuUs, 'max', 5, '%'));

  const series: ChartSeries[] = [];
  for (const c of CHART_ROWS) {
    const row = rows.find((r) => r.id === c.id);
    if (row?.percentiles) series.push({ label: `${c.label} (n=${row.latency.n})`, percentiles: row.percentiles });
  }
  return { ...measured, ratios, targets, chart: { title: 'Propagation latency, write issued → change in a subscriber (CDF)', series } };
}

/** The `target` and `met` cells of a row checked against `t`. */
const targetCells = (t: TargetCheck | undefined): [string, string] => {
  if (!t) return ['', ''];
  return [`${t.bound === 'max' ? '≤' : '≥'} ${t.target}${t.unit === '×' ? '×' : ` ${t.unit}`}`, t.met ? 'met' : '**missed**'];
};

/** The Markdown block the README includes between its bench markers (the chart is linked as bench/latency.svg). */
export function renderMarkdown(results: BenchResults): string {
  const m = results.meta;
  const t = new Map(results.targets.map((x) => [x.id, x]));
  const lines: string[] = [];
  const table = (header: string[], body: string[][]): void => {
    lines.push(`| ${header.join(' | ')} |`);
    lines.push(`|${header.map((h, i) => (i === 0 || h === 'met' ? '---' : '---:')).join('|')}|`);
    for (const row of body) lines.push(`| ${row.join(' | ')} |`);
    lines.push('');
  };
  lines.push(`<!-- generated by \`npm run bench\` (bench/report.ts); do not edit by hand -->`);
  lines.push(
    `Measured ${String(m['date'])} on ${String(m['cpus'])} × ${String(m['cpuModel'])}, Node ${String(m['node'])}, ${String(m['postgres'])} (synchronous_commit ${String(m['synchronousCommit'])}), code at ${String(m['commit'])}; one run of ${String(m['durationS'])} s, every figure next to its baseline from the same run (ratios: the machine is shared and noisy). Load average at start ${String(m['loadStart'])}, at end ${String(m['loadEnd'])}.`,
  );
  lines.push('');
  const missed = results.targets.filter((x) => !x.met);
  lines.push(`**Targets**: ${results.targets.length - missed.length} of ${results.targets.length} met${missed.length ? `; missed: ${missed.map((x) => `${x.family} (${x.what})`).join('; ')}` : ''}.`);
  lines.push('');
  if (results.chart.series.length > 0) {
    lines.push('![latency](bench/latency.svg)');
    lines.push('');
  }

  if (results.latency.length > 0) {
    lines.push("**Propagation latency**, issuing a write → the change in a subscriber's hands (writer in a child process, subscriber in the bench process), ms:");
    lines.push('');
    const latencyBody: string[][] = [];
    for (const group of ['floor', 'store', 'old', 'context'] as const) {
      for (const row of results.latency.filter((r) => r.group === group)) {
        const r = results.ratios[row.id];
        const label = group === 'floor' ? `**${row.label}**` : row.label;
        const vsInterval = row.intervalMs ? (row.latency.p50 / row.intervalMs).toFixed(2) : '';
        const p50 = t.get(`${row.id}P50`);
        const p99 = t.get(`${row.id}P99`);
        const target = p50 && p99 ? `p50 ≤ 1.3×, p99 ≤ 2× floor` : '';
        const met = p50 && p99 ? `p50 ${p50.met ? 'met' : '**missed**'}, p99 ${p99.met ? 'met' : '**missed**'}` : '';
        latencyBody.push([label, String(row.latency.n), ms(row.latency.p50), ms(row.latency.p99), ms(row.latency.max), ratio(r?.p50), ratio(r?.p99), row.ack ? ms(row.ack.p50) : '', row.afterAck && row.group !== 'context' ? ms(row.afterAck.p50) : '', vsInterval, target, met]);
      }
    }
    table(['scenario', 'n', 'p50', 'p99', 'max', 'p50 / floor', 'p99 / floor', 'writer ack p50', 'after ack p50', 'p50 / poll interval', 'target', 'met'], latencyBody);
    lines.push('"Writer ack" is issuing the write → the writer\'s call returned (validation, the statement, its triggers, the commit); "after ack" is, per write, the rest: the doorbell, the read and the decode on the subscriber\'s side.');
    lines.push('');
  }

  if (results.throughput) {
    const raw = (id: string): ThroughputResult | undefined => results.throughput!.find((x) => x.id === id);
    const first = results.throughput[0]!;
    lines.push(`**Throughput**, ${first.writers} concurrent writer processes (one connection each, one write in flight each), ${first.count.toLocaleString('en')} changes per round, median of ${first.deliveredPerSecond.length} interleaved rounds; delivered = first write issued → last change in the subscriber's hands:`);
    lines.push('');
    table(
      ['path', 'delivered changes/s', 'acknowledged writes/s', 'rounds (delivered/s)', 'vs raw on the same tables', 'target', 'met'],
      results.throughput.map((x) => {
        const base = x.id === 'definitions' ? raw('rawDefinitions') : x.id === 'states' ? raw('rawStates') : undefined;
        const check = t.get(`throughput_${x.id}`);
        return [
          x.id.startsWith('raw') ? x.label : `**${x.label}**`,
          perSecond(median(x.deliveredPerSecond)),
          perSecond(median(x.writtenPerSecond)),
          x.deliveredPerSecond.map(perSecond).join(', '),
          base ? `${((100 * median(x.deliveredPerSecond)) / median(base.deliveredPerSecond)).toFixed(0)} %` : '(baseline)',
          ...targetCells(check),
        ];
      }),
    );
  }

  if (results.catchUp) {
    lines.push('**Catch-up**: a consumer process (plain node, the built package) reconnects with `changesSince(old position)` after the changes were written with set-based SQL through the real tables; time from subscribing to the last change in hand, and the process\'s peak RSS. Baseline: the same log rows read raw (postgres.js, same columns and pages of 1000, no decoding) in a fresh process:');
    lines.push('');
    table(
      ['missed changes', 'mix', 'time', 'raw read', 'time / raw', 'RSS before → peak', 'peak heap', 'target', 'met'],
      results.catchUp.map((c) => {
        const time = t.get(c.id === 'mix' ? 'catchUpTime' : '');
        const rss = t.get(c.id === 'mix' ? 'catchUpRss' : '');
        const raw = t.get(c.id === 'mix' ? 'catchUpRaw' : '');
        return [
          `${c.changes.toLocaleString('en')} (${c.label})`,
          c.mix,
          `${(c.ms / 1000).toFixed(2)} s`,
          `${(c.rawReadMs / 1000).toFixed(2)} s`,
          `${(c.ms / c.rawReadMs).toFixed(2)}×`,
          `${c.rssBeforeMb.toFixed(0)} → ${c.peakRssMb.toFixed(0)} MB`,
          `${c.peakHeapMb.toFixed(0)} MB`,
          time && rss && raw ? `≤ 2 s, < 200 MB, ≤ 1.2× raw` : '',
          time && rss && raw ? `time ${time.met ? 'met' : '**missed**'}, RSS ${rss.met ? 'met' : '**missed**'}, vs raw ${raw.met ? 'met' : '**missed**'}` : '',
        ];
      }),
    );
  }

  if (results.coldStart) {
    const c = results.coldStart;
    const yaml = c.rows.find((r) => r.id === 'yaml')!;
    const reps = c.rows.find((r) => r.id === 'cached')?.runs.length ?? 0;
    lines.push(`**Cold start**: \`snapshot()\` of ${c.rules.toLocaleString('en')} rules (one read, then validation and compile per rule), in the bench process, median of ${reps} runs of each, interleaved with the baseline: parsing the same YAML alone (the per-process YAML cache emptied before each first-in-a-process snapshot):`);
    lines.push('');
    table(
      ['step', 'ms', 'vs YAML parse alone', 'target', 'met'],
      c.rows.map((r) => {
        const check = t.get(r.id === 'cached' ? 'coldStartCached' : r.id === 'uncached' ? 'coldStartUncached' : '');
        return [r.id === 'yaml' ? `**${r.label}**` : r.label, ms(r.ms), r.id === 'yaml' ? '(baseline)' : `${(r.ms / yaml.ms).toFixed(2)}×`, ...(check ? [`≤ 2×`, check.met ? 'met' : '**missed**'] : ['', ''])];
      }),
    );
  }

  if (results.fanOut) {
    const f = results.fanOut;
    lines.push(`**Fan-out**: ${f.subscribers.toLocaleString('en')} no-op subscribers on one store's \`changes$\` in one process, ${f.changes.toLocaleString('en')} state changes from a writer process; cost per delivered change per subscriber (time from the first subscriber's call to the last's, over ${f.subscribers - 1}), µs:`);
    lines.push('');
    const check = t.get('fanOut');
    table(
      ['path', 'p50 µs', 'mean µs', 'per change, all subscribers (p50)', 'target', 'met'],
      [
        ['**bare RxJS Subject, same observers (baseline)**', f.subject.p50Us.toFixed(3), f.subject.meanUs.toFixed(3), `${((f.subject.p50Us * (f.subscribers - 1)) / 1000).toFixed(3)} ms`, '', ''],
        ['store.changes$', f.store.p50Us.toFixed(3), f.store.meanUs.toFixed(3), `${((f.store.p50Us * (f.subscribers - 1)) / 1000).toFixed(3)} ms`, check ? '≤ 0.2 µs' : '', check ? (check.met ? 'met' : '**missed**') : ''],
      ],
    );
  }

  const idle = results.idle;
  if (idle.results.length > 0) {
    const how =
      idle.counter === 'pg_stat_statements'
        ? 'statements counted by pg_stat_statements'
        : idle.counter === 'xact_commit'
          ? 'transactions counted in pg_stat_database (pg_stat_statements is not loaded on this server)'
          : 'counted client-side';
    lines.push(`**Idle cost** per store while nothing changes, over a ${idle.windowMs / 1000} s window with only that store connected (Postgres: ${how}):`);
    lines.push('');
    const check = t.get('idleListen');
    table(
      ['subject', 'interval', 'queries/s', 'server connections', 'target', 'met'],
      idle.results.map((r) => [
        r.label,
        r.intervalMs === null ? '' : `${r.intervalMs} ms`,
        r.queriesPerSecond.toFixed(2),
        String(r.connections ?? 'n/a (embedded)'),
        r.id === 'listen' && check ? 'zero but the safety check (≤ 0.1/s)' : '',
        r.id === 'listen' && check ? (check.met ? 'met' : '**missed**') : '',
      ]),
    );
  }

  if (results.tracing) {
    const off = results.tracing.find((x) => x.id === 'off');
    const check = t.get('tracingOff');
    lines.push(`**Tracing**: the same write (\`setState\`, ${results.tracing[0]!.writes.toLocaleString('en')} sequential writes per subject in interleaved blocks, one subject open at a time); CPU of the writing process per write (median over blocks) and wall time per write:`);
    lines.push('');
    table(
      ['write path', 'p50 ms', 'CPU µs / write', 'CPU vs tracing off', 'target', 'met'],
      results.tracing.map((x) => [
        x.id === 'off' ? `**${x.label}**` : x.label,
        ms(x.p50Ms),
        x.cpuUs.toFixed(0),
        off && x.id !== 'off' ? `${x.cpuUs >= off.cpuUs ? '+' : ''}${(x.cpuUs - off.cpuUs).toFixed(0)} µs (${((100 * (x.cpuUs - off.cpuUs)) / off.cpuUs).toFixed(0)} %)` : '',
        x.id === 'on' && check ? 'on − off ≤ 5 %: off is then ≈ 0' : '',
        x.id === 'on' && check ? (check.met ? 'met' : '**missed**') : '',
      ]),
    );
  }

  if (results.swarm) {
    const s = results.swarm;
    const [empty, big] = s.memory;
    lines.push(`**Swarm**: a master (\`syncDirectory\` with watch) and ${s.workers} worker processes each holding a \`watchRules\` index (all on listen, plain node on the built package${s.connections !== null ? `, ${s.connections} server connections in all` : ''}); ${s.files} rule files written into the rules directory at once (in ${ms(s.writeFilesMs)} ms):`);
    lines.push('');
    table(
      ['figure', 'value', 'target', 'met'],
      [
        [`first file written → every one of ${s.workers} workers holds all ${s.files} rules`, `${ms(s.convergeMs.max)} ms (fastest worker ${ms(s.convergeMs.min)}, median ${ms(s.convergeMs.p50)})`, '– (none set)', ''],
        ...(empty ? [[`worker memory, empty index (median of ${empty.workers}, after a full GC)`, `RSS ${empty.rssMb.toFixed(0)} MB, heap used ${empty.heapUsedMb.toFixed(0)} MB`, '', '']] : []),
        ...(big && empty
          ? [[`worker memory, ${big.rules.toLocaleString('en')} rules held (median of ${big.workers} fresh workers)`, `RSS ${big.rssMb.toFixed(0)} MB, heap used ${big.heapUsedMb.toFixed(0)} MB (+${(big.rssMb - empty.rssMb).toFixed(0)} / +${(big.heapUsedMb - empty.heapUsedMb).toFixed(0)} MB over an empty index)`, '– (none set)', '']]
          : []),
        ...(s.loadMs && big ? [[`worker start on ${big.rules.toLocaleString('en')} rules: process start → first index`, `${ms(s.loadMs.p50)} ms (median)`, '', '']] : []),
      ],
    );
  }

  if (results.nats) {
    const n = results.nats;
    lines.push('**NATS bridge** (bench/scenarios/nats.ts): sequential edits, database → NATS subscriber, and the same edits in a bus-fed engine and a direct LISTEN engine, ms:');
    lines.push('');
    table(
      ['path', 'n', 'p50', 'p99', 'max'],
      (['jetstream', 'core'] as const).flatMap((mode) =>
        (['nats', 'busEngine', 'directEngine'] as const).map((k) => {
          const l = n.latency[mode][k];
          return [`${mode}: ${k === 'nats' ? 'NATS subscriber' : k === 'busEngine' ? 'bus-fed engine index' : 'direct LISTEN engine index'}`, String(l.n), ms(l.p50), ms(l.p99), ms(l.max)];
        }),
      ),
    );
    lines.push('Bus-fed engines vs direct LISTEN engines, a burst of rules in one transaction → every engine holds it:');
    lines.push('');
    table(
      ['engines', 'processes', 'converged (max)', 'median', 'database connections idle / peak'],
      (['bus', 'busSmall', 'listen'] as const).map((k) => {
        const f = n.fanout[k];
        return [`${f.engines} ${k === 'listen' ? 'direct LISTEN' : 'bus-fed'}`, String(f.processes), `${ms(f.convergeMs.max)} ms`, `${ms(f.convergeMs.p50)} ms`, `${f.connectionsIdle} / ${f.connectionsPeak}`];
      }),
    );
  }

  if (results.cliStartup) {
    const c = results.cliStartup;
    const node = c.rows.find((r) => r.id === 'node')!;
    lines.push(`**CLI start-up** (bench/scenarios/cliStartup.ts): one process each, spawn to exit, median and p90 of ${c.reps} interleaved runs:`);
    lines.push('');
    table(
      ['command', 'p50 ms', 'p90 ms', 'over the baseline (p50)'],
      c.rows.map((r) => [r.id === 'node' ? `**${r.label}**` : r.label, ms(r.p50), ms(r.p90), r.id === 'node' ? '(baseline)' : `+${ms(r.p50 - node.p50)} ms`]),
    );
  }

  if (results.largeRows) {
    const l = results.largeRows;
    const rss = t.get('largeRowsRss');
    const reported = t.get('largeRowsReported');
    const codes = Object.entries(l.codes).map(([code, n]) => `${code} × ${n}`).join(', ') || 'none';
    lines.push(`**Oversized rows** (bench/scenarios/largeRows.ts): ${l.rows} rows × ${l.rowMb} MB inserted by raw SQL into \`ttp_rule\` in one transaction (past the library's size limit), while a subscriber process (plain node, the built package, \`changes$\` and \`errors$\` subscribed) watches:`);
    lines.push('');
    table(
      ['figure', 'value', 'target', 'met'],
      [
        ['subscriber RSS idle → peak (over idle)', `${l.idleRssMb.toFixed(0)} → ${l.peakRssMb.toFixed(0)} MB (+${(l.peakRssMb - l.idleRssMb).toFixed(0)} MB)`, ...targetCells(rss)],
        ['rows reported on errors$ (codes)', `${l.reported} of ${l.rows} (${codes}); ${l.delivered} delivered as changes, ${l.missing} neither${l.timedOut ? ' at the timeout' : ''}`, ...targetCells(reported)],
        ['commit → the last row reported', Number.isNaN(l.reportedMs) ? '–' : `${ms(l.reportedMs)} ms`, '', ''],
      ],
    );
  }

  if (results.cpu.length > 0) {
    lines.push('**CPU per change that the floor does not spend** (context; one process, µs per call):');
    lines.push('');
    table(['step', 'p50 µs', 'mean µs'], results.cpu.map((c) => [c.label, c.p50Us.toFixed(0), c.meanUs.toFixed(0)]));
  }
  for (const s of results.skipped) lines.push(`- Skipped: ${s}`);
  for (const n of results.notes) lines.push(`- ${n}`);
  return `${lines.join('\n')}\n`;
}

/** Writes the latency chart (bench/latency.svg, shown in the README) into `dir`, when there is one. */
export function writeChart(results: BenchResults, dir: URL): void {
  if (results.chart.series.length > 0) writeFileSync(new URL('latency.svg', dir), renderLatencySvg(results.chart.series, results.chart.title));
}
