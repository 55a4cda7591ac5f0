import postgres from 'postgres';
import { load as loadYaml } from 'js-yaml';
import { openRuleStore } from '../../src/index.js';
import { clearRuleDocCache } from '../../src/log/ruleDocCache.js';
import { BENCH_KINDS, manyRuleId, ruleText } from '../support/ruleText.js';
import { summarize } from '../support/stats.js';
import type { Scenario } from '../support/scenario.js';

/** One cold-start figure (ms, median of `reps` runs). */
export interface ColdStartRow {
  readonly id: string;
  readonly label: string;
  readonly ms: number;
  /** Every run, ms. */
  readonly runs: readonly number[];
}

/** Cold start: a snapshot of `rules` rules next to parsing the same YAML alone. */
export interface ColdStartResult {
  readonly rules: number;
  readonly rows: readonly ColdStartRow[];
  /** snapshot() / YAML parse alone, per path. */
  readonly ratios: { readonly cached: number; readonly uncached: number };
}

const median = (runs: readonly number[]): number => summarize(runs).p50;

/**
 * Cold start: `snapshot()` of `rules` rules (one read of every row and state,
 * then validation and compile per rule) timed against parsing the same YAML
 * texts with `js-yaml` alone (the parser under parseSeedYaml, without its YAML 1.1 schema). Every rule is derived from its YAML (no
 * trusted JSON copy in the database since migration 0005); a per-process cache
 * keyed by the YAML's SHA-256 makes a second snapshot in the same process skip
 * the parser ("cached"), while the first one in a process parses every YAML
 * ("uncached", measured with the cache emptied before each run).
 */
export async function measureColdStart(url: string, options: { rules: number; reps: number; log: (m: string) => void }): Promise<ColdStartResult> {
  const store = await openRuleStore({ url });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const docs = Array.from({ length: options.rules }, (_, i) => ({ yaml: ruleText(1, manyRuleId('CS', i), BENCH_KINDS[i % BENCH_KINDS.length]) }));
    for (let i = 0; i < docs.length; i += 2000) await store.upsertRules(docs.slice(i, i + 2000), { updatedBy: 'bench' });
    const texts = (await sql<{ yaml_content: string }[]>`SELECT yaml_content FROM ttp_rule`).map((r) => r.yaml_content);
    const time = async (run: () => unknown): Promise<number> => {
      const t0 = performance.now();
      await run();
      return performance.now() - t0;
    };
    const steps = {
      yaml: { label: `YAML parse alone of the same ${options.rules} documents (\`js-yaml\` \`load\`, the library's parser)`, run: () => texts.map((t) => loadYaml(t)) },
      rawRead: { label: `raw read of the ${options.rules} rows (postgres.js, SELECT * FROM ttp_rule), context`, run: () => sql`SELECT * FROM ttp_rule ORDER BY rule_id` },
      cached: {
        label: `snapshot(), again in the same process (per-process cache keyed by the YAML's SHA-256)`,
        run: async () => {
          const snap = await store.snapshot();
          if (snap.rules.length !== options.rules) throw new Error(`snapshot has ${snap.rules.length} rules`);
        },
      },
      uncached: {
        label: `snapshot(), first in a process (cache empty: every YAML parsed)`,
        run: async () => {
          clearRuleDocCache();
          const snap = await store.snapshot();
          if (snap.rules.length !== options.rules) throw new Error(`snapshot has ${snap.rules.length} rules`);
        },
      },
    } as const;
    const runs: Record<keyof typeof steps, number[]> = { yaml: [], rawRead: [], cached: [], uncached: [] };
    // One unmeasured pass each: the first snapshot prepares statements and warms the JIT.
    await steps.cached.run();
    steps.yaml.run();
    for (let rep = 0; rep < options.reps; rep++) {
      for (const id of ['yaml', 'rawRead', 'cached'] as const) runs[id].push(await time(steps[id].run));
    }
    await steps.uncached.run();
    for (let rep = 0; rep < options.reps; rep++) {
      for (const id of ['yaml', 'uncached'] as const) runs[id].push(await time(steps[id].run));
    }
    const rows = (['yaml', 'rawRead', 'cached', 'uncached'] as const).map((id) => ({ id, label: steps[id].label, ms: median(runs[id]), runs: runs[id] }));
    const yaml = median(runs.yaml);
    const result = { rules: options.rules, rows, ratios: { cached: median(runs.cached) / yaml, uncached: median(runs.uncached) / yaml } };
    options.log(`cold start: ${rows.map((r) => `${r.id} ${r.ms.toFixed(0)} ms`).join(', ')}`);
    return result;
  } finally {
    await sql.end({ timeout: 5 });
    await store.close();
  }
}

/** Cold start: snapshot() of many rules, against parsing the same YAML alone. */
export const coldStartScenario: Scenario<{ rules: number; reps: number }> = {
  id: 'coldStart',
  title: 'Cold start',
  measures: 'snapshot() of many rules in the bench process, against parsing the same YAML alone',
  plan: { quick: { rules: 2000, reps: 2 }, full: { rules: 10_000, reps: 3 } },
  async run(context, plan) {
    context.log(`cold start: snapshot of ${plan.rules} rules`);
    return { coldStart: await context.withDatabase('coldstart', (db) => measureColdStart(db.url, { ...plan, log: context.log })) };
  },
};
