import postgres from 'postgres';
import type { Subscription } from 'rxjs';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { stamp } from '../support/clock.js';
import { startWriter, type Writer } from '../support/writerClient.js';
import type { BurstKind } from '../support/writerProtocol.js';
import type { Scenario } from '../support/scenario.js';

/** One throughput figure: `count` changes from `writers` concurrent writers, delivered to one subscriber. */
export interface ThroughputResult {
  readonly id: string;
  readonly label: string;
  readonly kind: BurstKind;
  readonly writers: number;
  /** Changes per round. */
  readonly count: number;
  /** Changes per second delivered (first write issued -> last change in hand), one per round. */
  readonly deliveredPerSecond: readonly number[];
  /** Changes per second acknowledged to the writers (first issued -> last acknowledged), one per round. */
  readonly writtenPerSecond: readonly number[];
}

/** Counts what one subscriber receives, resolving when `expected` have arrived. */
interface Counter {
  arm(expected: number, isMine: (key: number) => boolean): Promise<number>;
  close(): Promise<void>;
}

/**
 * The raw subscriber: postgres.js LISTEN on the store's own doorbell, reading
 * `ttp_rule_event` past its watermark in pages of 1000 (one read in flight, one
 * queued), the same columns the store reads, without decoding a rule — what a
 * minimal hand-written consumer of the same tables does. (A watermark read of a
 * plain serial table would skip rows under concurrent writers: ids are handed out
 * in insert order, not commit order. The log's positions follow commit order.)
 */
async function rawLogCounter(url: string): Promise<Counter> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const [head] = await sql<{ p: string }[]>`SELECT coalesce(max(position), 0)::text AS p FROM ttp_rule_event`;
  let watermark = head?.p ?? '0';
  let reading = false;
  let again = false;
  let target: Target | null = null;
  const read = async (): Promise<void> => {
    reading = true;
    try {
      do {
        again = false;
        for (;;) {
          const rows = await sql<{ position: string; rule_row: { rule_version: number } | null; state_row: { reason: string | null } | null }[]>`
            SELECT position, rule_id, entity, op, rule_row, state_row, actor, recorded_at FROM ttp_rule_event
             WHERE position > ${watermark}::bigint ORDER BY position LIMIT 1000`;
          for (const row of rows) {
            watermark = row.position;
            const reason = row.state_row?.reason;
            const key = row.rule_row ? row.rule_row.rule_version : reason?.startsWith('bench ') ? Number(reason.slice(6)) : -1;
            if (target) count(target, key);
          }
          if (rows.length < 1000) break;
        }
      } while (again);
    } finally {
      reading = false;
    }
  };
  await sql.listen('ttp_rule_event', () => {
    if (reading) again = true;
    else read().catch((error: unknown) => console.error('raw log reader failed:', error));
  });
  return {
    arm: (expected, isMine) => new Promise((resolve) => (target = { expected, isMine, seen: 0, resolve })),
    close: () => sql.end({ timeout: 5 }),
  };
}

interface Target {
  expected: number;
  isMine: (key: number) => boolean;
  seen: number;
  resolve: (t: number) => void;
}

function count(target: Target, key: number): void {
  if (target.isMine(key) && ++target.seen === target.expected) target.resolve(stamp());
}

/** The store's subscriber: a second store on listen, `changes$` in this process. */
async function storeCounter(url: string): Promise<Counter> {
  const store: RuleStore = await openRuleStore({ url, transport: 'listen' });
  let target: Target | null = null;
  const subscription: Subscription = store.changes$.subscribe((change) => {
    if (!target) return;
    const key = change.kind === 'definition' ? change.rule.ruleVersion : change.kind === 'state' && change.state.reason?.startsWith('bench ') ? Number(change.state.reason.slice(6)) : -1;
    count(target, key);
  });
  return {
    arm: (expected, isMine) => new Promise((resolve) => (target = { expected, isMine, seen: 0, resolve })),
    async close() {
      subscription.unsubscribe();
      await store.close();
    },
  };
}

/**
 * Throughput with concurrent writers: `writers` child processes, each with its
 * own connection (and its own store, as a master or an operator's CLI has),
 * write `perWriter` changes back to back; one subscriber in this process counts
 * them. Measured per round: first write issued -> last change in the
 * subscriber's hands. Each kind of change runs through the store and as raw SQL
 * on the same tables read by a raw LISTEN + watermark reader, in interleaved
 * rounds, so drift on a shared machine hits them alike.
 */
