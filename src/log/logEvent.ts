import { DEFAULT_MAX_RULE_BYTES, toCompiledRule, type CompiledRule } from '../domain/compileRule.js';
import { RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { DEFAULT_RULE_STATE, RULE_STATES, type RuleState, type RuleStateName } from '../domain/ruleState.js';
import { readCachedRuleDocument } from './ruleDocCache.js';

/** A `ttp_rule` row as the backends hand it over. */
export interface RuleRow {
  readonly ruleId: string;
  readonly ruleVersion: number;
  readonly sourcePath: string;
  readonly yamlContent: string;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

/** A `ttp_rule` row without its document (listings that never load rule bodies). */
export type RuleMetadataRow = Omit<RuleRow, 'yamlContent'>;

/** A {@link LogEvent} whose rule row was read without its document. */
export type MetadataEvent = Omit<LogEvent, 'rule'> & { readonly rule: RuleMetadataRow | null };

/** A `ttp_rule_state` row as the backends hand it over. */
export interface StateRow {
  readonly ruleId: string;
  readonly state: string;
  readonly confidenceMax: number | null;
  readonly expiresAt: Date | null;
  readonly reason: string | null;
  readonly setBy: string | null;
  readonly setAt: Date | null;
}

/**
 * One entry of the append-only event log. A rule upsert carries the rule row and
 * the state row in force when it was written (so the event is self-contained); a
 * state upsert carries the state row; deletions carry neither.
 */
export interface LogEvent {
  readonly position: bigint;
  readonly ruleId: string;
  readonly entity: 'rule' | 'state';
  readonly op: 'upsert' | 'delete';
  readonly rule: RuleRow | null;
  readonly state: StateRow | null;
  readonly actor: string | null;
  /**
   * The database login that made the change (Postgres `session_user`, recorded by
   * the log trigger; nobody but a superuser can choose it). Null on SQLite, which
   * has no logins, and on events written before migration 0005.
   */
  readonly loginRole: string | null;
  readonly at: Date;
  /**
   * The transaction that wrote the event, as the first position it wrote: equal
   * for every event of one transaction, increasing in commit order. Set by the
   * backend's `readEvents` (elsewhere it defaults to the event's own position).
   */
  commit: bigint;
  /** Whether no later event belongs to the same transaction (set by `readEvents`; true elsewhere). */
  lastInCommit: boolean;
  /**
   * Set by `readEvents` on a row larger than its `maxRuleBytes`: the size of its
   * rows in bytes, as the query measured it. `rule` and `state` are then null
   * (the row was not loaded) and the event decodes to `RULE_TOO_LARGE`.
   */
  oversized?: number;
}

/** The actor recorded on the conditional delete that reverts an expired state. */
export const EXPIRY_ACTOR = 'ttp-rules:expiry';

/** Converts a state row to a {@link RuleState}; the database's CHECK keeps `state` valid. */
export function stateFromRow(row: StateRow | null): RuleState {
  if (row === null) return DEFAULT_RULE_STATE;
  if (!(RULE_STATES as readonly string[]).includes(row.state)) {
    // Only reachable if someone dropped the CHECK constraint: refuse rather than guess.
    throw new RuleValidationError([{ path: 'state', message: `'${row.state}' is not one of ${RULE_STATES.join(', ')}` }], { ruleId: row.ruleId });
  }
  return Object.freeze({
    state: row.state as RuleStateName,
    confidenceMax: row.confidenceMax,
    expiresAt: row.expiresAt,
    reason: row.reason,
    setBy: row.setBy,
    setAt: row.setAt,
  });
}

/**
 * Compiles a stored rule row with the state in force; throws {@link RuleValidationError}.
 * The rule always comes from `yaml_content`, the text every listing shows (through
 * the per-process cache keyed by its digest), and the size limit applies to it.
 */
export function compileRow(row: RuleRow, state: RuleState, maxBytes?: number): CompiledRule {
  const options = { expectRuleId: row.ruleId, source: `ttp_rule[${row.ruleId}]`, ...(maxBytes ? { maxBytes } : {}) };
  return toCompiledRule(readCachedRuleDocument(row.yamlContent, options), state);
}

/**
 * Turns one log event into the {@link RuleChange} it stands for, or the error
 * that explains why the stored row cannot be used.
 *
 * Events are immutable (SPEC §10.4): the change at a position has the same content
 * however and whenever it is read. A state carries what was written, `expiresAt`
 * included, even once it has passed (engines apply `isActive` / `applyCeiling`,
 * which treat an expired state as the default); the revert is its own event. No
 * clock is read here, on purpose.
 */
export function decodeEvent(event: LogEvent, maxBytes?: number): RuleChange | RuleValidationError {
  // Plain literals, not spreads: this runs for every event a store reads, and an
  // object spread costs about fifty times more here (catch-up profiles showed it).
  const ruleId = event.ruleId;
  const position = event.position.toString();
  const actor = event.actor;
  const at = event.at;
  const commit = event.commit.toString();
  const lastInCommit = event.lastInCommit;
  if (event.oversized !== undefined) {
    const limit = maxBytes ?? DEFAULT_MAX_RULE_BYTES;
    return new RuleValidationError(
      [{ path: '', message: `the ${event.entity} row logged at position ${position} is ${event.oversized} bytes; the limit is ${limit} (maxRuleBytes): not loaded` }],
      { ruleId, source: event.entity === 'rule' ? `ttp_rule[${ruleId}]` : `ttp_rule_state[${ruleId}]`, position },
      { code: 'RULE_TOO_LARGE' },
    );
  }
  try {
    if (event.entity === 'rule') {
      if (event.op === 'delete' || event.rule === null) return Object.freeze({ kind: 'deleted' as const, ruleId, position, commit, lastInCommit, actor, at });
      const rule = compileRow(event.rule, stateFromRow(event.state), maxBytes);
      return Object.freeze({ kind: 'definition' as const, ruleId, position, commit, lastInCommit, actor, at, rule });
    }
    if (event.op === 'delete' || event.state === null) {
      return Object.freeze({ kind: 'state' as const, ruleId, position, commit, lastInCommit, actor, at, state: DEFAULT_RULE_STATE, expired: event.actor === EXPIRY_ACTOR });
    }
    return Object.freeze({ kind: 'state' as const, ruleId, position, commit, lastInCommit, actor, at, state: stateFromRow(event.state), expired: false });
  } catch (error) {
    if (error instanceof RuleValidationError) return error.at(position);
    throw error;
  }
}
