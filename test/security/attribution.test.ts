import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openRuleStore } from '../../src/index.js';
import { ruleYaml } from '../helpers/rules.js';
import { createSecurityFixture, type SecurityFixture } from './securityFixture.js';

// True attribution (migration 0005): every event records the login that made it
// (login_role = session_user), and its actor is the library caller when the library
// wrote it, the author column when a hand edit sets it, else the login; updated_by
// and set_by follow.

let fx: SecurityFixture;

before(async () => {
  fx = await createSecurityFixture('attribution');
  const owner = await openRuleStore({ url: fx.db.url });
  await owner.upsertRules(['AT1', 'AT2', 'AT3'].map((id) => ({ yaml: ruleYaml(id) })), { updatedBy: 'seed-person' });
  await owner.close();
});
after(async () => {
  await fx?.close();
});

type Row = { entity: string; op: string; actor: string | null; login_role: string | null };
const lastEvent = async (ruleId: string): Promise<Row> => {
  const [row] = await fx.owner`SELECT entity, op, actor, login_role FROM ttp_rule_event WHERE rule_id = ${ruleId} ORDER BY position DESC LIMIT 1`;
  return row as unknown as Row;
};
const column = async (table: 'ttp_rule' | 'ttp_rule_state', ruleId: string): Promise<string | null> => {
  const [row] = await fx.owner.unsafe(`SELECT ${table === 'ttp_rule' ? 'updated_by' : 'set_by'} AS who FROM ${table} WHERE rule_id = $1`, [ruleId]);
  return row ? (row['who'] as string | null) : null;
};

test('hand edits of rules by two logins: without the author column the login is the actor', async () => {
  const alice = fx.sqlAs(fx.login.author);
  const bob = fx.sqlAs(fx.login.author2);
  // Update without updated_by: previously logged under the previous author.
  await alice`UPDATE ttp_rule SET yaml_content = ${ruleYaml('AT1', { confidence: 0.3 })} WHERE rule_id = 'AT1'`;
  assert.deepEqual(await lastEvent('AT1'), { entity: 'rule', op: 'upsert', actor: fx.login.author, login_role: fx.login.author });
  assert.equal(await column('ttp_rule', 'AT1'), fx.login.author, 'updated_by follows');
  // The other login edits the same row, again without naming itself.
  await bob`UPDATE ttp_rule SET yaml_content = ${ruleYaml('AT1', { confidence: 0.4 })} WHERE rule_id = 'AT1'`;
  assert.deepEqual(await lastEvent('AT1'), { entity: 'rule', op: 'upsert', actor: fx.login.author2, login_role: fx.login.author2 });
  // With the author column: the claim is the actor, the login is still recorded.
  await alice`UPDATE ttp_rule SET yaml_content = ${ruleYaml('AT1', { confidence: 0.5 })}, updated_by = 'alice@soc' WHERE rule_id = 'AT1'`;
  assert.deepEqual(await lastEvent('AT1'), { entity: 'rule', op: 'upsert', actor: 'alice@soc', login_role: fx.login.author });
  // Insert without updated_by (its default is ''), and with it.
  await bob`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ('AT4', 1, ${ruleYaml('AT4')})`;
  assert.deepEqual(await lastEvent('AT4'), { entity: 'rule', op: 'upsert', actor: fx.login.author2, login_role: fx.login.author2 });
  assert.equal(await column('ttp_rule', 'AT4'), fx.login.author2);
  await alice`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ('AT5', 1, ${ruleYaml('AT5')}, 'alice@soc')`;
  assert.deepEqual(await lastEvent('AT5'), { entity: 'rule', op: 'upsert', actor: 'alice@soc', login_role: fx.login.author });
  // Deletes carry no author column: the login.
  await bob`DELETE FROM ttp_rule WHERE rule_id = 'AT5'`;
  assert.deepEqual(await lastEvent('AT5'), { entity: 'rule', op: 'delete', actor: fx.login.author2, login_role: fx.login.author2 });
});

