/** The rule every latency scenario edits (a single-topic id, SPEC §2). */
export const BENCH_RULE_ID = 'BENCH0001';

/** Event kinds the many-rule scenarios spread their rules over (an engine indexes rules by kind). */
export const BENCH_KINDS = ['auth_attempt', 'command', 'file_download', 'http_request', 'dns_query', 'process_start', 'network_flow', 'login'] as const;

/**
 * A realistic rule document (shaped like the test corpus's R0001,
 * test/fixtures/rules/, about 450 bytes) at a given `rule_version`: each edit
 * changes the version, hence the content, so every write is a real change that
 * produces one event. `kind` is its `applies_to`.
 */
export function ruleText(version: number, ruleId: string = BENCH_RULE_ID, kind: string = 'auth_attempt'): string {
  return `rule_id: ${ruleId}
rule_version: ${version}
${RULE_BODY.replace('auth_attempt', kind)}`;
}

/** Everything after `rule_version` in {@link ruleText} (SQL generators splice it in). */
export const RULE_BODY = `name: ssh_password_spray
description: |
  One source tries a few passwords against many accounts on
  the SSH/Telnet listeners; distinct accounts are counted.
applies_to:
  - auth_attempt
match:
  kind: lifter:credential_spray
  distinct_accounts: 8
  window_minutes: 10
emits:
  - tactic: TA0006
    technique_id: T1110
    sub_technique_id: T1110.003
    confidence: 0.8
evidence_fields:
  - src_ip
  - distinct_accounts
`;

/** The id of rule number `i` of a many-rule scenario (`prefix` keeps scenarios apart). */
export function manyRuleId(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(5, '0')}`;
}
