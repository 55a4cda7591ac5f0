import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { openRuleStore, type RuleChange, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let db: TestDatabase;
let store: RuleStore;
let a: postgres.Sql;
let b: postgres.Sql;
let probe: postgres.Sql;

before(async () => {
  db = await createTestDatabase('outoforder');
  store = await openRuleStore({ url: db.url });
  a = postgres(db.url, { max: 1, onnotice: () => {}, connection: { application_name: 'writer-a' } });
  b = postgres(db.url, { max: 1, onnotice: () => {}, connection: { application_name: 'writer-b' } });
  probe = postgres(db.url, { max: 1, onnotice: () => {} });
});
after(async () => {
  await store.close();
  await Promise.all([a.end(), b.end(), probe.end()]);
  await db.drop();
});

/** Polls a condition with a deadline (waiting on the database, never a fixed sleep). */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('a transaction that writes first and commits last is never skipped', async () => {
  const changes = collect(store.changes$);
  let releaseA!: () => void;
  const aMayCommit = new Promise<void>((resolve) => (releaseA = resolve));
  // A: writes first, then holds its transaction open.
  const txA = a.begin(async (tx) => {
    await tx`INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES ('A', 'disabled', 'writer-a')`;
    await aMayCommit;
  });
  await until('A to have written', async () => (await probe`SELECT 1 FROM pg_stat_activity WHERE application_name = 'writer-a' AND state = 'idle in transaction'`).length === 1);
  // B: writes and commits while A is open.
  let bCommitted = false;
  const txB = b`INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES ('B', 'disabled', 'writer-b')`.then(() => {
    bCommitted = true;
  });
  // B must be held back behind A (the log's commit-order lock), not slip in ahead of it.
  await until('B to wait on the log lock', async () => (await probe`SELECT 1 FROM pg_stat_activity WHERE application_name = 'writer-b' AND wait_event_type = 'Lock'`).length === 1);
  assert.equal(bCommitted, false);
  releaseA();
  await Promise.all([txA, txB]);
  await changes.waitFor((items) => items.some((c) => c.ruleId === 'B'), 10_000, 'both changes');
  const [first, second] = changes.items as [RuleChange, RuleChange];
  assert.deepEqual([first.ruleId, second.ruleId], ['A', 'B'], 'delivered in commit order');
  assert.ok(BigInt(second.position) > BigInt(first.position));
  // Resuming from any delivered position never skips A.
  const fromZero = collect(store.changesSince('0'));
  await fromZero.waitForCount(2);
  assert.deepEqual(fromZero.items.map((c) => c.ruleId), ['A', 'B']);
  const fromFirst = collect(store.changesSince(first.position));
  await fromFirst.waitForCount(1);
  assert.deepEqual(fromFirst.items.map((c) => c.ruleId), ['B']);
  changes.stop();
  fromZero.stop();
  fromFirst.stop();
});

test('positions follow commit order under concurrent writers with random commit delays', async () => {
  const consumer = collect(store.changesSince(store.position()));
  const writers = Array.from({ length: 4 }, () => postgres(db.url, { max: 1, onnotice: () => {} }));
  const committed: string[] = [];
  await Promise.all(
    writers.map(async (w, n) => {
      for (let i = 0; i < 25; i++) {
        const id = `C${n}_${i}`;
        await w.begin(async (tx) => {
          await tx`INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES (${id}, 'disabled', 'concurrent')`;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        });
        committed.push(id);
      }
    }),
  );
  await consumer.waitForCount(100, 20_000);
  const positions = consumer.items.map((c) => BigInt(c.position));
  for (let i = 1; i < positions.length; i++) assert.ok(positions[i]! > positions[i - 1]!);
  assert.deepEqual(consumer.items.map((c) => c.ruleId).sort(), [...committed].sort(), 'every committed change exactly once');
  // Commit order: each writer's own transactions appear in the order it committed them.
  for (let n = 0; n < 4; n++) {
    const mine = consumer.items.filter((c) => c.ruleId.startsWith(`C${n}_`)).map((c) => Number(c.ruleId.split('_')[1]));
    assert.deepEqual(mine, [...mine].sort((x, y) => x - y));
  }
  consumer.stop();
  await Promise.all(writers.map((w) => w.end()));
});
