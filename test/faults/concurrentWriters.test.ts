import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { applyChange, normalise, viewFromSnapshot } from '../helpers/view.js';
import { FULL, auditDelivery, recordReliability } from './audit.js';

const TRANSACTIONS = FULL ? 200 : 60;

let db: TestDatabase;
let store: RuleStore;
let pool: postgres.Sql;

before(async () => {
  db = await createTestDatabase('faults_concurrent');
  store = await openRuleStore({ url: db.url });
  pool = postgres(db.url, { max: 40, onnotice: () => {} });
});
after(async () => {
  await store.close();
  await pool.end();
  await db.drop();
});

test(`${TRANSACTIONS} concurrent writer transactions with random delays between write and commit`, async () => {
  const start = await store.snapshot();
  const view = viewFromSnapshot(start);
  const consumer = collect(store.changesSince(start.position));
  const began = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: TRANSACTIONS }, (_, i) =>
      pool.begin(async (tx) => {
        await tx`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by) VALUES (${`T${i % 50}`}, 'disabled', ${`tx${i}`}, 'writer')
                 ON CONFLICT (rule_id) DO UPDATE SET reason = excluded.reason`;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
        if (i % 10 === 9) throw new Error('rolled back on purpose'); // aborted writers leave holes, never stalls
      }),
    ),
  );
  assert.equal(results.filter((r) => r.status === 'rejected').length, Math.floor(TRANSACTIONS / 10));
  const committed = (await pool`SELECT position FROM ttp_rule_event WHERE position > ${start.position} ORDER BY position`).map((r) => String(r['position']));
  assert.equal(committed.length, TRANSACTIONS - Math.floor(TRANSACTIONS / 10));
  await consumer.waitFor((items) => items.length > 0 && items.at(-1)!.position === committed.at(-1), 30_000, 'every commit');
  const audit = auditDelivery(consumer.items, committed);
  for (const change of consumer.items) applyChange(view, change);
  assert.deepEqual(normalise(view), normalise(viewFromSnapshot(await store.snapshot())));
  recordReliability({ scenario: 'concurrent writer transactions, random delay before commit, 10% rolled back', faults: `${TRANSACTIONS} transactions`, recoveryMs: null, note: `all delivered ${Math.round(performance.now() - began)} ms after the first write`, ...audit });
  assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, outOfOrder: audit.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
  consumer.stop();
});
