import postgres from 'postgres';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { sleep } from '../support/clock.js';
import { summarize } from '../support/stats.js';
import type { Scenario } from '../support/scenario.js';

/** The write path priced three ways. */
export interface TracingRow {
  readonly id: 'plain' | 'off' | 'on';
  readonly label: string;
  /** Wall time per write, ms (median over all writes). */
  readonly p50Ms: number;
  /** CPU of this process per write, µs (median over blocks). */
  readonly cpuUs: number;
  readonly writes: number;
}

interface Subject {
  readonly id: TracingRow['id'];
  readonly label: string;
  open(): Promise<{ write(i: number): Promise<unknown>; close(): Promise<void> }>;
}

/**
 * Tracing off costs nothing: `setState` through a store opened with
 * `tracing: false`, through one with `tracing: true` and no SDK installed (the
 * `@opentelemetry/api` no-op tracer: spans are created and ended, nothing is
 * recorded), and a plain baseline — the same upsert of `ttp_rule_state` through
 * postgres.js with no store. Blocks of `perBlock` sequential writes, one subject
 * open at a time (so no other store's reader wakes on the doorbell), in
 * interleaved rounds; CPU is this process's user + system time per write.
 */
export async function measureTracingCost(url: string, options: { rounds: number; perBlock: number }): Promise<TracingRow[]> {
  const storeSubject = (id: 'off' | 'on', label: string): Subject => ({
    id,
    label,
    async open() {
      const store: RuleStore = await openRuleStore({ url, transport: 'listen', tracing: id === 'on' });
      return {
        write: (i) => store.setState(`TRC${i % 20}`, { state: i % 2 === 0 ? 'disabled' : 'clipped', confidenceMax: i % 2 === 0 ? null : 0.5, reason: `bench ${i}` }, 'bench'),
        close: () => store.close(),
      };
    },
  });
  const subjects: Subject[] = [
    {
      id: 'plain',
      label: 'plain: the same upsert of ttp_rule_state through postgres.js, no store',
      async open() {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        return {
          write: (i) => sql`
            INSERT INTO ttp_rule_state (rule_id, state, confidence_max, expires_at, reason, set_by, set_at)
            VALUES (${`TRC${i % 20}`}, ${i % 2 === 0 ? 'disabled' : 'clipped'}, ${i % 2 === 0 ? null : 0.5}, ${null}, ${`bench ${i}`}, 'bench', now())
            ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, confidence_max = excluded.confidence_max, expires_at = excluded.expires_at,
              reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at
            RETURNING *`,
          close: () => sql.end({ timeout: 5 }),
        };
      },
    },
    storeSubject('off', 'store.setState, tracing: false (no tracing call at all)'),
    storeSubject('on', 'store.setState, tracing: true, no SDK installed (no-op tracer)'),
  ];
  const walls = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
  const cpus = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
  let i = 0;
  for (let round = 0; round < options.rounds + 1; round++) {
    for (const subject of subjects) {
      const handle = await subject.open();
      try {
        for (let k = 0; k < 20; k++) await handle.write(i++); // warm: statements prepared, connections open
        await sleep(20);
        const cpu0 = process.cpuUsage();
        const wall: number[] = [];
        for (let k = 0; k < options.perBlock; k++) {
          const t0 = performance.now();
          await handle.write(i++);
          wall.push(performance.now() - t0);
        }
        await sleep(20); // the store's reader finishes its read of the last write
        const cpu = process.cpuUsage(cpu0);
        if (round === 0) continue; // the first round warms the JIT
        walls.get(subject.id)!.push(...wall);
        cpus.get(subject.id)!.push((cpu.user + cpu.system) / options.perBlock);
      } finally {
        await handle.close();
      }
    }
  }
  return subjects.map((s) => ({ id: s.id, label: s.label, p50Ms: summarize(walls.get(s.id)!).p50, cpuUs: summarize(cpus.get(s.id)!).p50, writes: walls.get(s.id)!.length }));
}

/** Tracing: the write path's CPU with tracing off, on (no SDK) and plain. */
export const tracingScenario: Scenario<{ rounds: number; perBlock: number }> = {
  id: 'tracing',
  title: 'Tracing cost',
  measures: 'CPU per write with tracing on (no SDK) against tracing off',
  plan: { quick: { rounds: 2, perBlock: 100 }, full: { rounds: 5, perBlock: 400 } },
  async run(context, plan) {
    context.log('tracing: the write path with tracing off, on (no SDK) and plain');
    return { tracing: await context.withDatabase('tracing', (db) => measureTracingCost(db.url, plan)) };
  },
};
