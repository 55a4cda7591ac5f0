import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RuleValidationError, type RuleChange, type RuleStore, type RuleStoreError } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture, type RawDb } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

/** Edits made the way an operator makes them in psql or the sqlite3 shell, on another connection. */
for (const backend of BACKENDS) {
  describe(`hand edits on another connection (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;
    let raw: RawDb;
    let sentinel = 0;

    /** Makes one more write and waits for it: every change committed before it has then arrived. */
    const settle = async (changes: ReturnType<typeof collect<RuleChange>>): Promise<void> => {
      const actor = `sentinel-${++sentinel}`;
      await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES ('SENTINEL', 'enabled', $1)
                     ON CONFLICT (rule_id) DO UPDATE SET set_by = excluded.set_by`, [actor]);
      await changes.waitFor((items) => items.some((c) => c.actor === actor), 10_000, actor);
    };
    /** A collector that starts after everything written so far has been delivered. */
    const fresh = async (): Promise<ReturnType<typeof collect<RuleChange>>> => {
      const changes = collect(store.changes$);
      await settle(changes);
      changes.items.length = 0;
      return changes;
    };
    const withoutSentinels = (items: RuleChange[]): RuleChange[] => items.filter((c) => c.ruleId !== 'SENTINEL');

    before(async () => {
      fx = await createBackendFixture(backend, 'handedits');
      store = await fx.open();
      raw = fx.raw();
    });
    after(async () => fx.teardown());

    test('insert, update and delete on ttp_rule each yield exactly the right change', async () => {
      const changes = await fresh();
      await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('H1', 1, 'psql', $1, 'psql-user')`, [ruleYaml('H1')]);
      await raw.run(`UPDATE ttp_rule SET yaml_content = $1, rule_version = 2 WHERE rule_id = 'H1'`, [ruleYaml('H1', { version: 2 })]);
      await raw.run(`DELETE FROM ttp_rule WHERE rule_id = 'H1'`);
      await settle(changes);
      const mine = withoutSentinels(changes.items);
      assert.deepEqual(mine.map((c) => c.kind), ['definition', 'definition', 'deleted']);
      assert.equal((mine[0] as Extract<RuleChange, { kind: 'definition' }>).rule.ruleVersion, 1);
      assert.equal((mine[1] as Extract<RuleChange, { kind: 'definition' }>).rule.ruleVersion, 2);
      assert.equal(mine[0]!.actor, 'psql-user');
      changes.stop();
    });

    test('insert, update and delete on ttp_rule_state each yield exactly the right change', async () => {
      await store.upsertRule(ruleYaml('H2'));
      const changes = await fresh();
      await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by) VALUES ('H2', 'disabled', 'noisy', 'op')`);
      await raw.run(`UPDATE ttp_rule_state SET state = 'clipped', confidence_max = 0.3 WHERE rule_id = 'H2'`);
      await raw.run(`DELETE FROM ttp_rule_state WHERE rule_id = 'H2'`);
      await settle(changes);
      const mine = withoutSentinels(changes.items).filter((c) => c.ruleId === 'H2');
      assert.deepEqual(
        mine.map((c) => (c.kind === 'state' ? [c.state.state, c.state.confidenceMax] : c.kind)),
        [['disabled', null], ['clipped', 0.3], ['enabled', null]],
      );
      changes.stop();
    });

    test('a no-op update yields no change; an update that forgets updated_at is still seen', async () => {
      await store.upsertRule(ruleYaml('H3'));
      const [before] = await raw.run(`SELECT updated_at FROM ttp_rule WHERE rule_id = 'H3'`);
      const changes = await fresh();
      await raw.run(`UPDATE ttp_rule SET rule_version = rule_version WHERE rule_id = 'H3'`);
      await raw.run(`UPDATE ttp_rule_state SET state = state WHERE rule_id = 'SENTINEL'`);
      await raw.run(`UPDATE ttp_rule SET yaml_content = $1 WHERE rule_id = 'H3'`, [ruleYaml('H3', { confidence: 0.9 })]);
      await settle(changes);
      const mine = withoutSentinels(changes.items);
      assert.equal(mine.length, 1, `only the real edit: ${JSON.stringify(mine.map((c) => c.kind))}`);
      const change = mine[0] as Extract<RuleChange, { kind: 'definition' }>;
      assert.equal(change.rule.emits[0]?.confidence, 0.9);
      const [afterRow] = await raw.run(`SELECT updated_at FROM ttp_rule WHERE rule_id = 'H3'`);
      assert.notEqual(new Date(afterRow?.['updated_at'] as string).getTime(), new Date(before?.['updated_at'] as string).getTime(), 'the database maintained updated_at');
      changes.stop();
    });

    test('a malformed yaml_content is isolated: an error event, no change, the last good version stays', async () => {
      await store.upsertRule(ruleYaml('H4', { version: 1 }));
      await store.upsertRule(ruleYaml('H5', { version: 1 }));
      const changes = await fresh();
      const errors = collect<RuleStoreError>(store.errors$);
      await raw.run(`UPDATE ttp_rule SET yaml_content = $1 WHERE rule_id = 'H4'`, ['rule_id: H4\nrule_version: [broken']);
      await raw.run(`UPDATE ttp_rule SET yaml_content = $1, rule_version = 2 WHERE rule_id = 'H5'`, [ruleYaml('H5', { version: 2 })]);
      await settle(changes);
      await errors.waitFor((items) => items.some((e) => (e as RuleValidationError).ruleId === 'H4'), 10_000, 'the error event');
      const error = errors.items.find((e) => (e as RuleValidationError).ruleId === 'H4') as RuleValidationError;
      assert.equal(error.code, 'RULE_INVALID');
      assert.ok(error.position && BigInt(error.position) > 0n, 'the error names the log position');
      assert.match(error.message, /YAML/);
      const mine = withoutSentinels(changes.items);
      assert.deepEqual(mine.map((c) => [c.ruleId, c.kind]), [['H5', 'definition']], 'the other rule flows on; the bad one emits no change');

      const snapshot = await store.snapshot();
      assert.equal(snapshot.rules.find((r) => r.ruleId === 'H4')?.ruleVersion, 1, 'the last good version stays in force');
      assert.equal(snapshot.errors.length, 1);
      const loaded = await store.loadCompiled();
      assert.ok(loaded.some((r) => r.ruleId === 'H5') && loaded.some((r) => r.ruleId === 'H4'));
      await assert.rejects(store.loadCompiled({ strict: true }), (e: unknown) => e instanceof RuleValidationError && e.ruleId === 'H4');
      changes.stop();
      errors.stop();
    });

    test('a document whose rule_id disagrees with its row is isolated the same way', async () => {
      const errors = collect<RuleStoreError>(store.errors$);
      await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ('H6', 1, $1)`, [ruleYaml('OTHER')]);
      await errors.waitFor((items) => items.some((e) => (e as RuleValidationError).ruleId === 'H6'), 10_000, 'the error');
      assert.match(errors.items[0]!.message, /rule_id: document says 'OTHER' but it is stored as 'H6'/);
      const snapshot = await store.snapshot();
      assert.ok(!snapshot.rules.some((r) => r.ruleId === 'H6'), 'never good, so not in force');
      await raw.run(`DELETE FROM ttp_rule WHERE rule_id = 'H6'`);
      errors.stop();
    });
  });
}
