import type { CompiledRule, RuleChange, RuleSnapshot, RuleState } from '../../src/index.js';
import { DEFAULT_RULE_STATE } from '../../src/index.js';

/** What a consumer believes: rules by id (with state) — built from a snapshot plus changes. */
export interface View {
  rules: Map<string, CompiledRule>;
  states: Map<string, RuleState>;
}

export function viewFromSnapshot(snapshot: RuleSnapshot): View {
  const view: View = { rules: new Map(), states: new Map() };
  for (const rule of snapshot.rules) {
    view.rules.set(rule.ruleId, rule);
    view.states.set(rule.ruleId, rule.state);
  }
  return view;
}

export function applyChange(view: View, change: RuleChange): void {
  if (change.kind === 'definition') view.rules.set(change.ruleId, change.rule);
  else if (change.kind === 'deleted') view.rules.delete(change.ruleId);
  else view.states.set(change.ruleId, change.state);
}

/** A comparable form: rule definitions plus the state of every held rule. */
export function normalise(view: View): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, rule] of [...view.rules].sort(([a], [b]) => a.localeCompare(b))) {
    const { state: _ignored, ...definition } = rule;
    const state = view.states.get(id) ?? DEFAULT_RULE_STATE;
    out[id] = { definition, state: { ...state, expiresAt: state.expiresAt?.toISOString() ?? null, setAt: state.setAt?.toISOString() ?? null } };
  }
  return out;
}