test('hand edits of states by two logins, with and without set_by', async () => {
  const carol = fx.sqlAs(fx.login.operator);
  const dave = fx.sqlAs(fx.login.operator2);
  // Insert without set_by: previously logged with actor NULL.
  await carol`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('AT2', 'disabled')`;
  assert.deepEqual(await lastEvent('AT2'), { entity: 'state', op: 'upsert', actor: fx.login.operator, login_role: fx.login.operator });
  assert.equal(await column('ttp_rule_state', 'AT2'), fx.login.operator, 'set_by follows');
  await dave`UPDATE ttp_rule_state SET state = 'clipped', confidence_max = 0.2 WHERE rule_id = 'AT2'`;
  assert.deepEqual(await lastEvent('AT2'), { entity: 'state', op: 'upsert', actor: fx.login.operator2, login_role: fx.login.operator2 });
  await carol`UPDATE ttp_rule_state SET state = 'disabled', set_by = 'carol@soc' WHERE rule_id = 'AT2'`;
  assert.deepEqual(await lastEvent('AT2'), { entity: 'state', op: 'upsert', actor: 'carol@soc', login_role: fx.login.operator });
  await dave`DELETE FROM ttp_rule_state WHERE rule_id = 'AT2'`;
  assert.deepEqual(await lastEvent('AT2'), { entity: 'state', op: 'delete', actor: fx.login.operator2, login_role: fx.login.operator2 });
});

test("the library's writes keep their caller as actor and record the login; history shows both", async () => {
  const store = await fx.storeAs(fx.login.author);
  await store.upsertRule(ruleYaml('AT3', { confidence: 0.6 }), { updatedBy: 'ci-sync' });
  assert.deepEqual(await lastEvent('AT3'), { entity: 'rule', op: 'upsert', actor: 'ci-sync', login_role: fx.login.author });
  // The same caller again (updated_by unchanged): still the caller's, not the login's.
  await store.upsertRule(ruleYaml('AT3', { confidence: 0.7 }), { updatedBy: 'ci-sync' });
  assert.deepEqual(await lastEvent('AT3'), { entity: 'rule', op: 'upsert', actor: 'ci-sync', login_role: fx.login.author });
  const op = await fx.storeAs(fx.login.operator2);
  await op.setState('AT3', 'disabled', 'dave@soc');
  assert.deepEqual(await lastEvent('AT3'), { entity: 'state', op: 'upsert', actor: 'dave@soc', login_role: fx.login.operator2 });
  await op.setState('AT3', { state: 'clipped', confidenceMax: 0.1 }, 'dave@soc');
  assert.equal(await column('ttp_rule_state', 'AT3'), 'dave@soc');
  await op.clearState('AT3', 'dave@soc');
  assert.deepEqual(await lastEvent('AT3'), { entity: 'state', op: 'delete', actor: 'dave@soc', login_role: fx.login.operator2 });
  await store.upsertRules([{ yaml: ruleYaml('AT6') }, { yaml: ruleYaml('AT7') }], { updatedBy: 'ci-sync' });
  assert.deepEqual(await lastEvent('AT7'), { entity: 'rule', op: 'upsert', actor: 'ci-sync', login_role: fx.login.author });
  await store.deleteRule('AT7', { updatedBy: 'ci-sync' });
  assert.deepEqual(await lastEvent('AT7'), { entity: 'rule', op: 'delete', actor: 'ci-sync', login_role: fx.login.author });
  const history = await store.history({ ruleId: 'AT3', limit: 3 });
  assert.deepEqual(history.map((h) => [h.kind, h.actor, h.loginRole]), [
    ['state', 'dave@soc', fx.login.operator2],
    ['state', 'dave@soc', fx.login.operator2],
    ['state', 'dave@soc', fx.login.operator2],
  ]);
});

test('login_role cannot be forged: SET ROLE and the library marker change the actor, never the login', async () => {
  const eve = fx.sqlAs(fx.login.author2);
  await eve.begin(async (tx) => {
    await tx`SELECT set_config('ttp_rule_store.actor', 'ttp-rules:expiry', true)`;
    await tx`SET LOCAL ROLE ttp_rules_author`;
    await tx`DELETE FROM ttp_rule WHERE rule_id = 'AT6'`;
  });
  assert.deepEqual(await lastEvent('AT6'), { entity: 'rule', op: 'delete', actor: 'ttp-rules:expiry', login_role: fx.login.author2 });
});
