import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RuleValidationError, type RuleStore, type RuleStoreError } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';
import { applyChange, normalise, viewFromSnapshot } from '../helpers/view.js';
import { BAD_RULES } from '../corpus/badRules.js';

/** Documents a text column can hold (invalid UTF-8 and NUL are refused by the database driver itself). */
const STORABLE = BAD_RULES.filter((b) => b.name !== 'invalid-utf8' && b.name !== 'nul-character');

for (const backend of BACKENDS) {
  describe(`hostile rows written by hand are isolated (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'hostile');
      store = await fx.open();
      await store.upsertRules([{ yaml: ruleYaml('GOOD1') }, { yaml: ruleYaml('GOOD2') }]);
    });
    after(async () => fx.teardown());

    test('every corpus document through the API is refused and stores nothing', async () => {
      const before = await store.snapshot();
      for (const bad of BAD_RULES) {
        await assert.rejects(store.upsertRule(bad.bytes, { sourcePath: `${bad.name}.yaml` }), (e: unknown) => e instanceof RuleValidationError && bad.expect.test(e.message), bad.name);
      }
      const after = await store.snapshot();
      assert.equal(after.position, before.position, 'no event was written');
    });

    test('every corpus document written with raw SQL yields an error event, no change, and the stream goes on', async () => {
      const engine = await fx.open();
      const snapshot = await engine.snapshot();
      const view = viewFromSnapshot(snapshot);
      const changes = collect(engine.changesSince(snapshot.position));
      const errors = collect<RuleStoreError>(engine.errors$);
      const raw = fx.raw();
      for (const [i, bad] of STORABLE.entries()) {
        await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ($1, 1, $2, 'psql')`, [`HOSTILE${i}`, bad.bytes.toString('utf8')]);
      }
      // A good edit after all of them still flows.
      await raw.run(`UPDATE ttp_rule SET yaml_content = $1 WHERE rule_id = 'GOOD1'`, [ruleYaml('GOOD1', { version: 2 })]);
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'GOOD1'), 20_000, 'the good edit after the hostile rows');
      await errors.waitFor((items) => items.length >= STORABLE.length, 20_000, 'one error per hostile row');
      assert.deepEqual(changes.items.map((c) => c.ruleId), ['GOOD1'], 'no hostile row became a change');
      const named = new Set(errors.items.map((e) => (e as RuleValidationError).ruleId));
      for (let i = 0; i < STORABLE.length; i++) assert.ok(named.has(`HOSTILE${i}`), `error names HOSTILE${i}`);
      for (const change of changes.items) applyChange(view, change);
      const truth = await store.snapshot();
      assert.equal(truth.errors.length, STORABLE.length);
      assert.deepEqual(normalise(view), normalise(viewFromSnapshot(truth)), "the engine's view equals the database's");
      assert.deepEqual(truth.rules.map((r) => r.ruleId).sort(), ['GOOD1', 'GOOD2']);
      changes.stop();
      errors.stop();
    });

    test('the database refuses ids that break SPEC §2 and text it cannot hold', async () => {
      const raw = fx.raw();
      for (const id of ['R1.x', 'R*', 'R 1', '', 'x'.repeat(200)]) {
        await assert.rejects(raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ($1, 1, 'x')`, [id]), `id ${id.slice(0, 10)}`);
      }
    });
  });
}
