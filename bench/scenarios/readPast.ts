import postgres from 'postgres';
import { openRuleStore, watchRules, type RuleIndex } from '../../src/index.js';
import { BENCH_KINDS, manyRuleId, ruleText } from '../support/ruleText.js';
import { summarize } from '../support/stats.js';
import type { Scenario } from '../support/scenario.js';

/** Reads of the past and whole transactions (issue 14). */
export interface ReadPastResult {
  readonly rules: number;
  readonly events: number;
  /** Median ms of `snapshot()` (the tables) and of `snapshot({ at })` at random positions (a fold of the log). */
  readonly snapshotMs: number;
  readonly snapshotAtMs: number;
  /** snapshotAt / snapshot (target ≤ 3). */
  readonly ratio: number;
  /** `watchRules` and one `upsertRules` transaction of `transactionRules` rules: ms from the call to the one new index. */
  readonly transactionRules: number;
  readonly transactionMs: number;
  /** Indexes published for that transaction (1). */
  readonly transactionIndexes: number;
  /** RSS before the transaction and the highest seen until its index (MB, this process: writer and engine). */
  readonly rssBeforeMb: number;
  readonly rssPeakMb: number;
}

const median = (runs: readonly number[]): number => summarize(runs).p50;

/**
 * `snapshot({ at })` at random positions of a log of `events` events over `rules`
 * rules (the rules written by the library, then rounds of state changes written
 * in bulk with SQL, each row one event), against `snapshot()` of the same
 * database; then `watchRules` applying one `upsertRules` transaction that changes
 * every rule: the time to its one new index and the peak RSS on the way.
 */
export async function measureReadPast(url: string, options: { rules: number; events: number; reps: number; log: (m: string) => void }): Promise<ReadPastResult> {
  const store = await openRuleStore({ url });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const docs = (version: number) => Array.from({ length: options.rules }, (_, i) => ({ yaml: ruleText(version, manyRuleId('RP', i), BENCH_KINDS[i % BENCH_KINDS.length]) }));
    for (let i = 0; i < options.rules; i += 2000) await store.upsertRules(docs(1).slice(i, i + 2000), { updatedBy: 'bench' });
    for (let round = 0; (round + 1) * options.rules < options.events; round++) {
      await sql`
        INSERT INTO ttp_rule_state (rule_id, state, confidence_max, reason, set_by)
        SELECT rule_id, CASE WHEN ${round} % 2 = 0 THEN 'disabled' ELSE 'clipped' END, CASE WHEN ${round} % 2 = 0 THEN NULL ELSE 0.5 END, ${`round ${round}`}, 'bench'
          FROM ttp_rule
        ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, confidence_max = excluded.confidence_max, reason = excluded.reason`;
    }
    const head = BigInt((await store.snapshot()).position);
    options.log(`  log of ${head} events over ${options.rules} rules`);
    const time = async (run: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      await run();
      return performance.now() - t0;
    };
    await store.snapshot();
    await store.snapshot({ at: head / 2n });
    const now: number[] = [];
    const past: number[] = [];
    let seed = 7;
    for (let rep = 0; rep < options.reps; rep++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const at = BigInt(options.rules) + (BigInt(seed) % (head - BigInt(options.rules)));
      now.push(await time(() => store.snapshot()));
      past.push(await time(() => store.snapshot({ at })));
    }

    // One transaction of every rule, through one watchRules.
    let published = 0;
    let waiting: { test: (i: RuleIndex) => boolean; resolve: (i: RuleIndex) => void } | null = null;
    const until = (test: (i: RuleIndex) => boolean, latest: RuleIndex | null): Promise<RuleIndex> =>
      latest && test(latest) ? Promise.resolve(latest) : new Promise((resolve) => (waiting = { test, resolve }));
    let latest: RuleIndex | null = null;
    const sub = watchRules(store).subscribe((index) => {
      published++;
      latest = index;
      if (waiting?.test(index)) {
        const w = waiting;
        waiting = null;
        w.resolve(index);
      }
    });
    await until((i) => i.byId.size === options.rules, latest);
    const before = published;
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 5);
    const last = manyRuleId('RP', options.rules - 1);
    const done = until((i) => i.byId.get(last)?.ruleVersion === 2, null);
    const t0 = performance.now();
    await store.upsertRules(docs(2), { updatedBy: 'bench' });
    const index = await done;
    const transactionMs = performance.now() - t0;
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    const transactionIndexes = published - before;
    // Any straggling index would arrive before the sentinel's.
    const sentinel = until((i) => i.byId.has('RP_SENTINEL'), null);
    await store.upsertRule(ruleText(1, 'RP_SENTINEL'));
    await sentinel;
    sub.unsubscribe();
    if (published - before !== transactionIndexes + 1) throw new Error(`${published - before - 1} indexes for one transaction`);
    if (![...index.byId.values()].every((r) => r.ruleVersion === 2)) throw new Error('the new index holds part of the transaction');
    const snapshotMs = median(now);
    const snapshotAtMs = median(past);
    return {
      rules: options.rules,
      events: Number(head),
      snapshotMs,
      snapshotAtMs,
      ratio: snapshotAtMs / snapshotMs,
      transactionRules: options.rules,
      transactionMs,
      transactionIndexes,
      rssBeforeMb: rssBefore / 1048576,
      rssPeakMb: rssPeak / 1048576,
    };
  } finally {
    await sql.end({ timeout: 1 });
    await store.close();
  }
}

/** Reads of the past: snapshot({ at }) against snapshot(); one many-rule transaction through watchRules. Printed and noted only. */
export const readPastScenario: Scenario<{ rules: number; events: number; reps: number }> = {
  id: 'readPast',
  title: 'Reads of the past',
  measures: 'snapshot({ at }) over a long log against snapshot() (target ≤ 3×); a many-rule transaction through watchRules (time, RSS)',
  plan: { quick: { rules: 1000, events: 10_000, reps: 3 }, full: { rules: 10_000, events: 100_000, reps: 10 } },
  async run(context, plan) {
    context.log(`reads of the past: snapshot({ at }) over ${plan.events} events of ${plan.rules} rules; a ${plan.rules}-rule transaction through watchRules`);
    const r = await context.withDatabase('readpast', (db) => measureReadPast(db.url, { ...plan, log: context.log }));
    context.log(`  snapshot() ${r.snapshotMs.toFixed(1)} ms, snapshot({ at }) ${r.snapshotAtMs.toFixed(1)} ms: ${r.ratio.toFixed(2)}× (target ≤ 3×)`);
    context.log(`  ${r.transactionRules}-rule transaction: ${r.transactionIndexes} new index after ${r.transactionMs.toFixed(0)} ms; RSS ${r.rssBeforeMb.toFixed(0)} MB before, peak ${r.rssPeakMb.toFixed(0)} MB`);
  },
};
