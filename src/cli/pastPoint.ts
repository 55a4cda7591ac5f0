import { InvalidArgumentError, Option } from 'commander';
import { PAST_POINT_EXPECTED, parsePastPoint } from '../domain/pastPoint.js';

/** Parses `--at` (see {@link parsePastPoint}); a usage error otherwise. */
export function parseAt(value: string): string | Date {
  const point = parsePastPoint(value);
  if (point === null) throw new InvalidArgumentError(`expected ${PAST_POINT_EXPECTED}`);
  return point;
}

/** The `--at` option of `list` and `show`. */
export function atOption(): Option {
  return new Option('--at <position|time>', 'what was in force at this log position or ISO-8601 time, read from the log').argParser(parseAt);
}
