import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { openRuleStore, type RuleChange, type RuleStore, type RuleStoreError } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';
import { createSecurityFixture, type SecurityFixture } from './securityFixture.js';

// What engines run is what every listing shows: the rule comes from yaml_content,
// never from a JSON copy an author could forge (migration 0003's `doc`, dropped in
// 0005), and the size limit applies to what engines run.

let fx: SecurityFixture;
let engine: RuleStore;

before(async () => {
  fx = await createSecurityFixture('docforgery');
  const owner = await openRuleStore({ url: fx.db.url });
  await owner.upsertRules([{ yaml: ruleYaml('DF1', { confidence: 0.8 }) }, { yaml: ruleYaml('DF2', { confidence: 0.8 }) }], { updatedBy: 'seed' });
  await owner.close();
  engine = await fx.storeAs(fx.login.reader);
});
after(async () => {
  await fx?.close();
});

const definition = (c: RuleChange): c is Extract<RuleChange, { kind: 'definition' }> => c.kind === 'definition';

test("an author's forged document never reaches an engine: engines run the YAML every listing shows", async () => {
  const author = fx.sqlAs(fx.login.author);
  const [row] = await author`SELECT yaml_content FROM ttp_rule WHERE rule_id = 'DF1'`;
  const yaml = String(row!['yaml_content']);
  const sha256 = createHash('sha256').update(yaml).digest('hex');
  const forged = {
    rule_id: 'DF1', rule_version: 1, name: 'forged', applies_to: ['command'], match: { blob: 'x'.repeat(5 * 1024 * 1024) },
    emits: [{ technique_id: 'T0000', tactic: 'none', confidence: 0 }],
  };
  const changes = collect(engine.changes$);
  let forgedWritten = true;
  try {
    // The attack of issue 12 (the doc column of migration 0003).
    await author.unsafe(`UPDATE ttp_rule SET doc = $1::jsonb, rule_version = rule_version WHERE rule_id = 'DF1'`, [JSON.stringify({ sha256, rule: forged })]);
  } catch (error) {
    assert.equal((error as { code?: string }).code, '42703', 'the column is gone (undefined_column)');
    forgedWritten = false;
  }
  if (forgedWritten) await changes.waitFor((items) => items.some((c) => c.ruleId === 'DF1'), 10_000, 'the forged row');
  const snap = await engine.snapshot();
  const rule = snap.rules.find((r) => r.ruleId === 'DF1');
  assert.equal(rule?.emits[0]?.techniqueId, 'T1105', 'the snapshot runs the YAML');
  assert.equal(rule?.emits[0]?.confidence, 0.8);
  for (const c of changes.items.filter(definition)) assert.notEqual(c.rule.emits[0]?.techniqueId, 'T0000', 'no forged rule was delivered');
  const listing = (await engine.listRules()).find((r) => r.ruleId === 'DF1');
  assert.equal(listing?.error, null);
  changes.stop();
});

test('the size limit applies to what engines run: an oversized hand-written YAML is an error event, the last good version stays', async () => {
  const author = fx.sqlAs(fx.login.author);
  const changes = collect(engine.changes$);
  const errors = collect(engine.errors$);
  const big = `${ruleYaml('DF2', { confidence: 0.01 })}\n# ${'x'.repeat(300 * 1024)}\n`;
  await author`UPDATE ttp_rule SET yaml_content = ${big} WHERE rule_id = 'DF2'`;
  await errors.waitFor((items) => items.some((e) => (e as RuleStoreError).code === 'RULE_TOO_LARGE'), 10_000, 'the RULE_TOO_LARGE error');
  assert.equal(changes.items.filter(definition).filter((c) => c.ruleId === 'DF2').length, 0, 'no definition delivered');
  const snap = await engine.snapshot();
  assert.equal(snap.rules.find((r) => r.ruleId === 'DF2')?.emits[0]?.confidence, 0.8, 'the last good version is in force');
  assert.ok(snap.errors.some((e) => e.ruleId === 'DF2' && e.code === 'RULE_TOO_LARGE'));
  changes.stop();
  errors.stop();
});

test('a hand edit of the YAML is what engines run, and a second snapshot in the process agrees with the first', async () => {
  const author = fx.sqlAs(fx.login.author);
  const changes = collect(engine.changes$);
  await author`UPDATE ttp_rule SET yaml_content = ${ruleYaml('DF1', { confidence: 0.2 })} WHERE rule_id = 'DF1'`;
  await changes.waitFor((items) => items.some((c) => definition(c) && c.ruleId === 'DF1'), 10_000, 'the hand edit');
  assert.equal(changes.items.filter(definition).find((c) => c.ruleId === 'DF1')?.rule.emits[0]?.confidence, 0.2);
  const first = await engine.snapshot();
  const second = await engine.snapshot();
  assert.deepEqual(second.rules, first.rules);
  assert.equal(first.rules.find((r) => r.ruleId === 'DF1')?.emits[0]?.confidence, 0.2);
  changes.stop();
});
