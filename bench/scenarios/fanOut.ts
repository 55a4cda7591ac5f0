import { Subject } from 'rxjs';
import { openRuleStore, type RuleChange } from '../../src/index.js';
import { summarize } from '../support/stats.js';
import type { Writer } from '../support/writerClient.js';
import type { Scenario } from '../support/scenario.js';

/** Cost per delivered change per subscriber, µs: the store's `changes$` and a bare RxJS Subject. */
export interface FanOutResult {
  readonly subscribers: number;
  readonly changes: number;
  readonly store: { readonly p50Us: number; readonly meanUs: number };
  readonly subject: { readonly p50Us: number; readonly meanUs: number };
}

/**
 * Subscribes `subscribers` observers: the first and the last stamp the clock,
 * the ones between do nothing. Delivery to a subject's observers is one
 * synchronous loop in subscription order, so for each change the time from the
 * first stamp to the last is what the other `subscribers - 1` deliveries cost.
 */
function stampedObservers(subscribe: (next: (value: unknown) => void) => void, subscribers: number): number[] {
  const spans: number[] = [];
  let first = 0;
  subscribe(() => {
    first = performance.now();
  });
  for (let i = 0; i < subscribers - 2; i++) subscribe(() => {});
  subscribe(() => {
    spans.push(performance.now() - first);
  });
  return spans;
}

const perSubscriberUs = (spans: readonly number[], subscribers: number): { p50Us: number; meanUs: number } => {
  const s = summarize(spans.map((ms) => (ms * 1000) / (subscribers - 1)));
  return { p50Us: s.p50, meanUs: s.mean };
};

/**
 * Fan-out: one store (listen) in this process with `subscribers` no-op
 * subscriptions to `changes$`; the writer child makes `changes` state changes
 * back to back. Baseline: a bare RxJS Subject with the same observers, fed the
 * same number of values in this process.
 */
export async function measureFanOut(url: string, writer: Writer, options: { subscribers: number; changes: number }): Promise<FanOutResult> {
  const store = await openRuleStore({ url, transport: 'listen' });
  const subscriptions: { unsubscribe(): void }[] = [];
  try {
    const spans = stampedObservers((next) => subscriptions.push(store.changes$.subscribe(next)), options.subscribers);
    let last: RuleChange | null = null;
    subscriptions.push(store.changes$.subscribe((c) => (last = c)));
    await writer.call('burst', { kind: 'setState', name: 'pg', prefix: 'FAN', rules: 50, seqFrom: 20_000_000, count: options.changes });
    // The writer's call returned once the last write committed; wait for its delivery here.
    const head = await store.stats().then((s) => s.head);
    await store.waitForPosition(head);
    if (last === null || spans.length < options.changes) throw new Error(`fan-out: ${spans.length} of ${options.changes} changes delivered`);

    const subject = new Subject<unknown>();
    const subjectSpans = stampedObservers((next) => subject.subscribe(next), options.subscribers);
    const value = Object.freeze({ kind: 'state' });
    for (let i = 0; i < options.changes; i++) subject.next(value);
    subject.complete();
    return { subscribers: options.subscribers, changes: spans.length, store: perSubscriberUs(spans, options.subscribers), subject: perSubscriberUs(subjectSpans, options.subscribers) };
  } finally {
    for (const s of subscriptions) s.unsubscribe();
    await store.close();
  }
}

/** Fan-out: many no-op subscribers on one store, fed by the writer process. */
export const fanOutScenario: Scenario<{ subscribers: number; changes: number }> = {
  id: 'fanOut',
  title: 'Fan-out',
  measures: "cost per delivered change per no-op subscriber of one store's changes$, against a bare RxJS Subject",
  plan: { quick: { subscribers: 1000, changes: 300 }, full: { subscribers: 1000, changes: 2000 } },
  usesWriter: true,
  async run(context, plan) {
    const { db, writer } = await context.shared();
    context.log(`fan-out: ${plan.subscribers} subscribers, ${plan.changes} changes`);
    return { fanOut: await measureFanOut(db.url, writer, plan) };
  },
};
