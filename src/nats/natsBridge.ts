import { Subject, type Observable, type Subscription } from 'rxjs';
import { pino, type Logger } from 'pino';
import { createBackoff } from '../domain/backoff.js';
import { RuleStoreError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import type { RuleStore } from '../store/ruleStore.js';
import { createCheckpointer } from './checkpointer.js';
import { DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_STREAM, isValidStreamName, type JetStreamSettings } from './jetstream.js';
import { createNatsLink, type NatsTarget } from './natsLink.js';
import { createPublisher } from './natsPublisher.js';
import { DEFAULT_SUBJECT_PREFIX, checkSubjectPrefix } from './subjects.js';

/** Options of {@link bridgeToNats}. Only `nats` is required. */
export interface BridgeToNatsOptions {
  /** `nats://host:port` (or several, or `ConnectionOptions`), or a connection you own and close. */
  nats: NatsTarget;
  /** Durable consumer name: its checkpoint lives in the database (default `ttp-bridge`). */
  name?: string;
  /** Where a consumer that does not exist yet starts: `'head'` (default) or `'beginning'`. */
  startAt?: 'head' | 'beginning';
  /** Publish through JetStream with the position as message id (default true), or `false` for core NATS. */
  jetstream?: boolean | JetStreamSettings;
  /** Subject prefix (default `ttp.rule`): subjects are `<prefix>.reloaded.<id>` and `<prefix>.state.<id>`. */
  subjectPrefix?: string;
  /** Store the checkpoint after this many acknowledged publishes (default 100)… */
  checkpointEvery?: number;
  /** …or this long after the first unsaved one, ms (default 1000). */
  checkpointIntervalMs?: number;
  /** How long to wait for a JetStream ack (or a core flush), ms (default 5000). */
  publishTimeoutMs?: number;
  /** Backoff between failed publishes and connection attempts, ms (default 100 doubling to 5000). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Changes published before waiting for their acknowledgements, in order (default 256). */
  window?: number;
  /** Changes read ahead of NATS; past this the bridge stops reading and resumes from the log later (default 10,000). */
  maxBuffered?: number;
  /** A pino logger; silent without one. */
  logger?: Logger;
}

/** Where the bridge stands with NATS. */
export type NatsBridgeStatus = 'connecting' | 'connected' | 'disconnected' | 'stopped';

/** What the bridge reports on `events$`. */
export type NatsBridgeEvent =
  | {
      readonly type: 'published';
      readonly subject: string;
      readonly position: string;
      readonly prevPosition: string;
      readonly change: RuleChange;
      /** JetStream already held this message id (a republish after a restart): it was not stored twice. */
      readonly duplicate: boolean;
      /** The stream sequence (JetStream), else null. */
      readonly streamSeq: number | null;
    }
  | { readonly type: 'status'; readonly status: NatsBridgeStatus; readonly detail?: string }
  | { readonly type: 'checkpoint'; readonly position: string }
  | { readonly type: 'error'; readonly error: RuleStoreError };

/** A running bridge: see {@link bridgeToNats}. */
export interface NatsBridge {
  readonly name: string;
  /** Everything the bridge does and every failure it retries; completes when it stops. */
  readonly events$: Observable<NatsBridgeEvent>;
  /** Current status, counters and positions. */
  state(): { status: NatsBridgeStatus; published: number; lastPublished: string; checkpoint: string; queued: number };
  /** Stops reading, stores the checkpoint of what was acknowledged, closes a connection it opened. */
  stop(): Promise<void>;
  /** Resolves when the bridge has stopped: null after `stop()`, the error if the store's stream ended under it. */
  readonly done: Promise<RuleStoreError | null>;
}

const positive = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new RuleStoreError('CONFIG_INVALID', `${name} must be a positive integer, got ${String(value)}`);
  return v;
};

