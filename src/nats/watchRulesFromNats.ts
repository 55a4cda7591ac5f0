import { Observable } from 'rxjs';
import { pino, type Logger } from 'pino';
import type { NatsConnection } from 'nats';
import { RuleStoreError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import type { RuleStore } from '../store/ruleStore.js';
import { createNatsLink, type NatsTarget } from './natsLink.js';
import type { BusMessage } from './payloads.js';
import { DEFAULT_SUBJECT_PREFIX, checkSubjectPrefix } from './subjects.js';
import { subscribeBus } from './busSubscription.js';
import { planDrain, type PendingBusMessage } from './gapDecision.js';
import { readLogUntil, type LogRead } from '../engine/readLogUntil.js';
import { createCommitBuffer, createRuleIndex, type CommitBuffer, type RuleIndex } from '../engine/ruleIndex.js';
import type { WatchRulesOptions } from '../engine/watchRules.js';

/**
 * The database side of a bus-fed engine: a store kept open (used as is), or a
 * function that opens one, used for the snapshot and for each catch-up and closed
 * right after, so the worker holds no database connection in between.
 */
export type RuleStoreSource = RuleStore | (() => Promise<RuleStore>);

/** What a bus-fed engine reports through `onEvent`. */
export type BusEngineEvent =
  | { readonly type: 'connected' | 'disconnected' }
  /** Reading the log: after a gap (`target`: the position the bus pointed at) or a (re)connect (`target` null). */
  | { readonly type: 'catch-up'; readonly after: string; readonly target: string | null }
  | { readonly type: 'caught-up'; readonly position: string; readonly changes: number }
  | { readonly type: 'error'; readonly error: RuleStoreError };

/** Options of {@link watchRulesFromNats}. */
export interface WatchRulesFromNatsOptions extends WatchRulesOptions {
  /** `nats://host:port` (or several, or `ConnectionOptions`), or a connection you own (shared by many engines). */
  nats: NatsTarget;
  /** The bridge's subject prefix (default `ttp.rule`). */
  subjectPrefix?: string;
  /** A pino logger; silent without one. */
  logger?: Logger;
  /** Called on connection changes, catch-ups and retried failures. */
  onEvent?: (event: BusEngineEvent) => void;
  /** Bus messages held while reading the database; past this they are dropped and re-read from the log (default 10,000). */
  maxPending?: number;
  /** Backoff of a failed catch-up and of connection attempts, ms (default 100 doubling to 5000). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

const acquire = async (source: RuleStoreSource): Promise<{ store: RuleStore; release: () => Promise<void> }> => {
  if (typeof source !== 'function') return { store: source, release: async () => {} };
  const store = await source();
  return { store, release: () => store.close() };
};

/**
 * Like `watchRules`, but fed by the NATS bridge (`bridgeToNats`) instead of a
 * database connection: the snapshot comes from the database once, every later
 * change from `<prefix>.>` with the same index semantics (`applyToIndex`). Each
 * message carries `prev_position`: a message whose predecessor the engine has not
 * seen (a lost message, a restart, a reconnect) or that it cannot use makes it
 * read the log from its own position with `changesSince` up to that point, then
 * return to the bus; older messages and duplicates are dropped by position. After
 * every NATS reconnect it catches up to the head, since messages sent while it was
 * away are gone. Pass a store factory to hold no database connection between
 * catch-ups (a swarm worker); a store opened with `transport: 'poll'` needs no
 * LISTEN connection.
 *
 * @example
 * const open = () => openRuleStore({ url, transport: 'poll', revertExpired: false });
 * watchRulesFromNats(open, { nats: 'nats://127.0.0.1:4222' }).subscribe((index) => { current = index; });
 */
export function watchRulesFromNats(source: RuleStoreSource, options: WatchRulesFromNatsOptions): Observable<RuleIndex> {
  const predicate = options.predicate ?? (() => true);
  const prefix = checkSubjectPrefix(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX);
  const maxPending = options.maxPending ?? 10_000;
  const retryMinMs = options.retryMinMs ?? 100;
  const retryMaxMs = options.retryMaxMs ?? 5000;
  const baseLog = (options.logger ?? pino({ level: 'silent' })).child({ component: 'engine:nats' });
  return new Observable<RuleIndex>((subscriber) => {
    const log = baseLog;
    const emit = (event: BusEngineEvent): void => options.onEvent?.(event);
    /**
     * What the engine holds: `working` has every change applied (it may stand in
     * the middle of a transaction, and positions chain from it); `published` is
     * the last index emitted, always at the end of a transaction.
     */
    let buffer: CommitBuffer | null = null;
    let closed = false;
    /** Bus messages not applied yet, with their arrival number. */
    let pending: PendingBusMessage[] = [];
    let arrivals = 0;
    /** Messages that arrived before this number were judged by a completed catch-up. */
    let judgedBefore = 0;
    /** A catch-up is owed; with the highest position a message pointed at. */
    let owed: { target: bigint } | null = null;
    let catching = false;
    let read: LogRead | null = null;
    let wakeSleep: (() => void) | null = null;
    let subscribedOn: NatsConnection | null = null;
    let busSubscription: { unsubscribe(): void } | null = null;
    let live = false;
    let resolveLive: () => void = () => {};
    const firstLive = new Promise<void>((resolve) => (resolveLive = resolve));

    /**
     * Applies changes (in position order) as one batch: one copy of the maps, and a
     * new index only when a transaction ends (`lastInCommit`), as in `watchRules`.
     */
    const applyAll = (changes: readonly RuleChange[]): void => {
      for (const change of changes) push(change);
      flush();
    };
    /** The position of the last change pushed (the working index's once flushed). */
    let held = 0n;
    let flushQueued = false;
    const push = (change: RuleChange): void => {
      if (!buffer || closed) return;
      const position = BigInt(change.position);
      if (position <= held) return;
      held = position;
      buffer.push(change);
    };
    const flush = (): void => {
      flushQueued = false;
      if (!buffer || closed) return;
      const next = buffer.flush();
      if (next) subscriber.next(next);
    };
    /** A catch-up hands over its changes one by one, a page per tick: one flush per page. */
    const apply = (change: RuleChange): void => {
      push(change);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    };

    const owe = (target: bigint): void => {
      owed = { target: owed && owed.target > target ? owed.target : target };
      void catchUp();
    };

    /** Applies what the bus delivered while the chain of positions is unbroken (see `planDrain`). */
    const drain = (): void => {
      if (!buffer || catching || closed || pending.length === 0) return;
      const plan = planDrain(held, pending, judgedBefore);
      pending.splice(0, plan.consumed);
      for (const { message, held: head } of plan.beyondLog) {
        log.warn({ event: 'engine:nats:bogus-message', position: message.position.toString(), head: head.toString() }, 'dropping a bus message beyond the log');
        emit({ type: 'error', error: new RuleStoreError('FEED_ERROR', `dropped a bus message at position ${message.position}: it is beyond the log (${head}); only the bridge should publish on ${prefix}.>`) });
      }
      applyAll(plan.apply); // before a catch-up too: it starts from what we hold
      if (plan.gap) {
        log.warn({ event: 'engine:nats:gap', after: plan.position.toString(), position: plan.gap.message.position.toString(), reason: plan.gap.reason }, 'gap on the bus; reading the database');
        owe(plan.gap.target);
      }
    };

    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        wakeSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });

    /** One catch-up: from the index's position to the store's head, then back to the bus. */
    const readOnce = async (target: bigint): Promise<void> => {
      const { store, release } = await acquire(source);
      try {
        // A store kept open may not have read as far as the bus yet: give it a moment.
        if (typeof source !== 'function' && BigInt(store.position()) < target) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([store.waitForPosition(target), new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]).finally(() => clearTimeout(timer));
        }
        if (closed || !buffer) return;
        read = readLogUntil(store, held, apply);
        const { changes, head } = await read.done;
        flush();
        const position = held.toString();
        log.info({ event: 'engine:nats:caught-up', position, head: head.toString(), changes }, 'caught up from the database');
        emit({ type: 'caught-up', position, changes });
      } finally {
        read = null;
        await release();
      }
    };

    /** Reads the log until no catch-up is owed, retrying failures with backoff. */
    const catchUp = async (): Promise<void> => {
      if (catching || !buffer || closed) return;
      catching = true;
      while (owed && !closed) {
        const { target } = owed;
        owed = null;
        const startedAt = arrivals + 1;
        emit({ type: 'catch-up', after: held.toString(), target: target > 0n ? target.toString() : null });
        for (let delay = retryMinMs; !closed; delay = Math.min(delay * 2, retryMaxMs)) {
          try {
            await readOnce(target);
            judgedBefore = startedAt;
            break;
          } catch (error) {
            if (closed) break;
            const mapped = RuleStoreError.is(error) ? error : new RuleStoreError('FEED_ERROR', `catching up from the database failed: ${String(error)}`, { cause: error });
            log.warn({ event: 'engine:nats:catch-up-retry', err: mapped, retryMs: delay }, 'catching up failed; retrying');
            emit({ type: 'error', error: mapped });
            await sleep(delay);
          }
        }
      }
      catching = false;
      drain();
    };

    let drainQueued = false;
    const onMessage = (message: BusMessage | null, subject: string): void => {
      if (closed) return;
      if (!message) {
        log.warn({ event: 'engine:nats:bad-message', subject }, 'ignoring a bus message without positions');
        return;
      }
      pending.push({ ...message, arrival: ++arrivals });
      if (pending.length > maxPending) {
        // Too far behind: forget the messages; the log has them.
        pending = [];
        owe(0n);
        return;
      }
      // Drain once per burst: messages handed over in the same tick are applied together.
      if (!drainQueued) {
        drainQueued = true;
        queueMicrotask(() => {
          drainQueued = false;
          drain();
        });
      }
    };

    const link = createNatsLink({
      target: options.nats,
      name: 'ttp-rules-engine',
      logger: log,
      area: 'engine:nats',
      retryMinMs,
      retryMaxMs,
      onDown: () => emit({ type: 'disconnected' }),
      onUp: (nc) => {
        emit({ type: 'connected' });
        if (subscribedOn !== nc) {
          busSubscription?.unsubscribe();
          busSubscription = subscribeBus(nc, prefix, onMessage);
          subscribedOn = nc;
        }
        // Once the server has our subscription, what we missed is on the database.
        nc.flush()
          .then(() => {
            live = true;
            resolveLive();
            if (buffer) owe(0n);
          })
          .catch(() => {});
      },
    });

    const start = async (): Promise<void> => {
      // Give NATS a moment, so the subscription is live before the snapshot and no catch-up is needed.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([firstLive, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
      if (closed) return;
      const liveBefore = live;
      let first: RuleIndex;
      if (options.from) {
        first = options.from;
      } else {
        const { store, release } = await acquire(source);
        try {
          const snapshot = await store.snapshot();
          first = createRuleIndex(snapshot.position, snapshot.rules, predicate);
        } finally {
          await release();
        }
      }
      if (closed) return;
      buffer = createCommitBuffer(first, predicate);
      held = BigInt(first.position);
      subscriber.next(first);
      if (options.from || !liveBefore) owe(0n);
      drain();
    };
    start().catch((error: unknown) => subscriber.error(error));

    return () => {
      closed = true;
      read?.cancel();
      wakeSleep?.();
      busSubscription?.unsubscribe();
      void link.close();
    };
  });
}
