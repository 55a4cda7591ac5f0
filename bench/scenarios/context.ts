import postgres from 'postgres';
import pgListen from 'pg-listen';
import { createArrivals, type LatencyProbe } from '../support/latency.js';
import type { Writer } from '../support/writerClient.js';

type CreateSubscriber = typeof import('pg-listen').default;
// pg-listen is CommonJS with `exports.default` (see src/feed/listenFeed.ts).
const createSubscriber: CreateSubscriber =
  (pgListen as unknown as { default?: CreateSubscriber }).default ?? (pgListen as unknown as CreateSubscriber);

/** (c) A bare insert's commit time: issue -> commit acknowledged, no trigger, no listener. */
export function commitProbe(writer: Writer): LatencyProbe {
  return {
    id: 'commit',
    label: 'context: bare insert, issue -> commit acknowledged',
    async setup() {},
    async sample(seq) {
      const { t0, t1 } = await writer.call('commit', { seq });
      return { ms: t1 - t0, ackMs: t1 - t0 };
    },
    async teardown() {},
  };
}

/**
 * (c) Raw `pg_notify` delivery: the writer child runs `SELECT pg_notify(...)` on
 * its connection, a LISTEN on another connection here hears it. `client` picks
 * the listener: postgres.js `sql.listen` (what the floor uses) or pg-listen
 * (what the store's listen feed uses), so a gap between the two is visible.
 */
export function notifyProbe(url: string, writer: Writer, client: 'postgres.js' | 'pg-listen'): LatencyProbe {
  const arrivals = createArrivals(`notify (${client})`);
  let close: (() => Promise<void>) | null = null;
  return {
    id: client === 'postgres.js' ? 'notify' : 'notifyPgListen',
    label: `context: raw pg_notify delivery to a ${client} LISTEN`,
    async setup() {
      if (client === 'postgres.js') {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        await sql.listen('bench_raw', (payload) => arrivals.arrive(Number(payload)));
        close = () => sql.end({ timeout: 5 });
      } else {
        const sub = createSubscriber({ connectionString: url }, { paranoidChecking: false, parse: (p: string) => p, serialize: (p: unknown) => String(p) });
        sub.notifications.on('bench_raw', (payload: unknown) => arrivals.arrive(Number(payload)));
        await sub.connect();
        await sub.listenTo('bench_raw');
        close = () => sub.close();
      }
    },
    async sample(seq) {
      const arrived = arrivals.expect(seq);
      const { t0, t1 } = await writer.call('notify', { seq });
      return { ms: (await arrived) - t0, ackMs: t1 - t0 };
    },
    async teardown() {
      await close?.();
      close = null;
    },
  };
}
