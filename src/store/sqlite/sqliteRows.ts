import type { LogEvent, RuleRow, StateRow } from '../../log/logEvent.js';

/**
 * Row decoding for SQLite. Column values and the JSON the triggers write into
 * the log use the same shapes (column names as keys, timestamps as ISO-8601 UTC
 * text with milliseconds), so one decoder serves both.
 */

type Json = Record<string, unknown>;

const date = (v: unknown): Date => new Date(String(v));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Decodes a `ttp_rule` row (a result row or the log's `rule_row` JSON). */
export function decodeRuleRow(r: Json): RuleRow {
  return {
    ruleId: String(r['rule_id']),
    ruleVersion: Number(r['rule_version']),
    sourcePath: String(r['source_path'] ?? ''),
    yamlContent: String(r['yaml_content']),
    updatedAt: date(r['updated_at']),
    updatedBy: String(r['updated_by'] ?? ''),
  };
}

/** Decodes a `ttp_rule_state` row (a result row or the log's `state_row` JSON). */
export function decodeStateRow(r: Json): StateRow {
  const cm = r['confidence_max'];
  return {
    ruleId: String(r['rule_id']),
    state: String(r['state']),
    confidenceMax: cm === null || cm === undefined ? null : Number(cm),
    expiresAt: dateOrNull(r['expires_at']),
    reason: strOrNull(r['reason']),
    setBy: strOrNull(r['set_by']),
    setAt: dateOrNull(r['set_at']),
  };
}

/** The columns every event query selects, in the shape {@link decodeEvent} reads. */
export const EVENT_COLUMNS = 'position, rule_id, entity, op, rule_row, state_row, actor, recorded_at';

/** Decodes a `ttp_rule_event` row; `position` must come back as a bigint (safeIntegers). */
export function decodeEvent(r: Json): LogEvent {
  const ruleRow = r['rule_row'];
  const stateRow = r['state_row'];
  return {
    position: BigInt(r['position'] as bigint),
    ruleId: String(r['rule_id']),
    entity: r['entity'] as 'rule' | 'state',
    op: r['op'] as 'upsert' | 'delete',
    rule: typeof ruleRow === 'string' ? decodeRuleRow(JSON.parse(ruleRow) as Json) : null,
    state: typeof stateRow === 'string' ? decodeStateRow(JSON.parse(stateRow) as Json) : null,
    actor: strOrNull(r['actor']),
    at: date(r['recorded_at']),
  };
}

/** A Date as the schema stores it (ISO-8601 UTC, milliseconds). */
export function encodeDate(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}
