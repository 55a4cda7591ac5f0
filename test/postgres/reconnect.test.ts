import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { PG_SERVER_URL, createTestDatabase, type TestDatabase } from '../helpers/database.js';

let db: TestDatabase;
let store: RuleStore;
let admin: postgres.Sql;
let writer: postgres.Sql;
let server: postgres.Sql;

before(async () => {
  db = await createTestDatabase('reconnect');
  // The safety check is far beyond the test's timeouts: only the reconnect catch-up can deliver.
  store = await openRuleStore({ url: db.url, safetyCheckMs: 600_000 });
  admin = postgres(db.url, { max: 1, onnotice: () => {} });
  writer = postgres(db.url, { max: 1, onnotice: () => {} });
  server = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  // Connect now: the first test keeps new connections out for a while.
  await Promise.all([admin`SELECT 1`, writer`SELECT 1`, store.snapshot()]);
});
after(async () => {
  await store.close();
  await Promise.all([admin.end(), writer.end(), server.end()]);
  await db.drop();
});

const killListener = async (): Promise<number> =>
  (
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'ttp-rule-store:listen'`
  ).length;

const listenerUp = async (): Promise<boolean> =>
  (await admin`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ttp-rule-store:listen'`).length > 0;

test('changes committed while the listener is down arrive through the catch-up on reconnect', async () => {
  const consumer = collect(store.changesSince(store.position()));
  // Keep the listener out: no new connection to this database until we allow it again.
  await server.unsafe(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS false`);
  assert.equal(await killListener(), 1);
  for (let i = 0; i < 10; i++) {
    await writer`INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES (${`DOWN${i}`}, 'disabled', 'writer')`;
  }
  // Nobody heard these NOTIFYs. Let the listener back in; nothing else will write.
  await server.unsafe(`ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS true`);
  await consumer.waitForCount(10, 20_000);
  assert.deepEqual(consumer.items.map((c) => c.ruleId), Array.from({ length: 10 }, (_, i) => `DOWN${i}`));
  consumer.stop();
});

test('the listener killed while another connection writes: every change arrives exactly once', async () => {
  const consumer = collect(store.changesSince(store.position()));
  let written = 0;
  for (let round = 0; round < 5; round++) {
    assert.equal(await killListener(), 1, 'one listener backend to kill');
    // Written while the listener is down or reconnecting: only the catch-up on `connected` delivers these.
    for (let i = 0; i < 20; i++, written++) {
      await writer`INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES (${`K${written}`}, 'disabled', 'writer')`;
    }
    await consumer.waitForCount(written, 20_000);
  }
  assert.ok(await listenerUp(), 'the listener came back by itself');
  assert.equal(consumer.items.length, written);
  assert.deepEqual(
    consumer.items.map((c) => c.ruleId),
    Array.from({ length: written }, (_, i) => `K${i}`),
    'exactly once, in commit order',
  );
  consumer.stop();
});
