import postgres from 'postgres';
import { RuleStoreError, openRuleStore } from '../../src/index.js';
import { createTestDatabase } from '../helpers/database.js';

/** What {@link runCancellationScenario} counted. */
export interface CancellationResult {
  /** getState / stats().head calls made. */
  readonly calls: number;
  /** Calls that resolved with a wrong value (a disabled rule read as anything else, a wrong head). */
  readonly wrong: number;
  /** Calls that failed, by error code ('untyped' for anything not a RuleStoreError). */
  readonly errors: Record<string, number>;
  /** Changes the catch-ups delivered, and deliveries out of sequence (a skipped or repeated position). */
  readonly delivered: number;
  readonly outOfSequence: number;
  /** Transactions rolled back (statement_timeout) plus pg_cancel_backend calls made while the scenario ran. */
  readonly cancelled: number;
}

/**
 * A small `statement_timeout` on the database while catch-ups stream large
 * pages and other calls (`getState` of a disabled rule, `stats().head`) share
 * the store's pool: timed-out queries fail mid-stream, and the next query on
 * the same connection meets postgres.js' stale row counter (porsager/postgres
 * #1119, #1181). Counts the calls that returned a wrong answer.
 */
export async function runCancellationScenario(options: { calls: number; events: number; timeoutMs: number; pageSize?: number; lanes?: number }): Promise<CancellationResult> {
  const db = await createTestDatabase('cancellation');
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  const errors: Record<string, number> = {};
  let calls = 0;
  let wrong = 0;
  let delivered = 0;
  let outOfSequence = 0;
  let cancels = 0;
  try {
    await admin.unsafe(`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by)
                          SELECT 'BULK' || g, 'disabled', repeat('x', 200), 'seed' FROM generate_series(1, ${options.events}) g`);
    await admin`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by) VALUES ('OFF1', 'disabled', 'incident', 'seed')`;
    const [{ head } = { head: '0' }] = await admin<{ head: string }[]>`SELECT max(position)::text AS head FROM ttp_rule_event`;
    const [{ before } = { before: 0 }] = await admin<{ before: number }[]>`SELECT xact_rollback::int AS before FROM pg_stat_database WHERE datname = current_database()`;
    await admin.unsafe(`ALTER DATABASE "${db.name}" SET statement_timeout = ${options.timeoutMs}`);
    await admin`SET statement_timeout = 0`;
    const store = await openRuleStore({ url: db.url, pageSize: options.pageSize ?? 1000, revertExpired: false, safetyCheckMs: 600_000 });
    const fail = (error: unknown): void => {
      const code = RuleStoreError.is(error) ? error.code : 'untyped';
      errors[code] = (errors[code] ?? 0) + 1;
    };
    try {
      let running = true;
      // Catch-ups from the start of the log, one after another on each lane (8 by default), in pages of 1,000 rows.
      const catchUp = async (): Promise<void> => {
        while (running) {
          let last = 0n;
          await new Promise<void>((resolve) => {
            const subscription = store.changesSince('0').subscribe({
              next: (change) => {
                delivered++;
                const p = BigInt(change.position);
                if (p <= last) outOfSequence++;
                last = p;
                if (change.position === head || !running) {
                  subscription.unsubscribe();
                  resolve();
                }
              },
              error: () => resolve(),
            });
          });
        }
      };
      // Meanwhile, calls whose answers are known.
      const probe = async (): Promise<void> => {
        while (calls < options.calls) {
          calls += 2;
          const [state, stats] = await Promise.allSettled([store.getState('OFF1'), store.stats()]);
          if (state.status === 'rejected') fail(state.reason);
          else if (state.value.state !== 'disabled') wrong++;
          if (stats.status === 'rejected') fail(stats.reason);
          else if (stats.value.head !== head) wrong++;
        }
      };
      // And pg_cancel_backend on the store's log reads as they stream (paced by the server, a few ms apart).
      const canceller = async (): Promise<void> => {
        while (running) {
          const [row] = await admin<{ n: number }[]>`
            SELECT count(pg_cancel_backend(pid))::int AS n, pg_sleep(0.003) IS NULL AS paced FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'ttp-rule-store' AND state = 'active' AND query LIKE '%FROM ttp_rule_event%'`;
          cancels += row?.n ?? 0;
        }
      };
      const lanes = [...Array.from({ length: options.lanes ?? 8 }, () => catchUp()), canceller()];
      await Promise.all([probe(), probe(), probe()]);
      running = false;
      await Promise.all(lanes);
    } finally {
      await store.close();
    }
    const [{ after } = { after: 0 }] = await admin<{ after: number }[]>`SELECT xact_rollback::int AS after FROM pg_stat_database WHERE datname = current_database()`;
    return { calls, wrong, errors, delivered, outOfSequence, cancelled: after - before + cancels };
  } finally {
    await admin.end();
    await db.drop();
  }
}
