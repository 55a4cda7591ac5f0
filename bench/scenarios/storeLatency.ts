import type { Subscription } from 'rxjs';
import { openRuleStore, type RuleChange, type RuleStore } from '../../src/index.js';
import { stamp } from '../support/clock.js';
import { createArrivals, type Arrivals, type LatencyProbe } from '../support/latency.js';
import { BENCH_RULE_ID, ruleText } from '../support/ruleText.js';
import type { Writer } from '../support/writerClient.js';

/** Turns the bench rule's changes back into the write number that caused them. */
function routeChange(arrivals: Arrivals) {
  return (change: RuleChange): void => {
    if (change.ruleId !== BENCH_RULE_ID) return;
    if (change.kind === 'definition') arrivals.arrive(change.rule.ruleVersion);
    else if (change.kind === 'state' && change.state.reason?.startsWith('bench ')) arrivals.arrive(Number(change.state.reason.slice(6)));
  };
}

/** Options of {@link crossStoreProbe}. */
export interface CrossStoreOptions {
  id: string;
  label: string;
  url: string;
  writer: Writer;
  /** The store the writer child opened (`openStore`). */
  writerStore: string;
  /** `upsert`: `upsertRule` with a new `rule_version`; `setState`: a new state and reason. */
  edit: 'upsert' | 'setState';
  /** Url of the subscriber (Postgres or `sqlite:` path). */
  subscriberUrl?: string;
  transport?: 'listen' | 'poll';
  pollIntervalMs?: number;
}

/**
 * (b)/(d)/(f) This store, across processes: the writer child edits one rule
 * through its own store; here a second store instance (its own connections,
 * its own feed) delivers the `RuleChange` to a `changes$` subscriber. Measured:
 * issuing the edit (the public call, including its validation) -> the change in
 * the subscriber's hands.
 */
export function crossStoreProbe(options: CrossStoreOptions): LatencyProbe {
  const arrivals = createArrivals(options.id);
  let store: RuleStore | null = null;
  let subscription: Subscription | null = null;
  return {
    id: options.id,
    label: options.label,
    async setup() {
      store = await openRuleStore({
        url: options.subscriberUrl ?? options.url,
        ...(options.transport ? { transport: options.transport } : {}),
        ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
      });
      subscription = store.changes$.subscribe(routeChange(arrivals));
    },
    async sample(seq) {
      const arrived = arrivals.expect(seq);
      const { t0, t1 } = await options.writer.call(options.edit, { name: options.writerStore, seq });
      return { ms: (await arrived) - t0, ackMs: t1 - t0 };
    },
    async teardown() {
      subscription?.unsubscribe();
      await store?.close();
      store = null;
    },
  };
}

/**
 * (b) Same-store: one store in this process edits and subscribes. On listen the
 * store does not wake its reader after its own write; the change comes back
 * through the doorbell like anyone else's.
 */
export function sameStoreProbe(url: string): LatencyProbe {
  const arrivals = createArrivals('same-store');
  let store: RuleStore | null = null;
  let subscription: Subscription | null = null;
  return {
    id: 'listenSameStore',
    label: 'store on listen, same store: upsertRule -> own changes$',
    async setup() {
      store = await openRuleStore({ url });
      subscription = store.changes$.subscribe(routeChange(arrivals));
    },
    async sample(seq) {
      const s = store!;
      const arrived = arrivals.expect(seq);
      const t0 = stamp();
      await s.upsertRule(ruleText(seq), { updatedBy: 'bench' });
      const t1 = stamp();
      return { ms: (await arrived) - t0, ackMs: t1 - t0 };
    },
    async teardown() {
      subscription?.unsubscribe();
      await store?.close();
      store = null;
    },
  };
}
