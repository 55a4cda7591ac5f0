import type { ConnectionOptions, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { createBackoff } from '../domain/backoff.js';

/** Where to find NATS: server URL(s), connection options, or a connection the caller owns. */
export type NatsTarget = string | readonly string[] | ConnectionOptions | NatsConnection;

/** Options of {@link createNatsLink}. */
export interface NatsLinkOptions {
  target: NatsTarget;
  /** Client name shown by the server's monitoring. */
  name: string;
  logger: Logger;
  /** Log event prefix, e.g. `bridge:nats`. */
  area: string;
  /** A connection is up: the first one, a new one after a close, or the same one after a reconnect. */
  onUp?: (nc: NatsConnection, how: 'connect' | 'reconnect') => void;
  /** The connection is down (messages published to it now are lost or buffered). */
  onDown?: (reason: string) => void;
  /** Backoff bounds for (re)connecting a connection the link owns (default 100 ms to 5 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** A NATS connection that is kept up: see {@link createNatsLink}. */
export interface NatsLink {
  /** The connection when it is up, else null. */
  readonly current: NatsConnection | null;
  /** Resolves with the connection once it is up; rejects once the link is closed. */
  ready(): Promise<NatsConnection>;
  /** Drains and closes a connection the link opened; leaves a caller's connection alone. */
  close(): Promise<void>;
}

function isConnection(target: NatsTarget): target is NatsConnection {
  return typeof target === 'object' && target !== null && typeof (target as NatsConnection).publish === 'function' && typeof (target as NatsConnection).status === 'function';
}

/**
 * Keeps a NATS connection up. A connection the caller passes is used as is (its
 * reconnect policy is the caller's). Otherwise the link connects itself, retrying
 * with backoff while the server is unreachable, lets the client reconnect forever
 * once connected, and starts over should the client still give up. Failures are
 * logged, never thrown: NATS being down is a state, not an error.
 */
export function createNatsLink(options: NatsLinkOptions): NatsLink {
  const log = options.logger;
  const owned = !isConnection(options.target);
  const minMs = options.retryMinMs ?? 100;
  const maxMs = options.retryMaxMs ?? 5000;
  let current: NatsConnection | null = null;
  /** The connection being watched, up or reconnecting. */
  let connection: NatsConnection | null = null;
  let statusIterator: { stop(): void } | null = null;
  let closed = false;
  let waiters: { resolve: (nc: NatsConnection) => void; reject: (error: Error) => void }[] = [];
  let retryTimer: NodeJS.Timeout | null = null;
  let wakeRetry: (() => void) | null = null;

  const up = (nc: NatsConnection, how: 'connect' | 'reconnect'): void => {
    current = nc;
    log.info({ event: `${options.area}:connected`, how, server: nc.getServer() }, 'NATS connected');
    for (const waiter of waiters.splice(0)) waiter.resolve(nc);
    options.onUp?.(nc, how);
  };
  const down = (reason: string): void => {
    if (current === null) return;
    current = null;
    log.warn({ event: `${options.area}:disconnected`, reason }, 'NATS connection lost');
    options.onDown?.(reason);
  };

  const watch = (nc: NatsConnection): void => {
    connection = nc;
    const statuses = nc.status();
    statusIterator = statuses as unknown as { stop(): void };
    void (async () => {
      for await (const status of statuses) {
        if (status.type === 'disconnect') down(`disconnected from ${String(status.data)}`);
        else if (status.type === 'reconnect') up(nc, 'reconnect');
        else if (status.type === 'error') log.warn({ event: `${options.area}:server-error`, data: String(status.data) }, 'NATS reported an error');
      }
    })().catch(() => {});
    void nc.closed().then((error) => {
      down(error ? `closed: ${error.message}` : 'closed');
      if (owned && !closed) {
        log.warn({ event: `${options.area}:closed`, err: error }, 'NATS connection closed; connecting again');
        void connectLoop();
      }
    });
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wakeRetry = resolve;
      retryTimer = setTimeout(() => {
        retryTimer = null;
        wakeRetry = null;
        resolve();
      }, ms);
    });

  const connectLoop = async (): Promise<void> => {
    const { connect } = await import('nats');
    const target = options.target as Exclude<NatsTarget, NatsConnection>;
    const base: ConnectionOptions = typeof target === 'string' || Array.isArray(target) ? { servers: target as string | string[] } : { ...(target as ConnectionOptions) };
    const backoff = createBackoff({ minMs, maxMs });
    for (let attempt = 1; !closed; attempt++) {
      try {
        const nc = await connect({ name: options.name, maxReconnectAttempts: -1, reconnectTimeWait: 250, reconnectJitter: 100, pingInterval: 10_000, ...base, waitOnFirstConnect: false });
        if (closed) {
          await nc.close().catch(() => {});
          return;
        }
        watch(nc);
        up(nc, 'connect');
        return;
      } catch (error) {
        const delay = backoff.next();
        if (attempt === 1 || attempt % 20 === 0) log.warn({ event: `${options.area}:connect-retry`, err: error, attempt, retryMs: delay }, 'NATS unreachable; retrying');
        await sleep(delay);
      }
    }
  };

  if (owned) {
    void connectLoop();
  } else {
    const nc = options.target as NatsConnection;
    watch(nc);
    if (!nc.isClosed()) queueMicrotask(() => up(nc, 'connect'));
  }

  return {
    get current() {
      return current;
    },
    ready() {
      if (closed) return Promise.reject(new Error('the NATS link is closed'));
      if (current) return Promise.resolve(current);
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      wakeRetry?.();
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('the NATS link is closed'));
      waiters = [];
      const nc = connection;
      const wasUp = current !== null;
      current = null;
      statusIterator?.stop();
      if (owned && nc && !nc.isClosed()) {
        // Drain (flush what is buffered) only when connected; a bounded wait either way.
        const done = wasUp ? nc.drain() : nc.close();
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
        await Promise.race([done.catch(() => {}), timeout]);
        if (!nc.isClosed()) await nc.close().catch(() => {});
      }
    },
  };
}
