import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { RuleStoreError, RuleValidationError, type RuleChange, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { FIXTURE_COUNT, fixtureFiles, ruleYaml } from '../helpers/rules.js';

const ids = (store: RuleStore): Promise<string[]> => store.snapshot().then((s) => s.rules.map((r) => r.ruleId).sort());

for (const backend of BACKENDS) {
  describe(`rule definitions (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'rules');
      store = await fx.open();
    });
    after(async () => fx.teardown());

    test('every fixture rule loads, compiles and comes back frozen', async () => {
      const files = fixtureFiles();
      assert.equal(files.length, FIXTURE_COUNT);
      const result = await store.upsertRules(files.map((f) => ({ yaml: readFileSync(f), sourcePath: f })), { updatedBy: 'fixtures' });
      assert.equal(result.upserted.length, FIXTURE_COUNT);
      const snapshot = await store.snapshot();
      assert.equal(snapshot.rules.length, FIXTURE_COUNT);
      assert.equal(snapshot.errors.length, 0);
      const rule = snapshot.rules.find((r) => r.ruleId === 'R0001');
      assert.ok(rule);
      assert.equal(rule.name, 'ssh_password_spray');
      assert.deepEqual(rule.appliesTo, ['auth_attempt']);
      assert.deepEqual(rule.emits, [
        { techniqueId: 'T1110', subTechniqueId: 'T1110.003', tactic: 'TA0006', confidence: 0.8 },
        { techniqueId: 'T1078', subTechniqueId: null, tactic: 'TA0001', confidence: 0.3 },
      ]);
      // YAML 1.1 as the seed reads it, whether the row was compiled from its YAML or its cached JSON.
      assert.equal(rule.match['window_minutes'], 90);
      assert.equal(rule.match['case_insensitive'], false);
      assert.equal(snapshot.rules.find((r) => r.ruleId === 'R0032')!.match['max_score'], Number.POSITIVE_INFINITY, '.inf survives the store');
      assert.equal(snapshot.rules.find((r) => r.ruleId === 'R0033')!.match['planted'], '2026-01-15');
      assert.ok(Object.isFrozen(rule) && Object.isFrozen(rule.emits) && Object.isFrozen(rule.emits[0]) && Object.isFrozen(rule.match) && Object.isFrozen(rule.state));
      const again = await store.upsertRules(files.map((f) => ({ yaml: readFileSync(f), sourcePath: f })), { updatedBy: 'fixtures' });
      assert.equal(again.upserted.length, 0, 'identical content writes nothing');
      assert.equal(again.unchanged.length, FIXTURE_COUNT);
    });

    test('a 5-rule edit yields 5 per-rule changes in position order', async () => {
      const changes = collect(store.changes$);
      const edit = ['E1', 'E2', 'E3', 'E4', 'E5'];
      await store.upsertRules(edit.map((id) => ({ yaml: ruleYaml(id, { version: 1 }) })), { updatedBy: 'bulk' });
      await changes.waitFor((items) => edit.every((id) => items.some((c) => c.ruleId === id)), 10_000, 'five changes');
      const mine = changes.items.filter((c) => edit.includes(c.ruleId));
      assert.equal(mine.length, 5);
      assert.ok(mine.every((c) => c.kind === 'definition' && c.actor === 'bulk'));
      for (let i = 1; i < mine.length; i++) assert.ok(BigInt(mine[i]!.position) > BigInt(mine[i - 1]!.position));
      changes.stop();
    });

    test('an identical upsert is not a change; a real one is', async () => {
      const changes = collect(store.changes$);
      const first = await store.upsertRule(ruleYaml('E1', { version: 1 }), { updatedBy: 'same' });
      assert.equal(first.changed, false);
      const second = await store.upsertRule(ruleYaml('E1', { version: 2 }), { updatedBy: 'edit' });
      assert.equal(second.changed, true);
      assert.equal(second.ruleVersion, 2);
      await changes.waitFor((items) => items.some((c) => c.actor === 'edit'), 10_000, 'the real edit');
      assert.deepEqual(
        changes.items.map((c) => [c.ruleId, c.kind, c.actor]),
        [['E1', 'definition', 'edit']],
        'the identical upsert produced nothing before the real one',
      );
      const change = changes.items[0] as Extract<RuleChange, { kind: 'definition' }>;
      assert.equal(change.rule.ruleVersion, 2);
      changes.stop();
    });

    test('deleteRule emits a deletion; deleting a missing rule is false', async () => {
      const changes = collect(store.changes$);
      assert.equal(await store.deleteRule('E5', { updatedBy: 'remover' }), true);
      assert.equal(await store.deleteRule('E5', { updatedBy: 'remover' }), false);
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'E5' && c.kind === 'deleted'), 10_000, 'the deletion');
      assert.equal(changes.items.find((c) => c.ruleId === 'E5')?.actor, 'remover');
      assert.ok(!(await ids(store)).includes('E5'));
      changes.stop();
    });

    test('rule ids that break SPEC §2 are rejected with a clear error and store nothing', async () => {
      const before = await ids(store);
      for (const bad of ['R1.x', 'R*', 'R>', 'R 1', '""', 'x'.repeat(10_240), "\"'; DROP TABLE ttp_rule; --\""]) {
        await assert.rejects(
          store.upsertRule(ruleYaml(bad)),
          (e: unknown) => e instanceof RuleValidationError && e.code === 'RULE_INVALID' && e.issues.some((i) => i.path === 'rule_id'),
          `rule id ${bad.slice(0, 20)} must be refused`,
        );
      }
      await assert.rejects(store.deleteRule('R.1'), (e: unknown) => RuleStoreError.is(e) && e.code === 'RULE_INVALID');
      assert.deepEqual(await ids(store), before);
    });

    test('a malformed document is refused naming the rule, the field and the reason', async () => {
      const bad = ruleYaml('E9').replace('confidence: 0.5', 'confidence: 1.5');
      await assert.rejects(store.upsertRule(bad, { sourcePath: 'rules/E9.yaml' }), (e: unknown) => {
        assert.ok(e instanceof RuleValidationError);
        assert.equal(e.ruleId, 'E9');
        assert.deepEqual(e.issues.map((i) => i.path), ['emits.0.confidence']);
        assert.match(e.message, /rules\/E9\.yaml: E9: emits\.0\.confidence: must be in \[0, 1\]/);
        return true;
      });
      await assert.rejects(store.upsertRule('- just\n- a list\n'), /top-level YAML must be a mapping/);
      await assert.rejects(store.upsertRule('a: [unclosed'), (e: unknown) => e instanceof RuleValidationError && /YAML/.test(e.message));
    });

    test('upsertRules is all or nothing', async () => {
      const before = await ids(store);
      await assert.rejects(
        store.upsertRules([{ yaml: ruleYaml('N1') }, { yaml: ruleYaml('N2').replace('emits:', 'emits: []\nx:') }, { yaml: ruleYaml('N3') }]),
        (e: unknown) => e instanceof RuleValidationError && /emits/.test(e.message),
      );
      await assert.rejects(store.upsertRules([{ yaml: ruleYaml('N1') }, { yaml: ruleYaml('N1', { version: 2 }) }]), /duplicate/);
      assert.deepEqual(await ids(store), before);
    });

    test('prune deletes rules under the directory whose file is gone, and nothing else', async () => {
      await store.upsertRules(
        [
          { yaml: ruleYaml('P1'), sourcePath: '/rules/a/P1.yaml' },
          { yaml: ruleYaml('P2'), sourcePath: '/rules/a/P2.yaml' },
          { yaml: ruleYaml('P3'), sourcePath: '/rules/b/P3.yaml' },
        ],
        { updatedBy: 'sync' },
      );
      const result = await store.upsertRules([{ yaml: ruleYaml('P1'), sourcePath: '/rules/a/P1.yaml' }], { updatedBy: 'sync', pruneUnder: '/rules/a/' });
      assert.deepEqual(result.deleted, ['P2']);
      const now = await ids(store);
      assert.ok(now.includes('P1') && now.includes('P3') && !now.includes('P2'));
    });
  });
}
