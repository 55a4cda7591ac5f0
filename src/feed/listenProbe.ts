import { randomBytes } from 'node:crypto';
import type { Subscriber } from 'pg-listen';
import { RuleStoreError } from '../domain/errors.js';


/** Options of {@link probeListen}. */
export interface ListenProbeOptions {
  /** Sends `pg_notify(channel, …)` from another session (the store's query pool). */
  notify: (channel: string) => Promise<void>;
  /** How long to wait for the NOTIFY to arrive (ms). */
  timeoutMs: number;
}

/**
 * Proves, at open, that LISTEN works through this URL: the listener subscribes
 * to a private channel and the query pool notifies it; the NOTIFY must arrive
 * within `timeoutMs`. Behind a transaction pooler (pgbouncer `pool_mode =
 * transaction`, most cloud proxies) the LISTEN runs on a server connection the
 * pooler hands to other clients at once, so notifications from other sessions
 * never reach us: the store would hear changes only on the 30 s safety check.
 * Nothing in the protocol names the pooler, so the round trip is the test of
 * what the feed needs (a NOTIFY sent on the listener's own connection would pass
 * by mistake: through the pooler it may reach the very server holding the LISTEN).
 *
 * @throws RuleStoreError `CONFIG_INVALID`, saying to use `transport: 'poll'`.
 */
export async function probeListen(subscriber: Subscriber, options: ListenProbeOptions): Promise<void> {
  const channel = `ttp_rule_probe_${randomBytes(6).toString('hex')}`;
  const advice =
    "use transport: 'poll' (CLI: --transport poll) through a transaction pooler such as pgbouncer or on a hot standby, or give transport 'listen' a direct (or session-pooled) URL";
  let heard = false;
  let wake: () => void = () => {};
  const arrived = new Promise<void>((resolve) => (wake = resolve));
  const onNotify = (): void => {
    heard = true;
    wake();
  };
  subscriber.notifications.on(channel, onNotify);
  let timer: NodeJS.Timeout | undefined;
  try {
    await subscriber.listenTo(channel);
    const started = Date.now();
    // Sent again every 500 ms until heard: one lost to a passing fault is not a verdict.
    while (!heard && Date.now() - started < options.timeoutMs) {
      try {
        await options.notify(channel);
      } catch (error) {
        throw new RuleStoreError('CONFIG_INVALID', `transport 'listen' cannot work here: NOTIFY failed (${(error as Error).message}); ${advice}`, { cause: error });
      }
      await Promise.race([arrived, new Promise((resolve) => (timer = setTimeout(resolve, Math.min(500, options.timeoutMs))))]);
      clearTimeout(timer);
    }
    if (!heard) {
      throw new RuleStoreError(
        'CONFIG_INVALID',
        `transport 'listen' cannot work through this connection: a NOTIFY from another session did not arrive within ${options.timeoutMs} ms (a transaction pooler or proxy in between?); ${advice}`,
      );
    }
  } finally {
    clearTimeout(timer);
    subscriber.notifications.removeListener(channel, onNotify);
    await subscriber.unlisten(channel)?.catch(() => {});
  }
}
