import { Observable } from 'rxjs';
import { pino, type Logger } from 'pino';
import type { NatsConnection } from 'nats';
import { createBackoff } from '../domain/backoff.js';
import { RuleStoreError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { createNatsLink, type NatsTarget } from './natsLink.js';
import type { BusMessage } from './payloads.js';
import { DEFAULT_SUBJECT_PREFIX, checkSubjectPrefix } from './subjects.js';
import { subscribeBus } from './busSubscription.js';
import { planDrain, type PendingBusMessage } from './gapDecision.js';
import { acquireSource, type BusEngineSource, type RuleLogSource } from './ruleLogSource.js';
import { createCommitBuffer, createRuleIndex, type CommitBuffer, type RuleIndex } from '../engine/ruleIndex.js';
import type { WatchRulesOptions } from '../engine/watchRules.js';

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

/**
 * Like `watchRules`, but fed by the NATS bridge (`bridgeToNats`) instead of a
 * database connection: the snapshot comes from the database once, every later
 * change from `<prefix>.>` with the same index semantics (`applyChangesToIndex`).
 * Each message carries `prev_position`: a message whose predecessor the engine
 * has not seen (a lost message, a restart, a reconnect) or that it cannot use
 * makes it read the log (`readLog`, page by page) from its own position up to
 * that point, then return to the bus; older messages and duplicates are dropped
 * by position (the gap check). After every NATS reconnect it
 * catches up to the head, since messages sent while it was away are gone.
 * `source` is a {@link RuleLogSource} kept open (a `RuleStore`), or a factory
 * called for the snapshot and for each catch-up and closed right after, so a
 * worker holds no database connection in between (a store opened with
 * `transport: 'poll'` needs no LISTEN connection either). Rows of the log that do
 * not decode are reported as `error` events and skipped.
 *
 * @example
 * const open = () => openRuleStore({ url, transport: 'poll', revertExpired: false });
 * watchRulesFromNats(open, { nats: 'nats://127.0.0.1:4222' }).subscribe((index) => { current = index; });
 */
export function watchRulesFromNats(source: BusEngineSource, options: WatchRulesFromNatsOptions): Observable<RuleIndex> {
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
    /** Messages that arrived before this number were judged by a completed catch-up that read the log to its end. */
    let judgedBefore = 0;
    /** A catch-up is owed: up to the highest position a message pointed at, or (null) to the head. */
    let owed: { target: bigint | null } | null = null;
    let catching = false;
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
    /**
     * The position the engine holds: the last change pushed (the working index's
     * once flushed), or past it when a catch-up read further (holes, invalid rows).
     */
    let held = 0n;
    const push = (change: RuleChange): void => {
      if (!buffer || closed) return;
      const position = BigInt(change.position);
      if (position <= held) return;
      held = position;
      buffer.push(change);
    };
    const flush = (): void => {
      if (!buffer || closed) return;
      const next = buffer.flush();
      if (next) subscriber.next(next);
    };

    /** Owes a catch-up to `target` (null: the head); owed catch-ups merge into the furthest. */
    const owe = (target: bigint | null): void => {
      const merged = owed === null ? target : owed.target === null || target === null ? null : owed.target > target ? owed.target : target;
      owed = { target: merged };
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

    /**
     * One catch-up: pages of the log from the position held up to `target` (null:
     * the head), each applied as one batch. Returns whether it read to the end of
     * the log (a page to the head with nothing after it) rather than stopping at `target`.
     */
    const readOnce = async (target: bigint | null): Promise<boolean> => {
      const { source: logSource, release } = await acquireSource(source);
      try {
        let changes = 0;
        let ended = false;
        let upTo = target ?? undefined;
        while (!closed && buffer && (upTo === undefined || held < upTo)) {
          const after = held;
          const page = await logSource.readLog(after.toString(), upTo === undefined ? {} : { upTo: upTo.toString() });
          if (closed || !buffer) return false;
          applyAll(page.changes);
          changes += page.changes.length;
          for (const error of page.invalid) {
            log.warn({ event: 'engine:nats:invalid-row', err: error }, 'skipping an event of the log that does not decode');
            emit({ type: 'error', error });
          }
          // `through` counts holes and invalid events: the next page starts after it.
          const through = BigInt(page.through);
          if (through > held) held = through;
          if (upTo === undefined && (!page.more || through <= after)) {
            ended = true; // at the head
            break;
          }
          if (through <= after) {
            // Nothing read below the target: the events there were compacted away, or
            // the target is beyond the log. Reading on to the head tells which.
            upTo = undefined;
          }
        }
        const position = held.toString();
        log.info({ event: 'engine:nats:caught-up', position, target: target?.toString() ?? null, changes }, 'caught up from the database');
        emit({ type: 'caught-up', position, changes });
        return ended;
      } finally {
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
        emit({ type: 'catch-up', after: held.toString(), target: target === null ? null : target.toString() });
        const backoff = createBackoff({ minMs: retryMinMs, maxMs: retryMaxMs });
        while (!closed) {
          try {
            // A catch-up that read to the end of the log has seen everything the bridge
            // had published when it began: every message that arrived before is judged.
            if (await readOnce(target)) judgedBefore = startedAt;
            break;
          } catch (error) {
            if (closed) break;
            const mapped = RuleStoreError.is(error) ? error : new RuleStoreError('FEED_ERROR', `catching up from the database failed: ${String(error)}`, { cause: error });
            const delay = backoff.next();
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
        owe(null);
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
            if (buffer) owe(null);
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
        const { source: logSource, release } = await acquireSource(source);
        try {
          const snapshot = await logSource.snapshot();
          first = createRuleIndex(snapshot.position, snapshot.rules, predicate);
        } finally {
          await release();
        }
      }
      if (closed) return;
      buffer = createCommitBuffer(first, predicate);
      held = BigInt(first.position);
      subscriber.next(first);
      if (options.from || !liveBefore) owe(null);
      drain();
    };
    start().catch((error: unknown) => subscriber.error(error));

    return () => {
      closed = true;
      wakeSleep?.();
      busSubscription?.unsubscribe();
      void link.close();
    };
  });
}
