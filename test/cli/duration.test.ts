import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../../src/cli/duration.js';

test('a duration reads back as written, rounded to the last unit shown, however long the command took', () => {
  const cases: [number, string][] = [
    [parseDuration('1h30m'), '1h 30m'],
    [parseDuration('1h30m') - 1_000, '1h 30m'],
    [parseDuration('1h30m') - 29_000, '1h 30m'],
    [parseDuration('1h30m') - 31_000, '1h 29m'],
    [parseDuration('2h'), '2h'],
    [parseDuration('2h') - 5_000, '2h'],
    [parseDuration('1d') - 5_000, '1d'],
    [parseDuration('3d4h') - 60_000, '3d 4h'],
    [parseDuration('10m') - 1_000, '9m 59s'],
    [parseDuration('90s'), '1m 30s'],
    [400, '0s'],
    [-5_000, '0s'],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `${ms} ms`);
});
