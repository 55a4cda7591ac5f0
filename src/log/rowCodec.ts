import type { LogEvent, MetadataEvent, RuleMetadataRow, RuleRow, StateRow } from './logEvent.js';

/**
 * Row decoding shared by the backends. Table rows and the JSON the triggers
 * write into the log use the same shape (column names as keys); timestamps come
 * as Date objects (postgres.js columns) or ISO-8601 text (JSON, SQLite); the
 * log's row columns as objects (Postgres jsonb) or JSON text (SQLite).
 */

type Json = Record<string, unknown>;

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = (v: unknown): Json | null => (v === null || v === undefined ? null : typeof v === 'string' ? (JSON.parse(v) as Json) : (v as Json));

/** Decodes a `ttp_rule` row read without `yaml_content` (see {@link RuleMetadataRow}). */
export function decodeRuleMetadataRow(r: Json): RuleMetadataRow {
  // Not decodeRuleRow minus a field: that one runs for every event read, where a
  // spread or a delete costs many times the literal.
  return { ruleId: String(r['rule_id']), ruleVersion: Number(r['rule_version']), sourcePath: String(r['source_path'] ?? ''), updatedAt: date(r['updated_at']), updatedBy: String(r['updated_by'] ?? '') };
}

/** Decodes a `ttp_rule` row (a result row or the log's `rule_row`). */
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

/** Decodes a `ttp_rule_state` row (a result row or the log's `state_row`). */
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

/** Decodes a `ttp_rule_event` row; `position` may be a bigint or a decimal string. */
export function decodeEventRow(r: Json): LogEvent {
  const rule = json(r['rule_row']);
  const state = json(r['state_row']);
  const position = BigInt(r['position'] as bigint | string);
  const commit = r['commit_position'];
  return {
    position,
    ruleId: String(r['rule_id']),
    entity: r['entity'] as 'rule' | 'state',
    op: r['op'] as 'upsert' | 'delete',
    rule: rule ? decodeRuleRow(rule) : null,
    state: state ? decodeStateRow(state) : null,
    actor: strOrNull(r['actor']),
    loginRole: strOrNull(r['login_role']),
    at: date(r['recorded_at']),
    commit: commit === null || commit === undefined ? position : BigInt(commit as bigint | string),
    lastInCommit: true,
  };
}

/** Decodes an event row whose `rule_row` was selected without `yaml_content`. */
export function decodeMetadataEventRow(r: Json): MetadataEvent {
  const rule = json(r['rule_row']);
  return { ...decodeEventRow({ ...r, rule_row: null }), rule: rule ? decodeRuleMetadataRow(rule) : null };
}

/** Dates inside decoded rows, for callers that need the helpers. */
export { date as decodeDate };
