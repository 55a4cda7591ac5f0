import { compileRule, type CompiledRule } from '../domain/compileRule.js';
import { errorJson } from '../domain/changeJson.js';
import type { RuleState } from '../domain/ruleState.js';
import type { HistoryEntry, RuleListing } from '../store/ruleStore.js';

/** A state in the DECNET wire shape (snake_case, ISO dates). */
export function stateJson(ruleId: string, state: RuleState): Record<string, unknown> {
  return {
    rule_id: ruleId,
    state: state.state,
    confidence_max: state.confidenceMax,
    expires_at: state.expiresAt?.toISOString() ?? null,
    reason: state.reason,
    set_by: state.setBy,
    set_at: state.setAt?.toISOString() ?? null,
  };
}

/**
 * One row of `GET /api/v1/ttp/rules`: the DECNET fields (`rule_id`,
 * `rule_version`, `name`, `description`, `state`, `confidence_max`,
 * `expires_at`, `reason`, `set_by`, `set_at`) plus `applies_to`, who stored the
 * rule and when, and `error` for a stored row that does not compile.
 * A `GetRuleResult` is used as compiled.
 */
export function ruleRowJson(listing: RuleListing & { readonly rule?: CompiledRule | null }): Record<string, unknown> {
  let name: string | null = null;
  let description: string | null = null;
  let appliesTo: readonly string[] = [];
  if (listing.error === null) {
    // A listing that comes compiled (getRule's) saves the second compile.
    const rule = listing.rule ?? compileRule(listing.yamlContent, listing.state, { expectRuleId: listing.ruleId });
    ({ name, description, appliesTo } = rule);
  }
  return {
    ...stateJson(listing.ruleId, listing.state),
    rule_version: listing.ruleVersion,
    name,
    description,
    applies_to: appliesTo,
    source_path: listing.sourcePath,
    updated_at: listing.updatedAt.toISOString(),
    updated_by: listing.updatedBy,
    error: listing.error ? errorJson(listing.error) : null,
  };
}

/** One entry of `GET /api/v1/ttp/rules/{rule_id}/history`. */
export function historyEntryJson(entry: HistoryEntry): Record<string, unknown> {
  return {
    position: entry.position,
    at: entry.at.toISOString(),
    actor: entry.actor,
    rule_id: entry.ruleId,
    kind: entry.kind,
    rule_version: entry.ruleVersion,
    state: entry.state ? stateJson(entry.ruleId, entry.state) : null,
    expired: entry.expired,
  };
}
