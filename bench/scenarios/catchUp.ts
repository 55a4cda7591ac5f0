import postgres from 'postgres';
import { openRuleStore } from '../../src/index.js';
import { forkChild } from '../support/child.js';
import { RULE_BODY, manyRuleId, ruleText } from '../support/ruleText.js';
import type { Scenario } from '../support/scenario.js';

/** One catch-up figure: a consumer that reconnects and replays `changes` missed changes. */
export interface CatchUpResult {
  readonly id: string;
  readonly label: string;
  /** What the missed changes were. */
  readonly mix: string;
  readonly changes: number;
  readonly definitions: number;
  /** `changesSince(old position)` subscribed -> the last change in hand. */
  readonly ms: number;
  /** The same log rows read raw (postgres.js, same columns and pages, no decoding), the baseline. */
  readonly rawReadMs: number;
  readonly rssBeforeMb: number;
  /** Peak RSS of the consumer process over its whole life (opening included). */
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
  /** Time to write the changes with set-based SQL (not a figure, for the record). */
  readonly generateMs: number;
}

const RULES = 1000;
const PREFIX = 'CU';

/**
 * Writes `rounds` × 10 statements through the real tables, each touching all
 * `RULES` rules, so the triggers log one event per row: per round one UPDATE of
 * every definition (a new rule_version; readers compile each new YAML), eight state upserts, one clear of
 * every state. `definitionsOnly`: every statement is a definition update.
 */
async function generate(sql: postgres.Sql, rounds: number, versionFrom: number, definitionsOnly: boolean): Promise<number> {
  const body = RULE_BODY;
  let version = versionFrom;
  const updateDefinitions = async (): Promise<void> => {
    version++;
    await sql`
      WITH next AS (
        SELECT rule_id, ${'rule_id: '}::text || rule_id || ${'\nrule_version: '}::text || ${version}::int || ${'\n'}::text || ${body}::text AS yaml
          FROM ttp_rule WHERE starts_with(rule_id, ${PREFIX}))
      UPDATE ttp_rule r SET rule_version = ${version}::int, yaml_content = next.yaml
        FROM next WHERE r.rule_id = next.rule_id`;
  };
  const t0 = performance.now();
  for (let round = 0; round < rounds; round++) {
    await updateDefinitions();
    for (let k = 0; k < 9; k++) {
      if (definitionsOnly) await updateDefinitions();
      else if (k < 8) {
        await sql`
          INSERT INTO ttp_rule_state (rule_id, state, confidence_max, reason, set_by)
          SELECT rule_id, ${k % 2 === 0 ? 'disabled' : 'clipped'}, ${k % 2 === 0 ? null : 0.5}::float8, ${`catch-up ${round}.${k}`}, 'bench'
            FROM ttp_rule WHERE starts_with(rule_id, ${PREFIX})
          ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, confidence_max = excluded.confidence_max, reason = excluded.reason, set_by = excluded.set_by`;
      } else {
        await sql`DELETE FROM ttp_rule_state WHERE starts_with(rule_id, ${PREFIX})`;
      }
    }
  }
  return performance.now() - t0;
}

/**
 * Catch-up: a consumer that was away while `changes` changes were written
 * reconnects with `changesSince(its old position)`. The consumer runs in a
 * child process under plain node on the built package (its peak RSS is its
 * own, with no tsx in it); the changes are written fast with
 * set-based SQL through the real tables (the triggers write the log). Variants:
 * the realistic mix (10 % definitions, 80 % state changes, 10 % state clears)
 * and, when `definitionsOnly`, every change a definition.
 */
export async function measureCatchUp(url: string, options: { changes: number; definitionsOnly: boolean; log: (m: string) => void }): Promise<CatchUpResult[]> {
  const store = await openRuleStore({ url });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const results: CatchUpResult[] = [];
  try {
    await store.upsertRules(Array.from({ length: RULES }, (_, i) => ({ yaml: ruleText(1, manyRuleId(PREFIX, i)) })), { updatedBy: 'bench' });
    const rounds = Math.max(1, Math.round(options.changes / (10 * RULES)));
    const variants = [
      { id: 'mix', label: 'realistic mix', mix: '10 % definitions (rule_version bumps), 80 % state changes (disabled/clipped), 10 % state clears', definitionsOnly: false },
      ...(options.definitionsOnly ? [{ id: 'definitions', label: 'all definitions', mix: '100 % definitions (rule_version bumps)', definitionsOnly: true }] : []),
    ];
    let version = 1;
    for (const variant of variants) {
      const [head] = await sql<{ p: string }[]>`SELECT coalesce(max(position), 0)::text AS p FROM ttp_rule_event`;
      const from = head!.p;
      const generateMs = await generate(sql, rounds, version, variant.definitionsOnly);
      version += rounds * 10;
      const [end] = await sql<{ p: string; n: string }[]>`SELECT max(position)::text AS p, count(*)::text AS n FROM ttp_rule_event WHERE position > ${from}::bigint`;
      const changes = Number(end!.n);
      // A reader that comes back days later finds hint bits set and statistics fresh; the first
      // scan after a bulk write would otherwise pay for setting them, whoever it is.
      await sql`VACUUM (ANALYZE) ttp_rule_event`;
      options.log(`catch-up (${variant.label}): ${changes} changes written in ${(generateMs / 1000).toFixed(1)} s; replaying`);
      // The baseline first, in a fresh process of its own; then the store's consumer, in another.
      const rawReader = await forkChild('../support/catchUpConsumer.mjs', import.meta.url, [url, 'raw']);
      const raw = await rawReader.ask<{ type: string; ms: number }>({ type: 'raw', from, upTo: end!.p }, 'rawRead', 120_000).finally(() => rawReader.stop());
      const consumer = await forkChild('../support/catchUpConsumer.mjs', import.meta.url, [url, 'store']);
      const caught = await consumer
        .ask<{ type: string; ms: number; seen: number; definitions: number; rssBeforeMb: number; peakRssMb: number; peakHeapMb: number }>({ type: 'catchUp', from, expected: changes }, 'caughtUp', 180_000)
        .finally(() => consumer.stop());
      results.push({
        id: variant.id,
        label: variant.label,
        mix: variant.mix,
        changes,
        definitions: caught.definitions,
        ms: caught.ms,
        rawReadMs: raw.ms,
        rssBeforeMb: caught.rssBeforeMb,
        peakRssMb: caught.peakRssMb,
        peakHeapMb: caught.peakHeapMb,
        generateMs,
      });
      options.log(`catch-up (${variant.label}): ${(caught.ms / 1000).toFixed(2)} s, peak RSS ${caught.peakRssMb.toFixed(0)} MB (raw read ${(raw.ms / 1000).toFixed(2)} s)`);
    }
    return results;
  } finally {
    await sql.end({ timeout: 5 });
    await store.close();
  }
}

/** Catch-up: a consumer process replays the changes it missed, against the raw read of the same rows. */
export const catchUpScenario: Scenario<{ changes: number; definitionsOnly: boolean }> = {
  id: 'catchUp',
  title: 'Catch-up',
  measures: 'changesSince(old position) in a fresh process on the built package: time and peak RSS, against a raw postgres.js read of the same log rows',
  plan: { quick: { changes: 10_000, definitionsOnly: true }, full: { changes: 100_000, definitionsOnly: true } },
  needsBuild: true,
  async run(context, plan) {
    context.log(`catch-up: ${plan.changes} missed changes`);
    return { catchUp: await context.withDatabase('catchup', (db) => measureCatchUp(db.url, { ...plan, log: context.log })) };
  },
};
