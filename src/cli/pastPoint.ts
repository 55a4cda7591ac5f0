import { InvalidArgumentError, Option } from 'commander';

/**
 * Parses `--at`: a log position (a non-negative integer) or an ISO-8601 time
 * (`2026-11-29T14:03:00Z`; a date without a zone is refused, it would be read in
 * the machine's zone).
 *
 * @example parseAt('42') // '42'; parseAt('2026-11-29T14:03:00Z') // a Date
 */
export function parseAt(value: string): string | Date {
  const text = value.trim();
  if (/^\d{1,20}$/.test(text)) return BigInt(text).toString();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(text)) {
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new InvalidArgumentError('expected a log position (a non-negative integer) or an ISO-8601 time with a zone (2026-11-29T14:03:00Z)');
}

/** The `--at` option of `list` and `show`. */
export function atOption(): Option {
  return new Option('--at <position|time>', 'what was in force at this log position or ISO-8601 time, read from the log').argParser(parseAt);
}
