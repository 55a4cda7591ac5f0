import { RuleStoreError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { isValidRuleId } from '../domain/ruleSchema.js';

/** The subject prefix of DECNET's bus (SPEC §8): `ttp.rule.reloaded.<id>`, `ttp.rule.state.<id>`. */
export const DEFAULT_SUBJECT_PREFIX = 'ttp.rule';

/** The per-rule subject kinds: `reloaded` (definitions and deletions) and `state`. */
export type BusSubjectKind = 'reloaded' | 'state';

const TOKEN = /^[^.*>\s\p{Cc}]+$/u;

/**
 * Checks a subject prefix (one or more dot-separated tokens, no wildcards) and
 * returns it; throws `CONFIG_INVALID` otherwise.
 */
export function checkSubjectPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || prefix === '' || !prefix.split('.').every((token) => TOKEN.test(token))) {
    throw new RuleStoreError('CONFIG_INVALID', `subject prefix must be dot-separated tokens without wildcards or whitespace, got ${JSON.stringify(String(prefix).slice(0, 80))}`);
  }
  return prefix;
}

/**
 * The subject a change is published on: `<prefix>.reloaded.<rule_id>` for
 * definitions and deletions, `<prefix>.state.<rule_id>` for state changes. Rule
 * ids are one subject token by construction (SPEC §2), so no escaping is needed.
 *
 * @example subjectFor(change) // 'ttp.rule.state.EX001_ssh_bruteforce'
 */
export function subjectFor(change: RuleChange, prefix: string = DEFAULT_SUBJECT_PREFIX): string {
  return `${prefix}.${change.kind === 'state' ? 'state' : 'reloaded'}.${change.ruleId}`;
}

/** The wildcard that matches every per-rule subject under `prefix` (`ttp.rule.>`). */
export function wildcardFor(prefix: string = DEFAULT_SUBJECT_PREFIX): string {
  return `${prefix}.>`;
}

/** Splits a per-rule subject under `prefix`; null when it is not one. */
export function parseSubject(subject: string, prefix: string = DEFAULT_SUBJECT_PREFIX): { kind: BusSubjectKind; ruleId: string } | null {
  if (!subject.startsWith(`${prefix}.`)) return null;
  const rest = subject.slice(prefix.length + 1);
  const dot = rest.indexOf('.');
  if (dot < 0) return null;
  const kind = rest.slice(0, dot);
  const ruleId = rest.slice(dot + 1);
  if ((kind !== 'reloaded' && kind !== 'state') || !isValidRuleId(ruleId)) return null;
  return { kind, ruleId };
}