/**
 * Publishes every change of the log on NATS, exactly once and in order, on its
 * per-rule subject (SPEC §8) with the seed's payloads plus `position`,
 * `prev_position` and the whole change (see `BusPayload`). It reads the log as
 * the durable named consumer `name` and stores the checkpoint after the server
 * acknowledged (batched); with JetStream (the default) each message carries its
 * position as message id, so a bridge restarted between publish and checkpoint
 * republishes without creating a duplicate on the stream. NATS down: the bridge
 * waits and retries with backoff; the store is untouched and nothing is skipped.
 * Resolves once the consumer is registered; NATS may still be connecting.
 *
 * @example
 * const bridge = await bridgeToNats(store, { nats: 'nats://127.0.0.1:4222' });
 * bridge.events$.subscribe((e) => e.type === 'published' && console.log(e.subject));
 * process.on('SIGTERM', () => void bridge.stop());
 */
export async function bridgeToNats(store: RuleStore, options: BridgeToNatsOptions): Promise<NatsBridge> {
  const name = options.name ?? 'ttp-bridge';
  const prefix = checkSubjectPrefix(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX);
  const jsSettings = options.jetstream === false ? null : { stream: DEFAULT_STREAM, duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS, ...(options.jetstream === true ? {} : options.jetstream) };
  if (jsSettings && !isValidStreamName(jsSettings.stream)) throw new RuleStoreError('CONFIG_INVALID', `invalid stream name ${JSON.stringify(jsSettings.stream)}: 1-64 of A-Z a-z 0-9 _ -`);
  const checkpointEvery = positive('checkpointEvery', options.checkpointEvery, 100);
  const checkpointIntervalMs = positive('checkpointIntervalMs', options.checkpointIntervalMs, 1000);
  const timeout = positive('publishTimeoutMs', options.publishTimeoutMs, 5000);
  const retryMinMs = positive('retryMinMs', options.retryMinMs, 100);
  const retryMaxMs = positive('retryMaxMs', options.retryMaxMs, 5000);
  const maxBuffered = positive('maxBuffered', options.maxBuffered, 10_000);
  const window = positive('window', options.window, 256);
  const log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'bridge:nats', bridge: name });

  const consumer = await store.consumer(name, { startAt: options.startAt ?? 'head' });
  const start = BigInt((await consumer.position()) ?? store.position());
  const events = new Subject<NatsBridgeEvent>();
  let status: NatsBridgeStatus = 'connecting';
  let stopping = false;
  let prev = start; // the last position acknowledged by NATS
  let published = 0;
  const queue: RuleChange[] = [];
  let lastQueued = start;
  let source: Subscription | null = null;
  let paused = false;
  let wake: (() => void) | null = null;
  let stopSignal: () => void = () => {};
  const stopped = new Promise<null>((resolve) => (stopSignal = () => resolve(null)));
  let resolveDone: (value: RuleStoreError | null) => void = () => {};
  const done = new Promise<RuleStoreError | null>((resolve) => (resolveDone = resolve));

  const setStatus = (next: NatsBridgeStatus, detail?: string): void => {
    if (status === next || (status === 'stopped' && next !== 'stopped')) return;
    status = next;
    events.next(detail === undefined ? { type: 'status', status } : { type: 'status', status, detail });
  };
  const report = (error: RuleStoreError): void => events.next({ type: 'error', error });
  const kick = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };

  const checkpoints = createCheckpointer({
    consumer,
    start,
    every: checkpointEvery,
    intervalMs: checkpointIntervalMs,
    logger: log,
    onSaved: (position) => events.next({ type: 'checkpoint', position: position.toString() }),
    onError: report,
  });

  const link = createNatsLink({
    target: options.nats,
    name: `ttp-rules-bridge:${name}`,
    logger: log,
    area: 'bridge:nats',
    retryMinMs,
    retryMaxMs,
    onUp: () => {
      setStatus('connected');
      kick();
    },
    onDown: (reason) => setStatus('disconnected', reason),
  });

  // Reading the log: bounded read-ahead. Past maxBuffered the subscription is
  // dropped and later resumed from the last queued position (the log is the buffer).
  const readLog = (): void => {
    if (source || stopping) return;
    paused = false;
    const subscription = store.changesSince(lastQueued).subscribe({
      next: (change) => {
        if (paused) return;
        queue.push(change);
        lastQueued = BigInt(change.position);
        kick();
        if (queue.length >= maxBuffered) {
          paused = true;
          source?.unsubscribe();
          source = null;
          log.debug({ event: 'bridge:nats:read-paused', queued: queue.length }, 'read-ahead full; pausing the log read');
        }
      },
      error: (error: unknown) => fail(RuleStoreError.is(error) ? error : new RuleStoreError('FEED_ERROR', `the change stream failed: ${String(error)}`, { cause: error })),
      complete: () => fail(new RuleStoreError('STORE_CLOSED', 'the rule store closed under the bridge')),
    });
    if (paused) subscription.unsubscribe();
    else source = subscription;
  };

  const sleep = (ms: number): Promise<unknown> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), stopped]).finally(() => clearTimeout(timer));
  };

  const publisher = createPublisher({ prefix, jetstream: jsSettings, timeoutMs: timeout, stopped, logger: log });

  // One batch at a time, in log order; a failed batch is published again from
  // its first unacknowledged change, after a backoff, until NATS takes it.
  const run = async (): Promise<void> => {
    const backoff = createBackoff({ minMs: retryMinMs, maxMs: retryMaxMs });
    while (!stopping) {
      while (queue.length > 0 && BigInt(queue[0]!.position) <= prev) queue.shift();
      if (queue.length === 0) {
        if (paused && !source) readLog();
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const nc = link.current ?? (await Promise.race([link.ready().catch(() => null), stopped]));
      if (!nc || stopping) return;
      const result = await publisher.publish(nc, queue.slice(0, window), prev);
      for (const ack of result.acknowledged) {
        queue.shift();
        prev = ack.position;
        published++;
        events.next({ type: 'published', subject: ack.subject, position: ack.change.position, prevPosition: ack.prevPosition.toString(), change: ack.change, duplicate: ack.duplicate, streamSeq: ack.streamSeq });
        checkpoints.acknowledge(ack.position);
      }
      if (paused && !source && queue.length <= maxBuffered / 2) readLog();
      if (result.aborted) return;
      if (result.error) {
        const delay = backoff.next();
        const attempt = backoff.attempts;
        const position = queue[0]?.position;
        log.warn({ event: 'bridge:nats:publish-retry', err: result.error, position, attempt, retryMs: delay }, 'publish failed; retrying');
        report(new RuleStoreError('FEED_ERROR', `publishing position ${position} failed (attempt ${attempt}, retrying): ${(result.error as Error).message}`, { cause: result.error }));
        await sleep(delay);
      } else {
        backoff.reset();
      }
    }
  };

  let running: Promise<void> = Promise.resolve();
  const shutdown = async (error: RuleStoreError | null): Promise<void> => {
    if (stopping) return done.then(() => {});
    stopping = true;
    stopSignal();
    source?.unsubscribe();
    source = null;
    kick();
    await running;
    checkpoints.close();
    await checkpoints.flush();
    await link.close();
    if (error) report(error);
    log.info({ event: 'bridge:nats:stop', published, checkpoint: checkpoints.saved.toString(), error: error?.code }, 'bridge stopped');
    setStatus('stopped', error?.message);
    events.complete();
    resolveDone(error);
  };
  const fail = (error: RuleStoreError): void => {
    log.error({ event: 'bridge:nats:failed', err: error }, 'the bridge lost its change stream');
    void shutdown(error);
  };

  log.info({ event: 'bridge:nats:start', from: start.toString(), prefix, jetstream: jsSettings?.stream ?? false }, 'bridge starting');
  readLog();
  running = run().catch((error: unknown) => fail(new RuleStoreError('FEED_ERROR', `the bridge failed: ${String(error)}`, { cause: error })));

  return {
    name,
    events$: events.asObservable(),
    state: () => ({ status, published, lastPublished: prev.toString(), checkpoint: checkpoints.saved.toString(), queued: queue.length }),
    stop: () => shutdown(null),
    done,
  };
}
