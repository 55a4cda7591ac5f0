import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { RuleStoreError, openRuleStore, type RuleStore } from '../../src/index.js';
import { PG_SERVER_URL, createTestDatabase, type TestDatabase } from '../helpers/database.js';

// A role that may read the log but not the states: its failing read must not be reported as a failed write.
const role = `ttp_t_noread_${randomBytes(3).toString('hex')}`;
let db: TestDatabase;
let server: postgres.Sql;
let store: RuleStore | undefined;

before(async () => {
  db = await createTestDatabase('read_errors');
  server = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  await server.unsafe(`CREATE ROLE "${role}" LOGIN`);
  const owner = postgres(db.url, { max: 1, onnotice: () => {} });
  await owner.unsafe(`GRANT SELECT ON pgmigrations, ttp_rule_event TO "${role}"`);
  await owner.end();
});
after(async () => {
  await store?.close();
  await db.drop();
  await server.unsafe(`DROP ROLE IF EXISTS "${role}"`);
  await server.end();
});

for (const transport of ['listen', 'poll'] as const) {
  test(`${transport}: a read the database refuses is STORE_UNAVAILABLE, a write WRITE_FAILED`, async () => {
    const url = new URL(db.url);
    url.username = role;
    store = await openRuleStore({ url: url.toString(), transport, revertExpired: false });
    await assert.rejects(store.getState('R1'), (e: unknown) => {
      assert.ok(RuleStoreError.is(e));
      assert.equal(e.code, 'STORE_UNAVAILABLE', e.message);
      assert.match(e.message, /read a rule state: permission denied/);
      return true;
    });
    await assert.rejects(store.snapshot(), (e: unknown) => RuleStoreError.is(e) && e.code === 'STORE_UNAVAILABLE');
    await assert.rejects(store.setState('R1', 'disabled', 'me'), (e: unknown) => RuleStoreError.is(e) && e.code === 'WRITE_FAILED');
    await store.close();
    store = undefined;
  });
}
