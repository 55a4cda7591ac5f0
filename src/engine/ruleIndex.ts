import { deepFreeze, withState, type CompiledRule } from '../domain/compileRule.js';
import type { RuleState } from '../domain/ruleState.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { byRuleId } from '../domain/ruleSchema.js';

/**
 * An immutable set of rules as an engine dispatches them: by id and by the event
 * kind they apply to. Every change produces a new index; an index never changes
 * after it is handed out, so a dispatcher can swap it atomically.
 */
export interface RuleIndex {
  /** The log position this index reflects (decimal string). */
  readonly position: string;
  readonly byId: ReadonlyMap<string, CompiledRule>;
  /** Rules per `applies_to` kind, sorted by rule id. */
  readonly byKind: ReadonlyMap<string, readonly CompiledRule[]>;
}

/** Which rules an engine holds (default: all). */
export type RulePredicate = (rule: CompiledRule) => boolean;

function freezeIndex(position: string, byId: Map<string, CompiledRule>, byKind: Map<string, readonly CompiledRule[]>): RuleIndex {
  return Object.freeze({ position, byId, byKind });
}

/** Builds an index from a snapshot's rules, keeping those that pass `predicate`. */
export function createRuleIndex(position: string, rules: readonly CompiledRule[], predicate: RulePredicate = () => true): RuleIndex {
  const byId = new Map<string, CompiledRule>();
  const kinds = new Map<string, CompiledRule[]>();
  for (const rule of rules) {
    if (!predicate(rule)) continue;
    byId.set(rule.ruleId, rule);
    for (const kind of rule.appliesTo) {
      const list = kinds.get(kind) ?? [];
      list.push(rule);
      kinds.set(kind, list);
    }
  }
  const byKind = new Map<string, readonly CompiledRule[]>();
  for (const [kind, list] of kinds) byKind.set(kind, Object.freeze(list.sort(byRuleId)));
  return freezeIndex(position, byId, byKind);
}

/**
 * Applies one change and returns the next index (or the same maps when the change
 * does not concern it), with the seed's `RuleIndex` semantics: a definition swaps
 * the rule (or evicts it when it no longer passes the predicate), a state change
 * restamps a held rule and is ignored otherwise, a deletion evicts.
 */
export function applyToIndex(index: RuleIndex, change: RuleChange, predicate: RulePredicate = () => true): RuleIndex {
  return applyChangesToIndex(index, [change], predicate);
}

/**
 * Applies changes in order and returns one new index: the maps are copied once
 * for the whole batch and only the kinds a touched rule was or is in are rebuilt,
 * so a burst costs one copy, not one per change.
 */
export function applyChangesToIndex(index: RuleIndex, changes: readonly RuleChange[], predicate: RulePredicate = () => true): RuleIndex {
  const last = changes.at(-1);
  if (!last) return index;
  let byId: Map<string, CompiledRule> | null = null; // copied on the first change that concerns us
  const touched = new Set<string>();
  for (const change of changes) {
    const current = byId ?? index.byId;
    const held = current.get(change.ruleId);
    let next: CompiledRule | undefined;
    if (change.kind === 'definition') {
      // The definition carries the state in force at its position (the log is commit-ordered).
      next = predicate(change.rule) ? change.rule : undefined;
    } else if (change.kind === 'state') {
      if (!held) continue;
      next = withState(held, change.state);
    }
    if (!held && !next) continue;
    byId ??= new Map(index.byId);
    touched.add(change.ruleId);
    if (next) byId.set(change.ruleId, next);
    else byId.delete(change.ruleId);
  }
  if (!byId) return freezeIndex(last.position, index.byId as Map<string, CompiledRule>, index.byKind as Map<string, readonly CompiledRule[]>);

  const kinds = new Set<string>();
  for (const id of touched) {
    for (const kind of index.byId.get(id)?.appliesTo ?? []) kinds.add(kind);
    for (const kind of byId.get(id)?.appliesTo ?? []) kinds.add(kind);
  }
  const byKind = new Map(index.byKind);
  for (const kind of kinds) {
    const list = (index.byKind.get(kind) ?? []).filter((r) => !touched.has(r.ruleId));
    for (const id of touched) {
      const rule = byId.get(id);
      if (rule?.appliesTo.includes(kind)) list.push(rule);
    }
    list.sort(byRuleId);
    if (list.length > 0) byKind.set(kind, Object.freeze(list));
    else byKind.delete(kind);
  }
  return freezeIndex(last.position, byId, byKind);
}

/**
 * Holds changes until their transaction ends: {@link RuleIndex}es are published
 * only at commit ends (a change with `lastInCommit`), so an engine never runs with
 * half a transaction. `push` changes in position order, then `flush` (once per
 * burst): every change is applied to a working index at once (memory: one index
 * and one burst, however large the transaction); the working index is returned
 * for publishing when the last change pushed that ends a transaction has been
 * applied, and the part of the burst after it stays held.
 */
export interface CommitBuffer {
  /** The index with every change applied so far (possibly mid-transaction). */
  readonly working: RuleIndex;
  /** The last index published (at a commit end). */
  readonly published: RuleIndex;
  push(change: RuleChange): void;
  /** Applies what was pushed; returns the new index to publish, or null (nothing ended, or nothing held changed). */
  flush(): RuleIndex | null;
}

/** Creates a {@link CommitBuffer} over `index` (which must be at a commit end). */
export function createCommitBuffer(index: RuleIndex, predicate: RulePredicate = () => true): CommitBuffer {
  let working = index;
  let published = index;
  let pending: RuleChange[] = [];
  return {
    get working() {
      return working;
    },
    get published() {
      return published;
    },
    push(change) {
      pending.push(change);
    },
    flush() {
      const batch = pending;
      pending = [];
      let end = -1;
      for (let i = batch.length - 1; i >= 0; i--) {
        if (batch[i]!.lastInCommit) {
          end = i;
          break;
        }
      }
      if (end < 0) {
        working = applyChangesToIndex(working, batch, predicate);
        return null;
      }
      working = applyChangesToIndex(working, end === batch.length - 1 ? batch : batch.slice(0, end + 1), predicate);
      const concerned = working.byId !== published.byId;
      published = working;
      if (end < batch.length - 1) working = applyChangesToIndex(working, batch.slice(end + 1), predicate);
      return concerned ? published : null;
    },
  };
}

/** The JSON form of an index, for an engine that wants a warm restart from its last position. */
export interface RuleIndexJson {
  readonly position: string;
  readonly rules: readonly unknown[];
}

/** Serialises an index (dates as ISO strings); restore it with {@link ruleIndexFromJson}. */
export function ruleIndexToJson(index: RuleIndex): RuleIndexJson {
  return { position: index.position, rules: [...index.byId.values()] };
}

const reviveDate = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(String(v)));

/**
 * Restores an index saved with {@link ruleIndexToJson} (for example parsed from a
 * file); pass it to `watchRules(store, { from })` to resume after its position.
 */
export function ruleIndexFromJson(json: RuleIndexJson, predicate: RulePredicate = () => true): RuleIndex {
  const rules = json.rules.map((raw) => {
    const rule = raw as CompiledRule & { state: Record<string, unknown> };
    const state: RuleState = { ...(rule.state as unknown as RuleState), expiresAt: reviveDate(rule.state['expiresAt']), setAt: reviveDate(rule.state['setAt']) };
    return deepFreeze({ ...rule, state });
  });
  return createRuleIndex(String(json.position), rules, predicate);
}
