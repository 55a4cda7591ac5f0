import postgres from 'postgres';
import { forkChild } from '../support/child.js';
import { stamp } from '../support/clock.js';
import { RULE_BODY, manyRuleId } from '../support/ruleText.js';
import type { Scenario } from '../support/scenario.js';

/** A subscriber's memory while oversized rows arrive in one transaction. */
export interface LargeRowsResult {
  readonly rows: number;
  /** Size of each row's yaml_content, MB. */
  readonly rowMb: number;
  /** RSS of the subscriber, opened and subscribed, before the transaction. */
  readonly idleRssMb: number;
  /** Its high-water mark after the rows were reported (or the timeout). */
  readonly peakRssMb: number;
  /** Errors on errors$ whose position is one of the inserted rows. */
  readonly reported: number;
  /** Rows delivered as changes (not refused). */
  readonly delivered: number;
  /** Rows neither reported nor delivered by the timeout. */
  readonly missing: number;
  /** Error code -> how many of the rows got it. */
  readonly codes: Readonly<Record<string, number>>;
  /** Commit acknowledged -> the last of the rows reported (or delivered) in the subscriber, ms (negative: before the bench heard the commit). */
  readonly reportedMs: number;
  /** Time to insert the rows (one transaction, raw SQL; not a figure). */
  readonly insertMs: number;
  readonly timedOut: boolean;
}

const PREFIX = 'LR';

/**
 * 100 rows × 4 MB arrive in one transaction, inserted by raw SQL into
 * `ttp_rule` (bypassing the library's size limit; the yaml is built on the
 * server, so the bench process never holds it), while a subscriber process on
 * the built package watches `changes$` and `errors$`. Measures the
 * subscriber's peak RSS over its idle RSS and counts the rows it reports.
 */
export async function measureLargeRows(url: string, options: { rows: number; rowMb: number; timeoutMs: number; log: (m: string) => void }): Promise<LargeRowsResult> {
  const subscriber = await forkChild('../support/largeRowsSubscriber.mjs', import.meta.url, [url]);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const idle = await subscriber.ask<{ type: string; rssMb: number; peakRssMb: number }>({ type: 'idle' }, 'idle');
    const [head] = await sql<{ p: string }[]>`SELECT coalesce(max(position), 0)::text AS p FROM ttp_rule_event`;
    // Each row: a valid rule head and body, then a comment line padding it to `rowMb` MB.
    const pad = Math.round(options.rowMb * 1024 * 1024);
    const t0 = performance.now();
    await sql`
      INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by)
      SELECT ${PREFIX}::text || lpad(i::text, 5, '0'), 1,
             ${'rule_id: '}::text || ${PREFIX}::text || lpad(i::text, 5, '0') || ${'\nrule_version: 1\n'}::text || ${RULE_BODY}::text || '# ' || repeat('x', ${pad}::int) || E'\n',
             'bench'
        FROM generate_series(0, ${options.rows - 1}::int) AS i`;
    const committedAt = stamp();
    const insertMs = performance.now() - t0;
    const positions = (await sql<{ p: string }[]>`SELECT position::text AS p FROM ttp_rule_event WHERE position > ${head!.p}::bigint AND starts_with(rule_id, ${PREFIX}) ORDER BY position`).map((r) => r.p);
    options.log(`large rows: ${positions.length} rows × ${options.rowMb} MB committed in ${(insertMs / 1000).toFixed(1)} s (first ${manyRuleId(PREFIX, 0)}); waiting for the subscriber`);
    const done = await subscriber.ask<{ type: string; waitedMs: number; lastAt: number; errors: number; changes: number; missing: number; codes: Record<string, number>; peakRssMb: number }>(
      { type: 'expect', positions, timeoutMs: options.timeoutMs },
      'done',
      options.timeoutMs + 60_000,
    );
    return {
      rows: positions.length,
      rowMb: options.rowMb,
      idleRssMb: idle.rssMb,
      peakRssMb: done.peakRssMb,
      reported: done.errors,
      delivered: done.changes,
      missing: done.missing,
      codes: done.codes,
      reportedMs: done.lastAt > 0 ? done.lastAt - committedAt : Number.NaN,
      insertMs,
      timedOut: done.missing > 0,
    };
  } finally {
    await sql.end({ timeout: 5 });
    await subscriber.stop();
  }
}

/** largeRows: oversized rows in one transaction; the subscriber's peak RSS over idle, every row reported. */
export const largeRowsScenario: Scenario<{ rows: number; rowMb: number; timeoutMs: number }> = {
  id: 'largeRows',
  title: 'Oversized rows',
  measures: "a subscriber process's peak RSS over its idle RSS while 100 rows × 4 MB arrive in one transaction (target < 300 MB), and how many it reports on errors$",
  plan: { quick: { rows: 20, rowMb: 4, timeoutMs: 120_000 }, full: { rows: 100, rowMb: 4, timeoutMs: 300_000 } },
  needsBuild: true,
  async run(context, plan) {
    context.log(`large rows: ${plan.rows} rows × ${plan.rowMb} MB in one transaction`);
    const r = await context.withDatabase('largerows', (db) => measureLargeRows(db.url, { ...plan, log: context.log }));
    const codes = Object.entries(r.codes).map(([code, n]) => `${code} ×${n}`).join(', ') || 'none';
    context.log(`  RSS ${r.idleRssMb.toFixed(0)} MB idle, peak ${r.peakRssMb.toFixed(0)} MB (+${(r.peakRssMb - r.idleRssMb).toFixed(0)} MB); ${r.reported}/${r.rows} reported (${codes}), ${r.delivered} delivered, ${r.missing} missing after ${(r.reportedMs / 1000).toFixed(1)} s`);
    return { largeRows: r };
  },
};
