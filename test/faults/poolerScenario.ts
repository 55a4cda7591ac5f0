import { RuleStoreError, openRuleStore, type RuleChange } from '../../src/index.js';
import { readLogPositions } from '../helpers/database.js';
import { auditDelivery, type DeliveryAudit } from './audit.js';

/** What {@link runPoolerLoad} saw. */
export interface PoolerLoadResult extends DeliveryAudit {
  readonly writes: number;
  readonly reads: number;
  /** Failed calls, as `code: message` (empty when all is well). */
  readonly errors: string[];
  /** Reads that resolved with a value other than the one last written by the same writer. */
  readonly wrong: number;
}

/**
 * Writers and readers on `transport: 'poll'` stores opened with `url` (a plain
 * URL through pgbouncer): each writer sets states in a loop and reads them back
 * (getState, snapshot, stats) while a subscriber records every change; the
 * deliveries are audited against the log read directly at `directUrl`.
 */
export async function runPoolerLoad(url: string, directUrl: string, options: { writers: number; lanes: number; writesPerLane: number }): Promise<PoolerLoadResult> {
  const errors: string[] = [];
  const fail = (error: unknown): void => {
    errors.push(RuleStoreError.is(error) ? `${error.code}: ${error.message}` : `untyped: ${String(error)}`);
  };
  const writers = await Promise.all(Array.from({ length: options.writers }, () => openRuleStore({ url, transport: 'poll', pollIntervalMs: 25, revertExpired: false })));
  const reader = await openRuleStore({ url, transport: 'poll', pollIntervalMs: 25 });
  const from = reader.position();
  const seen: RuleChange[] = [];
  const subscription = reader.changesSince(from).subscribe({ next: (c) => seen.push(c), error: fail });
  let writes = 0;
  let reads = 0;
  let wrong = 0;
  try {
    await Promise.all(
      writers.flatMap((store, w) =>
        Array.from({ length: options.lanes }, async (_, lane) => {
          for (let i = 0; i < options.writesPerLane; i++) {
            const ruleId = `PB${w}_${lane}_${i % 8}`;
            const state = i % 2 === 0 ? 'disabled' : 'enabled';
            try {
              await store.setState(ruleId, { state, reason: `write ${i}` }, `writer-${w}`);
              writes++;
            } catch (error) {
              fail(error);
              continue;
            }
            const checks = await Promise.allSettled([store.getState(ruleId), reader.getState(ruleId), reader.snapshot(), store.stats()]);
            reads += checks.length;
            for (const c of checks) if (c.status === 'rejected') fail(c.reason);
            const [own, other] = checks;
            if (own?.status === 'fulfilled' && own.value.state !== state) wrong++;
            // The reader is another store: it must see the committed write too (reads go to the database).
            if (other?.status === 'fulfilled' && other.value.state !== state) wrong++;
          }
        }),
      ),
    );
    const head = (await writers[0]!.stats()).head;
    await reader.waitForPosition(head);
    const committed = await readLogPositions(directUrl, from);
    return { ...auditDelivery(seen, committed), writes, reads, errors, wrong };
  } finally {
    subscription.unsubscribe();
    for (const store of [...writers, reader]) await store.close().catch(() => {});
  }
}
