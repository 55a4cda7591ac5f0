import assert from 'node:assert/strict';
import { test } from 'node:test';
import postgres from 'postgres';
import { withDenseResults } from '../../src/store/postgres/denseResults.js';
import { PG_SERVER_URL } from '../helpers/database.js';
import { runCancellationScenario } from '../faults/cancellationScenario.js';

// postgres.js 3.4.x keeps a stale row counter after a query fails mid-stream
// (porsager/postgres #1119, #1181): the query pipelined behind it resolves with
// leading holes. The store reads every result through withDenseResults.

const ROUNDS = 60;

/** A query that streams rows and then hits statement_timeout, with another pipelined behind it on the same connection. */
async function pipelinedBehindTimeout(sql: postgres.Sql): Promise<{ sparse: number; wrong: number; errors: number }> {
  let sparse = 0;
  let wrong = 0;
  let errors = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const failing = sql`SELECT g, repeat('x', 300) AS pad FROM generate_series(1, 200000) g`.then(
      () => undefined,
      () => undefined,
    );
    // Handled at once: on a loaded machine this tiny query can itself outlast the
    // 15 ms timeout, and it settles before `failing` does.
    const next = sql`SELECT ${i}::int AS n`.then(
      (rows) => ({ rows }),
      (error: unknown) => ({ error }),
    );
    await failing;
    const result = await next;
    if ('error' in result) {
      errors++;
      continue;
    }
    const { rows } = result;
    if (!(0 in rows)) sparse++;
    if (rows[0]?.['n'] !== i || rows.length !== 1) wrong++;
  }
  return { sparse, wrong, errors };
}

test('the raw driver returns sparse results after a mid-stream timeout; through withDenseResults the answers are right', async () => {
  const raw = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {}, connection: { statement_timeout: 15 } });
  const guarded = withDenseResults(postgres(PG_SERVER_URL, { max: 1, onnotice: () => {}, connection: { statement_timeout: 15 } }));
  try {
    const before = await pipelinedBehindTimeout(raw);
    const after = await pipelinedBehindTimeout(guarded);
    console.log(`driver, ${ROUNDS} queries pipelined behind a timed-out stream: unguarded ${before.wrong} wrong (${before.sparse} sparse), guarded ${after.wrong} wrong (${after.errors} typed errors)`);
    assert.equal(after.wrong, 0, 'no wrong answer through the guard');
    assert.equal(after.sparse, 0);
  } finally {
    await Promise.all([raw.end(), guarded.end()]);
  }
});

// The store-level scenario at a size that keeps `npm test` quick; the raw-driver test above
// reproduces the bug reliably, and the fault suite (test/faults/cancelledQueries.test.ts)
// runs this scenario with 5,000 calls, where the unguarded store gave 130 wrong answers.
test('a 15 ms statement_timeout (and pg_cancel_backend) while 8 catch-ups stream and getState / stats().head share the pool: zero wrong answers', async () => {
  const result = await runCancellationScenario({ calls: 1000, events: 10_000, timeoutMs: 15 });
  console.log(`cancellation: ${JSON.stringify(result)}`);
  assert.equal(result.wrong, 0, `wrong answers: ${JSON.stringify(result)}`);
  assert.equal(result.outOfSequence, 0);
  assert.equal(result.errors['untyped'] ?? 0, 0, 'every error is a RuleStoreError');
});
