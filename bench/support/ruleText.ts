/** The rule every latency scenario edits (a single-topic id, SPEC §2). */
export const BENCH_RULE_ID = 'BENCH0001';

/** Event kinds the many-rule scenarios spread their rules over (an engine indexes rules by kind). */
export const BENCH_KINDS = ['auth_attempt', 'command', 'file_download', 'http_request', 'dns_query', 'process_start', 'network_flow', 'login'] as const;

/**
 * A realistic rule document (DECNET's R0001, about 450 bytes) at a given
 * `rule_version`: each edit changes the version, hence the content, so every
 * write is a real change that produces one event. `kind` is its `applies_to`.
 */
export function ruleText(version: number, ruleId: string = BENCH_RULE_ID, kind: string = 'auth_attempt'): string {
  return `rule_id: ${ruleId}
rule_version: ${version}
${RULE_BODY.replace('auth_attempt', kind)}`;
}

/** Everything after `rule_version` in {@link ruleText} (SQL generators splice it in). */
export const RULE_BODY = `name: generic_auth_brute
description: |
  Repeated failed auth across services/accounts. Cross-event;
  emitted by the CredentialLifter (E.3.13) — v0 RuleEngine cannot
  count.
applies_to:
  - auth_attempt
match:
  kind: lifter:credential_auth_brute_generic
  fail_threshold: 5
  window_minutes: 5
emits:
  - tactic: TA0006
    technique_id: T1110
    confidence: 0.85
evidence_fields:
  - fail_count
  - service
`;

/** The id of rule number `i` of a many-rule scenario (`prefix` keeps scenarios apart). */
export function manyRuleId(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(5, '0')}`;
}
