import type { RuleChange } from '../domain/ruleChange.js';
import type { BusMessage } from './payloads.js';

/** A bus message held by an engine, numbered in order of arrival (from 1). */
export interface PendingBusMessage extends BusMessage {
  readonly arrival: number;
}

/** What a bus-fed engine does with the first message it holds. */
export type BusDecision =
  /** It chains on what the engine holds (`prevPosition` at or below it): apply its change. */
  | { readonly action: 'apply' }
  /** At or below what the engine holds: a duplicate, or older than its snapshot. */
  | { readonly action: 'drop-old' }
  /**
   * Still ahead after a catch-up that began after it arrived, and that catch-up read
   * the log to its head: the bridge cannot be ahead of the log, so it came from
   * someone else.
   */
  | { readonly action: 'drop-beyond-log' }
  /**
   * A gap: a missed predecessor, or a message without a usable change. Read the log
   * up to `target` (the predecessor; the message itself when its change is
   * unusable), holding the message, which is judged again afterwards.
   */
  | { readonly action: 'catch-up'; readonly target: bigint; readonly reason: string };

/**
 * The gap check of a bus-fed engine, for one message: `held` is the position the
 * engine's index holds (every change up to it applied), `judgedBefore` the arrival
 * number before which every message was seen by a completed catch-up (0: none).
 * Pure: no I/O, no state.
 *
 * @example decideBusMessage(41n, { position: 42n, prevPosition: 41n, change, problem: null, arrival: 7 }, 0) // { action: 'apply' }
 */
export function decideBusMessage(held: bigint, message: PendingBusMessage, judgedBefore: number): BusDecision {
  if (message.position <= held) return { action: 'drop-old' };
  if (message.change && message.prevPosition <= held) return { action: 'apply' };
  if (message.arrival < judgedBefore) return { action: 'drop-beyond-log' };
  if (message.change) return { action: 'catch-up', target: message.prevPosition, reason: `missed ${message.prevPosition} before ${message.position}` };
  return { action: 'catch-up', target: message.position, reason: message.problem ?? 'unusable message' };
}

/** What {@link planDrain} decided for the messages an engine holds. */
export interface DrainPlan {
  /** The changes to apply, in order (messages that chain from `held`). */
  readonly apply: readonly RuleChange[];
  /** The position held once `apply` is applied. */
  readonly position: bigint;
  /** How many messages from the front of the queue are done with (applied or dropped). */
  readonly consumed: number;
  /** Messages dropped as beyond the log (to be reported), with the position held then; duplicates and old ones are dropped silently. */
  readonly beyondLog: readonly { readonly message: PendingBusMessage; readonly held: bigint }[];
  /** The gap that stopped the drain, if any: the message stays held (it is not in `consumed`). */
  readonly gap: { readonly message: PendingBusMessage; readonly target: bigint; readonly reason: string } | null;
}

/**
 * Walks the held messages (in arrival order) with {@link decideBusMessage},
 * advancing the position over each change that chains, until the queue is empty
 * or a gap is found. Messages that chain are applied together: a burst on the bus
 * costs one copy of the index, not one per message. Pure.
 *
 * @example
 * const plan = planDrain(held, pending, judgedBefore);
 * pending.splice(0, plan.consumed);
 * applyAll(plan.apply);
 * if (plan.gap) catchUpTo(plan.gap.target);
 */
export function planDrain(held: bigint, pending: readonly PendingBusMessage[], judgedBefore: number): DrainPlan {
  const apply: RuleChange[] = [];
  const beyondLog: { message: PendingBusMessage; held: bigint }[] = [];
  let position = held;
  let consumed = 0;
  for (const message of pending) {
    const decision = decideBusMessage(position, message, judgedBefore);
    if (decision.action === 'catch-up') return { apply, position, consumed, beyondLog, gap: { message, target: decision.target, reason: decision.reason } };
    consumed++;
    if (decision.action === 'apply' && message.change) {
      apply.push(message.change);
      position = message.position;
    } else if (decision.action === 'drop-beyond-log') {
      beyondLog.push({ message, held: position });
    }
  }
  return { apply, position, consumed, beyondLog, gap: null };
}
