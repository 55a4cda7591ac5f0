import type { Logger } from 'pino';
import type { Feed } from './feed.js';

/** Options of {@link createPollFeed}. */
export interface PollFeedOptions {
  intervalMs: number;
  logger: Logger;
  /**
   * A cheap "did anything change?" probe (SQLite: `PRAGMA data_version`). When
   * given, the feed rings only when it returns true; otherwise every tick rings
   * and the reader's own query is the probe.
   */
  probe?: () => boolean;
}

/**
 * A feed that rings on a timer, for SQLite and for Postgres setups where LISTEN
 * cannot work (pgbouncer in transaction pooling, hot-standby replicas). The
 * store wakes its reader itself after its own writes.
 */
export function createPollFeed(options: PollFeedOptions): Feed {
  let timer: NodeJS.Timeout | null = null;
  const log = options.logger.child({ component: 'feed:poll' });
  return {
    transport: 'poll',
    reconnects: 0,
    async start(onDoorbell) {
      log.info({ event: 'feed:poll:start', intervalMs: options.intervalMs }, 'polling the event log');
      timer = setInterval(() => {
        try {
          if (!options.probe || options.probe()) onDoorbell('poll');
        } catch (error) {
          log.warn({ event: 'feed:poll:error', err: error }, 'poll probe failed');
          onDoorbell('poll');
        }
      }, options.intervalMs);
    },
    async close() {
      if (timer) clearInterval(timer);
    },
  };
}
