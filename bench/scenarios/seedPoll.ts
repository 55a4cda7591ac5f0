import postgres from 'postgres';
import { sleep, stamp } from '../support/clock.js';
import { createArrivals } from '../support/latency.js';
import type { Writer } from '../support/writerClient.js';
import { latencyRow } from '../support/latency.js';
import type { Scenario } from '../support/scenario.js';

/** The seed's poll period. */
export const SEED_POLL_MS = 1000;

/** A running seed-style poller. */
export interface SeedPoller {
  close(): Promise<void>;
}

/**
 * The old design, as the seed's worker tailed the rules: `SELECT * FROM ttp_rule
 * WHERE updated_at > watermark`, then sleep a second, forever; the watermark is
 * the newest `updated_at` seen (the server's clock, starting at its `now()`).
 */
export async function startSeedPoller(url: string, onRow: (row: { rule_id: string; rule_version: number }) => void): Promise<SeedPoller> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const [start] = await sql<{ now: Date }[]>`SELECT now() AS now`;
  let watermark = start!.now;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await sql<{ rule_id: string; rule_version: number; updated_at: Date }[]>`SELECT * FROM ttp_rule WHERE updated_at > ${watermark}`;
      for (const row of rows) {
        if (row.updated_at > watermark) watermark = row.updated_at;
        onRow(row);
      }
      await sleep(SEED_POLL_MS);
    }
  })();
  return {
    async close() {
      stopped = true;
      await loop;
      await sql.end({ timeout: 5 });
    },
  };
}

/**
 * Latency of the old design: the writer child upserts rules through its store
 * at random moments (100–300 ms apart, each to one of 20 rules, so the writes
 * fall at uniformly random phases of the poll and no rule is edited twice
 * within a poll); a seed poller here notices each one. Measured: issuing the
 * write -> the row in the poller's hands. Writes overlap their wait, so
 * `samples` cost about `samples` × 200 ms, not `samples` seconds.
 */
export async function measureSeedPoll(url: string, writer: Writer, options: { samples: number; nextSeq: () => number }): Promise<{ samples: number[]; acks: number[] }> {
  const arrivals = createArrivals('seed poll');
  const poller = await startSeedPoller(url, (row) => {
    if (row.rule_id.startsWith('SEEDPOLL')) arrivals.arrive(row.rule_version);
  });
  const samples: number[] = [];
  const acks: number[] = [];
  try {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < options.samples; i++) {
      await sleep(100 + Math.random() * 200);
      const seq = options.nextSeq();
      const arrived = arrivals.expect(seq, 10_000);
      const t = stamp();
      pending.push(
        writer.call('upsert', { name: 'pg', seq, ruleId: `SEEDPOLL${i % 20}` }).then(async ({ t0, t1 }) => {
          acks.push(t1 - t0);
          samples.push((await arrived) - (Number.isNaN(t0) ? t : t0));
        }),
      );
    }
    await Promise.all(pending);
  } finally {
    await poller.close();
  }
  return { samples, acks };
}

/** (g) The old design: the seed's 1 s poll of ttp_rule.updated_at. */
export const seedPollScenario: Scenario<{ samples: number }> = {
  id: 'seedPoll',
  title: "The seed's poll",
  measures: "upsertRule -> the row seen by the seed's 1 s poll of ttp_rule WHERE updated_at > watermark (the design replaced)",
  plan: { quick: { samples: 20 }, full: { samples: 150 } },
  usesWriter: true,
  async run(context, plan) {
    const { db, writer } = await context.shared();
    context.log(`seed poll: ${plan.samples} writes at random phases of its ${SEED_POLL_MS} ms poll`);
    const data = await measureSeedPoll(db.url, writer, { samples: plan.samples, nextSeq: context.nextSeq });
    context.note(`Old design: ${plan.samples} upserts issued 100–300 ms apart (so at uniformly random phases of the poll), to 20 rules in turn, each timed to the poll that returned it.`);
    return { latency: [latencyRow({ id: 'seedPoll', label: 'old design (the seed): 1 s poll of ttp_rule WHERE updated_at > watermark, upsertRule -> row seen' }, 'old', data, { intervalMs: SEED_POLL_MS })] };
  },
};
