import pgListen from 'pg-listen';
import type { Logger } from 'pino';
import type { Feed } from './feed.js';
import { probeListen, type ListenProbeOptions } from './listenProbe.js';

/** Options of {@link createListenFeed}. */
export interface ListenFeedOptions {
  /** A URL resolved by `resolvePostgresConnection` (user filled in), the same the query pools use. */
  url: string;
  channel: string;
  /** Interval of the missed-doorbell check and of the listener's health check (ms). */
  safetyCheckMs: number;
  logger: Logger;
  /** At start, prove that a NOTIFY from another session arrives (see {@link probeListen}); failing that, start throws `CONFIG_INVALID`. */
  probe?: ListenProbeOptions;
}

type CreateSubscriber = typeof import('pg-listen').default;
// pg-listen is CommonJS with `exports.default`: Node hands ESM the whole exports object.
const createSubscriber: CreateSubscriber =
  (pgListen as unknown as { default?: CreateSubscriber }).default ?? (pgListen as unknown as CreateSubscriber);

/** Reconnect backoff: 100 ms doubling to 1 s, forever (a worker back within a second of its database). */
const backoff = (attempt: number): number => Math.min(100 * 2 ** Math.max(0, attempt), 1000);

/**
 * A feed that rings on Postgres NOTIFY, through one pg-listen connection.
 *
 * pg-listen's defaults would let the feed die: it gives up reconnecting after 3 s
 * (`retryTimeout`), so we disable the timeout and retry forever with backoff; it has
 * no "reconnected" event, so every `connected` rings (the reader then catches up
 * from its watermark); and it turns an unparsable payload into an `error`, so the
 * payload is never parsed (it is only a doorbell). Should pg-listen still report an
 * error (a LISTEN that failed after a reconnect leaves a live connection that hears
 * nothing), the subscriber is thrown away and a new one made. A timer at
 * `safetyCheckMs` rings anyway, to cover a doorbell lost in a way nobody noticed.
 */
export function createListenFeed(options: ListenFeedOptions): Feed {
  const log = options.logger.child({ component: 'feed:listen' });
  let subscriber: ReturnType<CreateSubscriber> | null = null;
  let safety: NodeJS.Timeout | null = null;
  let closed = false;
  let ring: (reason: string) => void = () => {};
  let replacing = false;
  let connects = 0;

  const connect = async (): Promise<void> => {
    const sub = createSubscriber(
      {
        connectionString: options.url,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        query_timeout: 15_000,
        application_name: 'ttp-rule-store:listen',
      },
      {
        retryTimeout: 0,
        retryLimit: Number.POSITIVE_INFINITY,
        retryInterval: backoff,
        paranoidChecking: options.safetyCheckMs,
        parse: (payload: string) => payload,
        serialize: (payload: unknown) => String(payload),
      },
    );
    sub.events.on('notification', (n) => {
      if (n.channel === options.channel) ring('notify');
    });
    sub.events.on('connected', () => {
      connects++;
      log.info({ event: 'feed:listen:connected' }, 'listening');
      ring('connected');
    });
    sub.events.on('reconnect', (attempt) => log.warn({ event: 'feed:listen:reconnect', attempt }, 'listener reconnecting'));
    sub.events.on('error', (error) => {
      log.warn({ event: 'feed:listen:error', err: error }, 'listener error; replacing the listener');
      void replace();
    });
    subscriber = sub;
    await sub.connect();
    await sub.listenTo(options.channel);
  };

  const replace = async (): Promise<void> => {
    if (replacing || closed) return;
    replacing = true;
    const old = subscriber;
    subscriber = null;
    await old?.close().catch(() => {});
    for (let attempt = 0; !closed; attempt++) {
      try {
        await connect();
        break;
      } catch (error) {
        log.warn({ event: 'feed:listen:retry', attempt, err: error }, 'listener could not connect; retrying');
        const failed = subscriber as ReturnType<CreateSubscriber> | null;
        subscriber = null;
        await failed?.close().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
      }
    }
    replacing = false;
    ring('connected');
  };

  return {
    transport: 'listen',
    get reconnects() {
      return Math.max(0, connects - 1);
    },
    async start(onDoorbell) {
      ring = (reason) => {
        if (!closed) onDoorbell(reason);
      };
      try {
        await connect();
        if (options.probe && subscriber) await probeListen(subscriber, options.probe);
      } catch (error) {
        await subscriber?.close().catch(() => {});
        throw error;
      }
      safety = setInterval(() => ring('safety'), options.safetyCheckMs);
      safety.unref();
    },
    async close() {
      closed = true;
      if (safety) clearInterval(safety);
      await subscriber?.close().catch(() => {});
    },
  };
}
