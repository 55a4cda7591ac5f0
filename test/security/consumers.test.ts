import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSecurityFixture, denied, type SecurityFixture } from './securityFixture.js';

// Named consumers belong to the role that registered them (migration 0005, row-level
// security): another role cannot move, delete or pre-register them; the owner manages all.

let fx: SecurityFixture;

before(async () => {
  fx = await createSecurityFixture('consumers');
});
after(async () => {
  await fx?.close();
});

const position = async (name: string): Promise<string | null> => {
  const [row] = await fx.owner`SELECT position::text AS p FROM ttp_rule_consumer WHERE name = ${name}`;
  return row ? String(row['p']) : null;
};

test('a reader registers, advances and removes its own consumer through the library', async () => {
  const bridge = await fx.storeAs(fx.login.reader);
  const consumer = await bridge.consumer('ttp-bridge', { startAt: 'beginning' });
  await consumer.checkpoint('5');
  assert.equal(await consumer.position(), '5');
  const [row] = await fx.owner`SELECT owner_role FROM ttp_rule_consumer WHERE name = 'ttp-bridge'`;
  assert.equal(row!['owner_role'], fx.login.reader);
  const mine = await bridge.consumer('reader-temp');
  assert.equal(await mine.remove(), true);
});

test("another reader cannot move, delete or take over someone else's checkpoint", async () => {
  const raw = fx.sqlAs(fx.login.reader2);
  // Row-level security hides the row from UPDATE and DELETE: nothing changes.
  const moved = await raw`UPDATE ttp_rule_consumer SET position = 9000000000000000000 WHERE name = 'ttp-bridge'`;
  assert.equal(moved.count, 0);
  const removed = await raw`DELETE FROM ttp_rule_consumer WHERE name = 'ttp-bridge'`;
  assert.equal(removed.count, 0);
  assert.equal(await position('ttp-bridge'), '5');
  // The library's upsert meets the policy and is refused outright.
  const store = await fx.storeAs(fx.login.reader2);
  const other = await store.consumer('ttp-bridge');
  await assert.rejects(other.checkpoint('9000'), denied);
  assert.equal(await other.remove(), false);
  assert.equal(await position('ttp-bridge'), '5');
  // No right on owner_role: a row cannot be registered in another role's name, nor handed over.
  await assert.rejects(raw`INSERT INTO ttp_rule_consumer (name, position, owner_role) VALUES ('forged', 0, ${fx.login.reader})`, denied);
  await assert.rejects(raw`UPDATE ttp_rule_consumer SET owner_role = ${fx.login.reader2} WHERE name = 'ttp-bridge'`, denied);
  // An operator or author is no better placed.
  const author = fx.sqlAs(fx.login.author);
  assert.equal((await author`UPDATE ttp_rule_consumer SET position = 0 WHERE name = 'ttp-bridge'`).count, 0);
  assert.equal(await position('ttp-bridge'), '5');
  // Everyone may still read every checkpoint (lag, retention).
  assert.deepEqual((await store.consumers()).map((c) => c.name), ['ttp-bridge']);
});

test('a name registered first by another role stays theirs (no pre-registration to squat or pin)', async () => {
  const squatter = await fx.storeAs(fx.login.reader2);
  await squatter.consumer('engine-7', { startAt: 'beginning' });
  const legit = await fx.storeAs(fx.login.reader);
  const c = await legit.consumer('engine-7');
  await assert.rejects(c.checkpoint('3'), denied, 'the legitimate engine is told, not silently ignored');
  // The owner sees who registered it, and can hand it over or delete it.
  const [row] = await fx.owner`SELECT owner_role FROM ttp_rule_consumer WHERE name = 'engine-7'`;
  assert.equal(row!['owner_role'], fx.login.reader2);
  await fx.owner`UPDATE ttp_rule_consumer SET owner_role = ${fx.login.reader} WHERE name = 'engine-7'`;
  await c.checkpoint('3');
  assert.equal(await position('engine-7'), '3');
});

test('the schema owner manages every consumer', async () => {
  const owner = await fx.storeAs(fx.db.url.includes('@') ? new URL(fx.db.url).username : 'root');
  const c = await owner.consumer('ttp-bridge');
  await c.checkpoint('7');
  assert.equal(await position('ttp-bridge'), '7');
  assert.equal(await c.remove(), true);
  assert.equal(await position('ttp-bridge'), null);
});
