/**
 * Parses a point of the past for `snapshot({ at })`: a log position (a
 * non-negative integer, as a decimal string) or an ISO-8601 time with a zone
 * (`2026-11-29T14:03:00Z`; a time without a zone is refused, it would be read in
 * the machine's zone). Null when the text is neither. One definition for the
 * CLI's `--at` and the HTTP API's `?at=`.
 *
 * @example parsePastPoint('42') // '42'; parsePastPoint('2026-11-29T14:03:00Z') // a Date
 */
export function parsePastPoint(value: string): string | Date | null {
  const text = value.trim();
  if (/^\d{1,20}$/.test(text)) return BigInt(text).toString();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(text)) {
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return null;
}

/** What {@link parsePastPoint} accepts, for error messages. */
export const PAST_POINT_EXPECTED = 'a log position (a non-negative integer) or an ISO-8601 time with a zone (2026-11-29T14:03:00Z)';
