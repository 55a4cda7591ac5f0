import { InvalidArgumentError } from 'commander';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
/** Longer than any sensible rule silence; also keeps `Date` arithmetic exact. */
const MAX_MS = 10 * 366 * 86_400_000;

/**
 * Parses a duration like `90s`, `30m`, `2h`, `1d`, `1h30m`, `500ms`, `1w`.
 * A bare number has no unit and is refused.
 *
 * @example parseDuration('1h30m') // 5_400_000
 */
export function parseDuration(text: string): number {
  const value = text.trim();
  if (!WHOLE.test(value)) {
    throw new InvalidArgumentError(`expected a duration like 90s, 30m, 2h, 1d or 1h30m (units: ms, s, m, h, d, w)`);
  }
  let total = 0;
  for (const match of value.matchAll(PART)) total += Number(match[1]) * UNIT_MS[match[2]!]!;
  total = Math.round(total);
  if (total <= 0) throw new InvalidArgumentError('the duration must be longer than zero');
  if (total > MAX_MS) throw new InvalidArgumentError('the duration must be at most 10 years');
  return total;
}

/** Parses an ISO 8601 instant that lies in the future (for `--until`). */
export function parseFutureInstant(text: string, now: Date = new Date()): Date {
  const value = text.trim();
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('expected an ISO 8601 date/time such as 2030-01-31T18:00:00Z');
  }
  if (date.getTime() <= now.getTime()) throw new InvalidArgumentError(`${date.toISOString()} is not in the future`);
  return date;
}

/**
 * Formats milliseconds as a short human duration (`9m 59s`, `2h 5m`, `3d 4h`),
 * rounded to the last unit shown: `--for 1h30m` read back a moment later is
 * `1h 30m`, not `1h 29m`.
 */
export function formatDuration(ms: number): string {
  let seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds >= 86_400) seconds = Math.round(seconds / 3_600) * 3_600;
  else if (seconds >= 3_600) seconds = Math.round(seconds / 60) * 60;
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3_600);
  const m = Math.floor((seconds % 3_600) / 60);
  const s = seconds % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s > 0 ? `${m}m ${s}s` : `${m}m`;
  return `${s}s`;
}
