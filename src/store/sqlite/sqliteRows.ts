
/**
 * SQLite's side of the row codec: the decoders are shared with Postgres
 * (`src/log/rowCodec.ts`); SQLite stores timestamps as ISO-8601 UTC text with
 * milliseconds and the log's rows as JSON text.
 */
export { decodeEventRow as decodeEvent, decodeMetadataEventRow, decodeRuleMetadataRow, decodeRuleRow, decodeStateRow } from '../../log/rowCodec.js';

/** The columns every event query selects, in the shape {@link decodeEvent} reads. */
export const EVENT_COLUMNS = 'position, rule_id, entity, op, rule_row, state_row, actor, recorded_at';

/** A Date as the schema stores it (ISO-8601 UTC, milliseconds). */
export function encodeDate(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}
