/**
 * Bounds on the free-text inputs of the write API, checked before any SQL so
 * that a bad value is an input error (`STATE_INVALID` / `RULE_INVALID`) naming
 * the field, never a driver error. Both backends store text without a length
 * limit, but every value here ends up in the event log, in every change pushed
 * to every engine and in every bus message: the caps keep one careless caller
 * from multiplying a megabyte by all of them. Lengths are JavaScript string
 * lengths (UTF-16 code units). Postgres cannot store U+0000 in text at all, so
 * it is refused on both backends alike.
 */
export const INPUT_LIMITS = Object.freeze({
  /** `setBy` of setState/clearState and `updatedBy` of the rule writes: who made the change. */
  actorLength: 256,
  /** `reason` of setState. */
  reasonLength: 4096,
  /** `sourcePath` of upsertRule/upsertRules and `pruneUnder` (Linux PATH_MAX). */
  sourcePathLength: 4096,
  /** The latest `expiresAt`: the last millisecond of year 9999 (SQLite stores ISO-8601 text with a 4-digit year; Postgres would take more). */
  expiresAtMax: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
});

/**
 * What is wrong with a free-text input (`max` characters at most, no NUL), or
 * null when it is fine.
 *
 * @example textProblem('alice', INPUT_LIMITS.actorLength) // null
 */
export function textProblem(value: string, max: number): string | null {
  if (value.length > max) return `is ${value.length} characters long; at most ${max} are allowed`;
  if (value.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  return null;
}
