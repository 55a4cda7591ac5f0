/** The rule every latency scenario edits (a single-topic id, SPEC §2). */
export const BENCH_RULE_ID = 'BENCH0001';

/**
 * A realistic rule document (DECNET's R0001, about 450 bytes) at a given
 * `rule_version`: each edit changes the version, hence the content, so every
 * write is a real change that produces one event.
 */
export function ruleText(version: number, ruleId: string = BENCH_RULE_ID): string {
  return `rule_id: ${ruleId}
rule_version: ${version}
name: generic_auth_brute
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
}
