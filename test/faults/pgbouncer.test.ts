import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { pgbouncerSkipReason, startPgbouncer, type Pgbouncer } from '../helpers/pgbouncer.js';
import { FULL, recordReliability } from './audit.js';
import { runPoolerLoad } from './poolerScenario.js';

// The full-size run for the Reliability table; npm test runs the small one in test/postgres/pgbouncer.test.ts.
const skip = !FULL ? 'full fault suite only (TTP_FAULTS=full); test/postgres/pgbouncer.test.ts covers it in npm test' : pgbouncerSkipReason();
const WRITERS = 4;
const LANES = 4;
const PER_LANE = 100;

let db: TestDatabase;
let bouncer: Pgbouncer;
before(async () => {
  if (skip) return;
  db = await createTestDatabase('faults_pgbouncer');
  bouncer = await startPgbouncer({ pool_mode: 'transaction', default_pool_size: 3 });
});
after(async () => {
  await bouncer?.stop();
  await db?.drop();
});

test(`pgbouncer (transaction pooling), transport poll: ${WRITERS} writer stores x ${LANES} lanes and a reader`, { skip }, async () => {
  const began = performance.now();
  const result = await runPoolerLoad(bouncer.url(db.name), db.url, { writers: WRITERS, lanes: LANES, writesPerLane: PER_LANE });
  recordReliability({
    scenario: 'Postgres behind pgbouncer (transaction pooling, 3 server connections), transport poll, plain URL',
    faults: `${WRITERS} writer stores x ${LANES} concurrent lanes + 1 reader store`,
    committed: result.committed,
    delivered: result.delivered,
    lost: result.lost,
    duplicated: result.duplicated,
    outOfOrder: result.outOfOrder,
    recoveryMs: null,
    note: `${result.writes} writes, ${result.reads} reads, ${result.errors.length} errors, ${result.wrong} wrong reads, ${Math.round(performance.now() - began)} ms`,
  });
  assert.deepEqual(result.errors.slice(0, 5), []);
  assert.equal(result.wrong, 0);
  assert.equal(result.lost + result.duplicated + result.outOfOrder, 0);
});