export async function measureThroughput(
  url: string,
  options: { writers: number; perWriter: number; rounds: number; warmup: number; log: (m: string) => void },
): Promise<ThroughputResult[]> {
  const writers: Writer[] = [];
  try {
    for (let w = 0; w < options.writers; w++) {
      const writer = await startWriter();
      writers.push(writer);
      await writer.call('connect', { url });
      await writer.call('openStore', { name: 'pg', options: { url, transport: 'listen' } });
    }
    const variants: { id: string; label: string; kind: BurstKind; counter: () => Promise<Counter> }[] = [
      { id: 'rawDefinitions', label: 'raw: INSERT … ON CONFLICT into ttp_rule (postgres.js), LISTEN + read ttp_rule_event past a watermark', kind: 'rawUpsert', counter: () => rawLogCounter(url) },
      { id: 'definitions', label: 'store on listen: upsertRule -> changes$ of a second store', kind: 'upsert', counter: () => storeCounter(url) },
      { id: 'rawStates', label: 'raw: INSERT … ON CONFLICT into ttp_rule_state (postgres.js), LISTEN + read ttp_rule_event past a watermark', kind: 'rawState', counter: () => rawLogCounter(url) },
      { id: 'states', label: 'store on listen: setState -> changes$ of a second store', kind: 'setState', counter: () => storeCounter(url) },
    ];
    const results = variants.map((v) => ({ id: v.id, label: v.label, kind: v.kind, writers: options.writers, count: options.writers * options.perWriter, deliveredPerSecond: [] as number[], writtenPerSecond: [] as number[] }));
    // Write numbers are unique per variant and run, and tell the rounds apart.
    let seq = 10_000_000;
    const burst = async (kind: BurstKind, counter: Counter, perWriter: number): Promise<{ delivered: number; written: number }> => {
      const from = seq;
      seq += options.writers * perWriter;
      const arrived = counter.arm(options.writers * perWriter, (k) => k >= from && k < seq);
      const acks = await Promise.all(
        writers.map((writer, w) =>
          writer.call('burst', { kind, name: 'pg', prefix: `TP_${kind}_${w}_`, rules: 50, seqFrom: from + w * perWriter, count: perWriter }),
        ),
      );
      const last = await arrived;
      const first = Math.min(...acks.map((a) => a.t0));
      const acked = Math.max(...acks.map((a) => a.t1));
      const n = options.writers * perWriter;
      return { delivered: n / ((last - first) / 1000), written: n / ((acked - first) / 1000) };
    };
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, variant] of variants.entries()) {
        const counter = await variant.counter();
        try {
          if (round === 0) await burst(variant.kind, counter, options.warmup);
          const r = await burst(variant.kind, counter, options.perWriter);
          results[i]!.deliveredPerSecond.push(r.delivered);
          results[i]!.writtenPerSecond.push(r.written);
        } finally {
          await counter.close();
        }
      }
      options.log(`throughput round ${round + 1}/${options.rounds}: ${results.map((r) => `${r.id} ${r.deliveredPerSecond.at(-1)!.toFixed(0)}/s`).join(', ')}`);
    }
    return results;
  } finally {
    for (const writer of writers) await writer.close();
  }
}

/** Throughput: concurrent writer processes, delivered to a subscriber, against raw SQL on the same tables. */
export const throughputScenario: Scenario<{ writers: number; perWriter: number; rounds: number; warmup: number }> = {
  id: 'throughput',
  title: 'Throughput',
  measures: 'changes delivered per second with concurrent writer processes, against raw SQL writes and reads of the same tables',
  plan: { quick: { writers: 4, perWriter: 100, rounds: 1, warmup: 20 }, full: { writers: 4, perWriter: 500, rounds: 3, warmup: 50 } },
  async run(context, plan) {
    context.log(`throughput: ${plan.writers} writer processes × ${plan.perWriter} changes, ${plan.rounds} rounds`);
    const throughput = await context.withDatabase('throughput', (db) => measureThroughput(db.url, { ...plan, log: context.log }));
    context.note("Throughput: the raw rows write the same tables (the triggers log them, under the same writers' lock) without the library: no validation, no writer-side store reading the log; the raw reader does not decode rules. Each writer process also keeps its own store open (as a master does), and every store reads every change.");
    return { throughput };
  },
};
