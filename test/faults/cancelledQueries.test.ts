import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FULL, recordReliability } from './audit.js';
import { runCancellationScenario } from './cancellationScenario.js';

// The full-size run for the Reliability table; npm test runs 3,000 calls in test/postgres/driverSparseResult.test.ts.
const CALLS = 5000;

test(`statement_timeout 15 ms + pg_cancel_backend during catch-ups: ${CALLS} getState / stats() calls, zero wrong answers`, { skip: !FULL && 'full fault suite only (TTP_FAULTS=full)' }, async () => {
  const result = await runCancellationScenario({ calls: CALLS, events: 20_000, timeoutMs: 15 });
  const errors = Object.entries(result.errors).map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
  recordReliability({
    scenario: 'queries cancelled mid-stream (statement_timeout 15 ms, pg_cancel_backend) while catch-ups stream beside getState / stats()',
    faults: `${result.cancelled} cancellations`,
    committed: result.calls,
    delivered: result.calls - Object.values(result.errors).reduce((a, b) => a + b, 0),
    lost: 0,
    duplicated: 0,
    outOfOrder: result.outOfSequence,
    recoveryMs: null,
    note: `${result.calls} calls (answers counted as delivered): ${result.wrong} wrong answers; errors (typed): ${errors}`,
  });
  assert.equal(result.wrong, 0);
  assert.equal(result.outOfSequence, 0);
  assert.equal(result.errors['untyped'] ?? 0, 0);
});
