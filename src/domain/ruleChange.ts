import type { CompiledRule } from './compileRule.js';
import { RuleStoreError } from './errors.js';
import type { RuleState } from './ruleState.js';

interface ChangeBase {
  readonly ruleId: string;
  /** Position in the event log, a decimal string; compare with `BigInt`. */
  readonly position: string;
  /**
   * The transaction that made the change (a decimal string: the first position it
   * wrote): equal for every change of one transaction, increasing in commit order.
   */
  readonly commit: string;
  /** True on the last change of its transaction: an engine may publish what it holds. */
  readonly lastInCommit: boolean;
  /** Who made the change (`updated_by`, `set_by`, or the database role for hand edits). */
  readonly actor: string | null;
  /** When the change was committed to the log (database clock). */
  readonly at: Date;
}

/**
 * A rule was created or its definition changed. `rule` carries the state row in
 * force when it was written, as written (an `expiresAt` that has since passed
 * included: apply `isActive` / `applyCeiling`).
 */
export interface DefinitionChange extends ChangeBase {
  readonly kind: 'definition';
  readonly rule: CompiledRule;
}

/** A rule was deleted. */
export interface DeletedChange extends ChangeBase {
  readonly kind: 'deleted';
}

/**
 * A rule's operational state changed. `state` is the state as written, whenever
 * the change is read (live or replayed): a state whose `expiresAt` has passed still
 * arrives as set (engines apply `isActive` / `applyCeiling`, which treat it as the
 * default). A cleared state arrives as the default; the revert of an expired state
 * is its own change, the default with `expired: true`.
 */
export interface StateChange extends ChangeBase {
  readonly kind: 'state';
  readonly state: RuleState;
  readonly expired: boolean;
}

/** One change to one rule, as delivered by `changes$` and `changesSince`. */
export type RuleChange = DefinitionChange | DeletedChange | StateChange;

/** Compares two positions (decimal strings). */
export function comparePositions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The largest position the log can hand out: positions are Postgres `bigint` (int8) on both backends. */
export const MAX_POSITION = 9223372036854775807n;

/**
 * Parses a position argument (decimal string or bigint); throws `POSITION_INVALID`
 * for anything but an integer in [0, 2^63 - 1].
 */
export function checkPosition(position: string | bigint): bigint {
  let value: bigint;
  try {
    value = typeof position === 'bigint' ? position : BigInt(position);
    if (value < 0n) throw new Error('negative');
  } catch {
    throw new RuleStoreError('POSITION_INVALID', `position must be a non-negative integer (decimal string), got ${JSON.stringify(String(position)).slice(0, 64)}`);
  }
  if (value > MAX_POSITION) {
    throw new RuleStoreError('POSITION_INVALID', `position ${String(position).slice(0, 64)} is beyond the largest position a log can reach (${MAX_POSITION}, a 64-bit bigint)`);
  }
  return value;
}
