import type { CompiledRule } from '../domain/compileRule.js';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import { ruleIdProblem } from '../domain/ruleSchema.js';
import { DEFAULT_RULE_STATE, isExpired } from '../domain/ruleState.js';
import { EXPIRY_ACTOR, compileRow, stateFromRow, type RuleRow } from '../log/logEvent.js';
import type { Backend } from './backend.js';
import type { ExpiryScheduler } from './expiryScheduler.js';
import { readRows } from './readPast.js';
import { readRule, readRuleMetadata, ruleListing, tryCompileRow } from './readRule.js';
import type { RuleSnapshot, RuleStore, SnapshotOptions } from './ruleStore.js';
import { checkRuleId } from './writeInputs.js';

/** What {@link createStoreReads} reads through. */
export interface StoreReadsContext {
  readonly backend: Backend;
  /** Rule documents larger than this (bytes) do not compile. */
  readonly maxRuleBytes: number;
  /** Throws `STORE_CLOSED` once the store is closed. */
  ensureOpen(): void;
  /** Reverts a state found expired on read. */
  readonly expiry: Pick<ExpiryScheduler, 'revertNow'>;
  /** Emits on `errors$` (and counts for `stats()`). */
  reportError(error: RuleStoreError): void;
}

/** The read half of the store API: snapshots, listings, one rule, its state, the history. */
export type StoreReads = Pick<RuleStore, 'loadCompiled' | 'snapshot' | 'listRules' | 'getRule' | 'listRuleMetadata' | 'history' | 'getState'>;

/** How far back to look for the last good version of a rule whose current row is bad. */
const LAST_GOOD_LOOKBACK = 50;

/**
 * The store's reads over one backend. A row that does not compile is reported;
 * `snapshot` (and so `loadCompiled`) keeps its last good version in force, as a
 * stream consumer does.
 *
 * @example const reads = createStoreReads({ backend, maxRuleBytes, ensureOpen, expiry, reportError });
 */
export function createStoreReads(context: StoreReadsContext): StoreReads {
  const { backend, maxRuleBytes, ensureOpen, expiry, reportError } = context;

  /** The last version of a rule that compiles, from the log (used when the current row is bad). */
  const lastGood = async (ruleId: string, upTo: bigint): Promise<RuleRow | null> => {
    const events = await backend.readHistory(ruleId, LAST_GOOD_LOOKBACK, upTo);
    for (const event of events) {
      if (event.entity !== 'rule') continue;
      if (event.op === 'delete' || !event.rule) return null;
      try {
        compileRow(event.rule, DEFAULT_RULE_STATE, maxRuleBytes);
        return event.rule;
      } catch {
        // keep looking further back
      }
    }
    return null;
  };

  const snapshot = async (options: SnapshotOptions = {}): Promise<RuleSnapshot> => {
    ensureOpen();
    const rows = await readRows(backend, options.at);
    const rules: CompiledRule[] = [];
    const bad: RuleValidationError[] = [];
    for (const row of rows.rules) {
      const state = rows.stateOf(row.ruleId);
      const compiled = tryCompileRow(row, state, maxRuleBytes);
      if (!(compiled instanceof RuleValidationError)) {
        rules.push(compiled);
        continue;
      }
      bad.push(compiled);
      // The last good version stays in force, as it does for a stream consumer.
      const good = await lastGood(row.ruleId, rows.position);
      if (good) rules.push(compileRow(good, state, maxRuleBytes));
    }
    return Object.freeze({ position: rows.position.toString(), rules: Object.freeze(rules), errors: Object.freeze(bad) });
  };

  return {
    async loadCompiled(options = {}) {
      const snap = await snapshot();
      if (snap.errors.length > 0) {
        if (options.strict) throw snap.errors[0]!;
        for (const error of snap.errors) reportError(error);
      }
      return [...snap.rules];
    },

    snapshot,

    async listRules(options = {}) {
      ensureOpen();
      const rows = await readRows(backend, options.at);
      return rows.rules.map((row) => {
        const compiled = tryCompileRow(row, DEFAULT_RULE_STATE, maxRuleBytes);
        return ruleListing(row, rows.stateOf(row.ruleId), compiled instanceof RuleValidationError ? compiled : null);
      });
    },

    async getRule(ruleId, options = {}) {
      ensureOpen();
      return readRule(backend, ruleId, options.at, maxRuleBytes);
    },

    async listRuleMetadata(options = {}) {
      ensureOpen();
      return readRuleMetadata(backend, options.at);
    },

    async history(options = {}) {
      ensureOpen();
      if (options.ruleId !== undefined) checkRuleId(options.ruleId);
      const limit = options.limit ?? 50;
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RuleStoreError('CONFIG_INVALID', `history limit must be a positive integer, got ${String(limit)}`);
      const events = await backend.readHistory(options.ruleId ?? null, limit);
      return events.map((e) => {
        const kind = e.entity === 'state' ? 'state' : e.op === 'delete' ? 'deleted' : 'definition';
        return Object.freeze({
          position: e.position.toString(),
          at: e.at,
          actor: e.actor,
          loginRole: e.loginRole,
          ruleId: e.ruleId,
          kind,
          ruleVersion: e.rule?.ruleVersion ?? null,
          state: kind === 'state' ? stateFromRow(e.state) : null,
          expired: kind === 'state' && e.op === 'delete' && e.actor === EXPIRY_ACTOR,
        } as const);
      });
    },

    async getState(ruleId) {
      ensureOpen();
      // An id that can never be stored has the default state, like any unknown rule.
      if (ruleIdProblem(ruleId) !== null) return DEFAULT_RULE_STATE;
      const row = await backend.readState(ruleId);
      const state = stateFromRow(row);
      if (isExpired(state)) {
        // An expired state is the default, whatever the revert does: revert it now
        // (written once, whoever gets here first); a revert that fails is reported
        // and retried, and none is tried on a read-only database (a hot standby).
        await expiry.revertNow(ruleId);
        return DEFAULT_RULE_STATE;
      }
      return state;
    },
  };
}
