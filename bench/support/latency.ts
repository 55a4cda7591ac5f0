import { sleep, stamp } from './clock.js';
import type { LatencyRow } from '../report.js';
import { percentiles, summarize } from './stats.js';

/**
 * One way of propagating a write, measured one sample at a time: `sample(seq)`
 * issues write number `seq` and resolves with the milliseconds from issuing it
 * to the result in the subscriber's hands. `setup`/`teardown` bracket every
 * block, so blocks of different probes can be interleaved (rounds) and share
 * the machine's drift fairly.
 */
export interface LatencyProbe {
  /** Its id (a row of the report, a figure for --only). */
  readonly id: string;
  /** One-line description for the table. */
  readonly label: string;
  setup(): Promise<void>;
  sample(seq: number): Promise<Sample>;
  teardown(): Promise<void>;
}

/** One measurement: `ms` issue -> in hand; `ackMs` issue -> the writer's call returned (where measured). */
export interface Sample {
  readonly ms: number;
  readonly ackMs?: number;
}

/** Options of {@link runBlock}. */
export interface BlockOptions {
  warmup: number;
  samples: number;
  /** Hands out write numbers, unique across the whole run (rule versions, row tags). */
  nextSeq: () => number;
  /**
   * Waits a uniformly random 0..jitterMs before each write, so that a polled
   * transport is hit at a random phase of its interval. Without it, sequential
   * edits issued right after a poll delivered would all wait a full interval.
   */
  jitterMs?: number;
}

/** Runs one block of a probe: setup, warm-up (discarded), samples, teardown. */
export async function runBlock(probe: LatencyProbe, options: BlockOptions): Promise<{ samples: number[]; acks: number[] }> {
  await probe.setup();
  const samples: number[] = [];
  const acks: number[] = [];
  try {
    for (let i = 0; i < options.warmup + options.samples; i++) {
      if (options.jitterMs) await sleep(Math.random() * options.jitterMs);
      const sample = await probe.sample(options.nextSeq());
      if (i < options.warmup) continue;
      samples.push(sample.ms);
      if (sample.ackMs !== undefined) acks.push(sample.ackMs);
    }
  } finally {
    await probe.teardown();
  }
  return { samples, acks };
}

/**
 * Matches arrivals to writes by their sequence number. `expect(seq)` must be
 * called before the write is issued; it resolves with the arrival stamp.
 */
export interface Arrivals {
  expect(seq: number, timeoutMs?: number): Promise<number>;
  arrive(seq: number): void;
}

export function createArrivals(what: string): Arrivals {
  const waiting = new Map<number, { resolve: (t: number) => void; timer: NodeJS.Timeout }>();
  return {
    expect(seq, timeoutMs = 15_000) {
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(seq);
          reject(new Error(`${what}: write ${seq} did not arrive within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(seq, { resolve, timer });
      });
    },
    arrive(seq) {
      const t = stamp();
      const waiter = waiting.get(seq);
      if (!waiter) return; // a warm-up straggler or another probe's write
      waiting.delete(seq);
      clearTimeout(waiter.timer);
      waiter.resolve(t);
    },
  };
}

/** A report row from one probe's samples (and the writer's acknowledgements, paired with them when measured). */
export function latencyRow(probe: Pick<LatencyProbe, 'id' | 'label'>, group: LatencyRow['group'], data: { samples: number[]; acks: number[] }, extra: Partial<LatencyRow> = {}): LatencyRow {
  return {
    id: probe.id,
    label: probe.label,
    group,
    latency: summarize(data.samples),
    percentiles: percentiles(data.samples).map((v) => Number(v.toFixed(3))),
    ...(data.acks.length ? { ack: summarize(data.acks) } : {}),
    // Per write: delivery after the writer's acknowledgement (the acks pair up with the samples).
    ...(data.acks.length === data.samples.length && data.acks.length > 0 ? { afterAck: summarize(data.samples.map((s, i) => s - data.acks[i]!)) } : {}),
    ...extra,
  };
}
