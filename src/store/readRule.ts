import type { CompiledRule } from '../domain/compileRule.js';
import { RuleValidationError } from '../domain/errors.js';
import { ruleIdProblem } from '../domain/ruleSchema.js';
import type { RuleState } from '../domain/ruleState.js';
import { compileRow, type RuleMetadataRow, type RuleRow, type StateRow } from '../log/logEvent.js';
import type { Backend } from './backend.js';
import { readMetadataAt, readRowsAt, stateInForce, type PastPoint } from './readPast.js';
import type { GetRuleResult, RuleListing, RuleMetadata } from './ruleStore.js';

/** A rule row's metadata with the state in force (nothing parsed). */
const metadataOf = (row: RuleMetadataRow, state: RuleState): RuleMetadata =>
  Object.freeze({ ruleId: row.ruleId, ruleVersion: row.ruleVersion, sourcePath: row.sourcePath, updatedAt: row.updatedAt, updatedBy: row.updatedBy, state });

/** A rule row as `listRules` lists it; `error` is why its document does not compile (null if it does). */
export function ruleListing(row: RuleRow, state: RuleState, error: RuleValidationError | null): RuleListing {
  return Object.freeze({ ...metadataOf(row, state), yamlContent: row.yamlContent, error });
}

/** Compiles a row, returning a validation failure instead of throwing it. */
export function tryCompileRow(row: RuleRow, state: RuleState, maxRuleBytes: number): CompiledRule | RuleValidationError {
  try {
    return compileRow(row, state, maxRuleBytes);
  } catch (error) {
    if (error instanceof RuleValidationError) return error;
    throw error;
  }
}

/**
 * One stored rule now (one row and its state, one statement) or at a past point
 * (the log folded for this rule only), compiled; null when it is not stored.
 */
export async function readRule(backend: Backend, ruleId: string, at: PastPoint | undefined, maxRuleBytes: number): Promise<GetRuleResult | null> {
  // An id that can never be stored is not stored: no query.
  if (typeof ruleId !== 'string' || ruleIdProblem(ruleId) !== null) return null;
  let rule: RuleRow | undefined;
  let stateRow: StateRow | null;
  let asOf: Date;
  if (at === undefined) {
    const found = await backend.readRule(ruleId);
    if (!found) return null;
    ({ rule, state: stateRow } = found);
    asOf = new Date();
  } else {
    const past = await readRowsAt(backend, at, ruleId);
    rule = past.rules[0];
    if (!rule) return null;
    stateRow = past.states[0] ?? null;
    asOf = past.asOf;
  }
  const state = stateInForce(stateRow, asOf);
  const compiled = tryCompileRow(rule, state, maxRuleBytes);
  const error = compiled instanceof RuleValidationError ? compiled : null;
  return Object.freeze({ ...ruleListing(rule, state, error), rule: compiled instanceof RuleValidationError ? null : compiled });
}

/**
 * Every stored rule row's metadata with its state, now or at `at`, sorted by id; no
 * YAML is parsed, and no rule body leaves the database: now, one consistent read
 * (`readMetadataSnapshot`); at `at`, the log folded as `listRules` does, from
 * events read without their documents (`readLatestMetadataEvents`).
 */
export async function readRuleMetadata(backend: Backend, at: PastPoint | undefined): Promise<RuleMetadata[]> {
  const rows = at === undefined ? { ...(await backend.readMetadataSnapshot()), asOf: new Date() } : await readMetadataAt(backend, at);
  const states = new Map(rows.states.map((s) => [s.ruleId, s]));
  return rows.rules.map((row) => metadataOf(row, stateInForce(states.get(row.ruleId) ?? null, rows.asOf)));
}
