import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { FULL, recordReliability } from './audit.js';

const ROWS = FULL ? 50_000 : 5_000;

let db: TestDatabase;
let store: RuleStore;
let sql: postgres.Sql;

before(async () => {
  db = await createTestDatabase('faults_bigtx');
  store = await openRuleStore({ url: db.url, pageSize: 1000 });
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
});
after(async () => {
  await store.close();
  await sql.end();
  await db.drop();
});

test(`one transaction that changes ${ROWS} rows is delivered in pages with bounded memory`, async () => {
  const start = store.position();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);
  let count = 0;
  let last = BigInt(start);
  let outOfOrder = 0;
  const seen = new Set<string>();
  const done = new Promise<void>((resolve, reject) => {
    // Keep nothing but a count: the store must not buffer the whole transaction either.
    const sub = store.changesSince(start).subscribe({
      next: (change) => {
        const p = BigInt(change.position);
        if (p <= last) outOfOrder++;
        last = p;
        seen.add(change.ruleId);
        if (++count === ROWS) {
          sub.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
  const began = performance.now();
  await sql`INSERT INTO ttp_rule_state (rule_id, state, set_by) SELECT 'BIG' || g, 'disabled', 'bulk' FROM generate_series(1, ${ROWS}) g`;
  await done;
  const elapsed = performance.now() - began;
  clearInterval(sampler);
  const peakMb = Math.round(peakRss / 1024 / 1024);
  recordReliability({
    scenario: 'one transaction changing many rows, read in pages of 1,000',
    faults: `${ROWS} rows in one commit`,
    committed: ROWS,
    delivered: count,
    lost: ROWS - seen.size,
    duplicated: count - seen.size,
    outOfOrder,
    recoveryMs: null,
    note: `delivered in ${Math.round(elapsed)} ms; consumer process peak RSS ${peakMb} MB (${Math.round(rssBefore / 1024 / 1024)} MB before)`,
  });
  assert.equal(seen.size, ROWS);
  assert.equal(outOfOrder, 0);
});
