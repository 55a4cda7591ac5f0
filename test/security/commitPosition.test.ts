import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openRuleStore } from '../../src/index.js';
import { ruleYaml } from '../helpers/rules.js';
import { createSecurityFixture, denied, type SecurityFixture } from './securityFixture.js';

// An event's commit (the first position of its transaction) is stored with it since
// migration 0007 (ttp_rule_event.commit_position, set by the BEFORE INSERT trigger
// ttp_rule_event_00_commit). Engines apply whole transactions by it, so no role of
// sql/roles.sql may choose it: not by writing the log (no role may insert into or
// update it at all), not by touching the trigger or its function, and not by
// shadowing the log in pg_temp so that the trigger reads a forged commit there.

let fx: SecurityFixture;

before(async () => {
  fx = await createSecurityFixture('commit_position');
  const owner = await openRuleStore({ url: fx.db.url });
  await owner.upsertRules(['CP1', 'CP2', 'CP3'].map((id) => ({ yaml: ruleYaml(id) })), { updatedBy: 'seed' });
  await owner.close();
});
after(async () => {
  await fx?.close();
});

test('no role can write an event with a forged commit_position, change one, or touch the trigger that sets it', async () => {
  const [{ n: before = 0 } = {}] = await fx.owner<{ n: number }[]>`SELECT count(*)::int AS n FROM ttp_rule_event`;
  for (const user of [fx.login.reader, fx.login.operator, fx.login.author, fx.login.truncater]) {
    const sql = fx.sqlAs(user);
    await assert.rejects(sql`INSERT INTO ttp_rule_event (position, rule_id, entity, op, commit_position) VALUES (999999, 'CP1', 'rule', 'delete', 1)`, denied, `${user}: insert`);
    await assert.rejects(sql`UPDATE ttp_rule_event SET commit_position = 1`, denied, `${user}: update`);
    await assert.rejects(sql`ALTER TABLE ttp_rule_event DISABLE TRIGGER ttp_rule_event_00_commit`, denied, `${user}: disable the trigger`);
    await assert.rejects(sql`DROP TRIGGER ttp_rule_event_00_commit ON ttp_rule_event`, denied, `${user}: drop the trigger`);
    await assert.rejects(
      sql`CREATE OR REPLACE FUNCTION ttp_rule_event_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.commit_position := 1; RETURN NEW; END $$`,
      denied,
      `${user}: replace the function`,
    );
  }
  const [{ n: afterwards = 0 } = {}] = await fx.owner<{ n: number }[]>`SELECT count(*)::int AS n FROM ttp_rule_event`;
  assert.equal(afterwards, before, 'the log is unchanged');
});

test('a shadow ttp_rule_event in pg_temp holding a forged first event of the transaction does not change the commit stored', async () => {
  const sql = fx.sqlAs(fx.login.author);
  await sql.unsafe('CREATE TEMP TABLE ttp_rule_event (LIKE public.ttp_rule_event INCLUDING DEFAULTS)');
  const [{ head = '0' } = {}] = await fx.owner<{ head: string }[]>`SELECT coalesce(max(position), 0)::text AS head FROM ttp_rule_event`;
  await sql.begin(async (tx) => {
    // The shadow claims that this transaction began at position 1.
    await tx`INSERT INTO pg_temp.ttp_rule_event (position, rule_id, entity, op, commit_position) VALUES (1, 'CP1', 'rule', 'delete', 1)`;
    await tx`UPDATE public.ttp_rule SET updated_by = 'author' WHERE rule_id IN ('CP1', 'CP2')`;
  });
  const events = await fx.owner<{ position: string; commit_position: string; login_role: string }[]>`
    SELECT position::text, commit_position::text, login_role FROM ttp_rule_event WHERE position > ${head}::bigint ORDER BY position`;
  assert.equal(events.length, 2, 'one transaction, two events in the real log');
  assert.ok(events.every((e) => e.login_role === fx.login.author));
  assert.deepEqual(events.map((e) => e.commit_position), [events[0]!.position, events[0]!.position], 'both carry the real first position of their transaction');
  const [shadow] = await sql`SELECT count(*)::int AS n FROM pg_temp.ttp_rule_event`;
  assert.equal(shadow!['n'], 1, 'only the forged row is in the shadow');
  // The library reads the stored commit.
  const reader = await fx.storeAs(fx.login.reader);
  const page = await reader.readLog(head);
  assert.deepEqual(page.changes.map((c) => [c.position, c.commit, c.lastInCommit]), [
    [events[0]!.position, events[0]!.position, false],
    [events[1]!.position, events[0]!.position, true],
  ]);
});

test('whatever an insert says, the trigger stamps the commit (even the owner\'s hand insert)', async () => {
  const [row] = await fx.owner<{ position: string; commit_position: string }[]>`
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, commit_position)
    VALUES (nextval('ttp_rule_event_position_seq'), 'CP3', 'rule', 'delete', 1)
    RETURNING position::text, commit_position::text`;
  assert.equal(row?.commit_position, row?.position, 'the first event of its transaction is its own commit, not the 1 it gave');
});
