import type { LatencyRow } from '../report.js';
import { latencyRow, runBlock, type LatencyProbe } from '../support/latency.js';
import type { BenchContext, Scenario } from '../support/scenario.js';
import { summarize } from '../support/stats.js';
import { commitProbe, notifyProbe } from './context.js';
import { floorProbe } from './floor.js';
import { crossStoreProbe, sameStoreProbe } from './storeLatency.js';

/** The library's default Postgres poll interval. */
export const POLL_MS = 250;

interface RoundsPlan {
  readonly rounds: number;
  readonly perRound: number;
  readonly firstWarmup: number;
  readonly warmup: number;
}

/** Runs probes in interleaved rounds, so slow drift of a shared machine hits all of them alike. */
async function runRounds(context: BenchContext, probes: readonly LatencyProbe[], plan: RoundsPlan): Promise<Map<string, { samples: number[]; acks: number[] }>> {
  const collected = new Map(probes.map((p) => [p.id, { samples: [] as number[], acks: [] as number[] }]));
  for (let round = 0; round < plan.rounds; round++) {
    for (const probe of probes) {
      const block = await runBlock(probe, { warmup: round === 0 ? plan.firstWarmup : plan.warmup, samples: plan.perRound, nextSeq: context.nextSeq });
      const into = collected.get(probe.id)!;
      into.samples.push(...block.samples);
      into.acks.push(...block.acks);
    }
    context.log(`round ${round + 1}/${plan.rounds}: ${probes.map((p) => `${p.id} p50 ${summarize(collected.get(p.id)!.samples).p50.toFixed(2)}`).join(', ')}`);
  }
  return collected;
}

const LATENCY_FIGURES = ['commit', 'notify', 'notifyPgListen', 'floor', 'listenCross', 'listenCrossState', 'listenSameStore'] as const;

/** (a) (b) (c): the floor, the store on listen and the context rows, in interleaved rounds on one database. */
export const latencyScenario: Scenario<RoundsPlan> = {
  id: 'latency',
  figures: LATENCY_FIGURES,
  title: 'Propagation latency on listen',
  measures: 'write issued in a writer process -> change in a subscriber, for the store on listen, against the floor (insert + NOTIFY + read) and raw NOTIFY delivery',
  plan: { quick: { rounds: 2, perRound: 100, firstWarmup: 50, warmup: 10 }, full: { rounds: 8, perRound: 250, firstWarmup: 200, warmup: 20 } },
  usesWriter: true,
  async run(context, plan) {
    const { db, writer } = await context.shared();
    const all: { probe: LatencyProbe; group: LatencyRow['group'] }[] = [
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
    // --only=latency runs them all; --only=floor,listenCross a subset.
    const probes = context.wanted('latency') ? all : all.filter((p) => context.wanted(p.probe.id));
    context.log(`latency: ${probes.length} probes × ${plan.rounds} rounds × ${plan.perRound} samples (+ warm-up)`);
    const collected = await runRounds(context, probes.map((p) => p.probe), plan);
    context.note('The writer runs in a child process (as the master, the CLI or psql would); the subscriber in the bench process. Stamps use the monotonic clock shared by both processes (the one performance.now() reads).');
    context.note('The floor inserts the same ~450-byte rule text the store writes; its listener reads past a watermark (one read in flight, one queued), as the store does.');
    context.note('Context rows are not ratios: "bare insert" is the commit round trip alone; the two notify rows show how fast each client library hears a NOTIFY.');
    return { latency: probes.map((p) => latencyRow(p.probe, p.group, collected.get(p.probe.id)!)) };
  },
};

/** (d) Postgres poll: each sample costs up to an interval, so fewer samples, at a random phase. */
export const pollCrossScenario: Scenario<{ samples: number }> = {
  id: 'pollCross',
  title: 'Propagation latency on Postgres poll',
  measures: `write -> change in a second store polling every ${POLL_MS} ms, against the floor and the interval`,
  plan: { quick: { samples: 20 }, full: { samples: 120 } },
  usesWriter: true,
  async run(context, plan) {
    const { db, writer } = await context.shared();
    const probe = crossStoreProbe({ id: 'pollCross', label: `store on Postgres poll (${POLL_MS} ms): upsertRule -> changes$ of a second store`, url: db.url, writer, writerStore: 'pg', edit: 'upsert', transport: 'poll', pollIntervalMs: POLL_MS });
    context.log(`poll: ${plan.samples} samples at ${POLL_MS} ms`);
    const data = await runBlock(probe, { warmup: 3, samples: plan.samples, nextSeq: context.nextSeq, jitterMs: POLL_MS });
    context.note(`Postgres poll: ${plan.samples} sequential edits (each costs up to one ${POLL_MS} ms interval), each issued after a random 0–${POLL_MS} ms pause so the poll phase is uniform.`);
    return { latency: [latencyRow(probe, 'store', data, { intervalMs: POLL_MS, note: `${plan.samples} samples, each issued at a random phase of the interval` })] };
  },
};
