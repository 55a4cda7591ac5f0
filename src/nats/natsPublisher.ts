import type { JetStreamClient, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { RuleChange } from '../domain/ruleChange.js';
import { ensureStream, type JetStreamSettings } from './jetstream.js';
import { busPayload, encodePayload } from './payloads.js';
import { subjectFor, wildcardFor } from './subjects.js';

/** One change NATS acknowledged. */
export interface Acknowledged {
  readonly change: RuleChange;
  readonly position: bigint;
  readonly prevPosition: bigint;
  readonly subject: string;
  /** JetStream already held the message id: not stored twice. */
  readonly duplicate: boolean;
  readonly streamSeq: number | null;
}

/** What one {@link NatsPublisher.publish} call achieved. */
export interface PublishResult {
  /** The acknowledged prefix of the batch, in order. */
  readonly acknowledged: Acknowledged[];
  /** Why the rest was not acknowledged (publish it again), or null. */
  readonly error: unknown;
  /** The bridge is stopping: the rest was abandoned. */
  readonly aborted: boolean;
}

/** Publishes batches of changes on one NATS connection: see {@link createPublisher}. */
export interface NatsPublisher {
  publish(nc: NatsConnection, changes: readonly RuleChange[], prev: bigint): Promise<PublishResult>;
}

/** Options of {@link createPublisher}. */
export interface PublisherOptions {
  prefix: string;
  /** JetStream settings, or null for core NATS. */
  jetstream: (Required<Pick<JetStreamSettings, 'stream' | 'duplicateWindowMs'>> & JetStreamSettings) | null;
  timeoutMs: number;
  /** Resolves (with null) when the bridge stops: pending acknowledgements are abandoned. */
  stopped: Promise<null>;
  logger: Logger;
}

/**
 * Publishes a batch in log order, pipelined: every message of the batch is sent
 * before the first acknowledgement is awaited, and acknowledgements are taken in
 * order, so the acknowledged part is always a prefix and the next batch starts
 * right after it. Each payload's `prev_position` is the change before it. With
 * JetStream every message carries its position as message id, so publishing a
 * failed batch again stores nothing twice; core NATS has no acknowledgement, so a
 * flush (the server has read everything before it) stands in for one.
 */
export function createPublisher(options: PublisherOptions): NatsPublisher {
  const { prefix, jetstream, timeoutMs, stopped } = options;
  let streamReady: NatsConnection | null = null;
  let js: { nc: NatsConnection; client: JetStreamClient } | null = null;

  const encode = (nc: NatsConnection, change: RuleChange, prev: bigint): Uint8Array => {
    const data = encodePayload(busPayload(change, prev.toString()));
    // A change too large for the server goes without its body: engines read it from the database.
    const max = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
    return data.length > max - 1024 ? encodePayload(busPayload(change, prev.toString(), { withChange: false })) : data;
  };

  const plan = (nc: NatsConnection, changes: readonly RuleChange[], prev: bigint) => {
    let before = prev;
    return changes.map((change) => {
      const prevPosition = before;
      before = BigInt(change.position);
      return { change, position: before, prevPosition, subject: subjectFor(change, prefix), data: encode(nc, change, prevPosition) };
    });
  };

  return {
    async publish(nc, changes, prev) {
      const acknowledged: Acknowledged[] = [];
      try {
        const messages = plan(nc, changes, prev);
        if (!jetstream) {
          for (const m of messages) nc.publish(m.subject, m.data);
          let timer: NodeJS.Timeout | undefined;
          const flushed = await Promise.race([
            nc.flush().then(() => true),
            new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
            stopped,
          ]).finally(() => clearTimeout(timer));
          if (flushed === null) return { acknowledged, error: null, aborted: true };
          if (!flushed) throw new Error(`no flush acknowledgement within ${timeoutMs} ms`);
          for (const m of messages) acknowledged.push({ ...m, duplicate: false, streamSeq: null });
          return { acknowledged, error: null, aborted: false };
        }
        if (streamReady !== nc) {
          await ensureStream(nc, wildcardFor(prefix), jetstream, options.logger);
          streamReady = nc;
        }
        if (js?.nc !== nc) js = { nc, client: nc.jetstream() };
        const client = js.client;
        const acks = messages.map((m) => client.publish(m.subject, m.data, { msgID: m.change.position, timeout: timeoutMs }));
        for (const ack of acks) ack.catch(() => {}); // the first failure is handled below; the rest are published again
        for (const [i, m] of messages.entries()) {
          const ack = await Promise.race([acks[i]!, stopped]);
          if (ack === null) return { acknowledged, error: null, aborted: true };
          acknowledged.push({ ...m, duplicate: ack.duplicate, streamSeq: ack.seq });
        }
        return { acknowledged, error: null, aborted: false };
      } catch (error) {
        streamReady = null; // a deleted or moved stream is created again on the next attempt
        return { acknowledged, error, aborted: false };
      }
    },
  };
}
