// The encoders only: the CLI loads this at start-up, so it imports no zod (the
// decoder, which does, is changeFromJson.ts).
import type { RuleChange } from './ruleChange.js';
import { RuleValidationError, type RuleStoreError } from './errors.js';

/**
 * A rule store error as JSON: code, message, and for rule problems the rule id,
 * position and issues. The one codec for errors on the wire (`watch --json`,
 * the HTTP API, the SSE stream).
 */
export function errorJson(error: RuleStoreError): Record<string, unknown> {
  if (error instanceof RuleValidationError) {
    return { code: error.code, message: error.message, ruleId: error.ruleId, position: error.position, issues: error.issues };
  }
  return { code: error.code, message: error.message };
}

/**
 * One change as JSON (SPEC §6 shape; `JSON.stringify` turns dates into ISO
 * strings). The one codec for changes on the wire: `watch --json` lines, the
 * `data:` of the SSE stream and the `change` of a NATS bus message; read back
 * with `changeFromJson` (changeFromJson.ts).
 *
 * @example JSON.stringify(changeJson(change)) // {"kind":"state","ruleId":…,"position":"42",…}
 */
export function changeJson(change: RuleChange): Record<string, unknown> {
  const base = { kind: change.kind, ruleId: change.ruleId, position: change.position, commit: change.commit, lastInCommit: change.lastInCommit, actor: change.actor, at: change.at };
  if (change.kind === 'definition') return { ...base, rule: change.rule };
  if (change.kind === 'state') return { ...base, state: change.state, expired: change.expired };
  return base;
}
