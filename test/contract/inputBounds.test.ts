import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { firstValueFrom, timeout } from 'rxjs';
import { RuleStoreError, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture, type RawDb } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

const code = (expected: string, message: RegExp) => (e: unknown) => {
  assert.ok(RuleStoreError.is(e), String(e));
  assert.equal(e.code, expected, e.message);
  assert.match(e.message, message);
  assert.doesNotMatch(e.message, /reached SQL/);
  return true;
};

/** A trigger refusing every rule write: an input that reached SQL would fail with its message instead. */
async function refuseRuleWrites(backend: string, raw: RawDb): Promise<() => Promise<void>> {
  if (backend === 'sqlite') {
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) await raw.run(`CREATE TRIGGER test_no_sql_${op} BEFORE ${op} ON ttp_rule BEGIN SELECT RAISE(ABORT, 'reached SQL'); END`);
    return async () => {
      for (const op of ['INSERT', 'UPDATE', 'DELETE']) await raw.run(`DROP TRIGGER test_no_sql_${op}`);
    };
  }
  await raw.run(`CREATE FUNCTION test_no_sql() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'reached SQL'; END $$`);
  await raw.run(`CREATE TRIGGER test_no_sql BEFORE INSERT OR UPDATE OR DELETE ON ttp_rule FOR EACH ROW EXECUTE FUNCTION test_no_sql()`);
  return async () => {
    await raw.run('DROP TRIGGER test_no_sql ON ttp_rule');
    await raw.run('DROP FUNCTION test_no_sql()');
  };
}

for (const backend of BACKENDS) {
  describe(`input bounds of rule writes and positions (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'bounds');
      store = await fx.open();
      await store.upsertRules(['B1', 'B2'].map((id) => ({ yaml: ruleYaml(id) })));
    });
    after(async () => fx.teardown());

    test('sourcePath, updatedBy and pruneUnder: NUL or over-long is RULE_INVALID before any SQL', async () => {
      const allow = await refuseRuleWrites(backend, fx.raw());
      try {
        const invalid = (field: RegExp) => code('RULE_INVALID', field);
        await assert.rejects(store.upsertRule(ruleYaml('B3'), { sourcePath: 'rules/b\u00003.yaml' }), invalid(/sourcePath: contains a NUL character/));
        await assert.rejects(store.upsertRule(ruleYaml('B3'), { sourcePath: `rules/${'p'.repeat(4091)}` }), invalid(/sourcePath: is 4097 characters long; at most 4096/));
        await assert.rejects(store.upsertRule(ruleYaml('B3'), { updatedBy: 'c\u0000i' }), invalid(/updatedBy: contains a NUL character/));
        await assert.rejects(store.upsertRule(ruleYaml('B3'), { updatedBy: 'x'.repeat(257) }), invalid(/updatedBy: is 257 characters long; at most 256/));
        await assert.rejects(store.upsertRules([{ yaml: ruleYaml('B3') }, { yaml: ruleYaml('B4'), sourcePath: 'b\u00004.yaml' }]), invalid(/sourcePath: contains a NUL character/));
        await assert.rejects(store.upsertRules([{ yaml: ruleYaml('B3') }], { updatedBy: 'x'.repeat(1_000_000) }), invalid(/updatedBy: is 1000000 characters long/));
        await assert.rejects(store.upsertRules([{ yaml: ruleYaml('B3') }], { pruneUnder: 'rules/\u0000' }), invalid(/pruneUnder: contains a NUL character/));
        await assert.rejects(store.deleteRule('B1', { updatedBy: 'x\u0000' }), invalid(/updatedBy: contains a NUL character/));
        await assert.rejects(store.deleteRules(['B1', 'B2'], { updatedBy: 'x'.repeat(257) }), invalid(/updatedBy: is 257 characters/));
      } finally {
        await allow();
      }
      assert.deepEqual((await store.listRules()).map((r) => r.ruleId), ['B1', 'B2']);
    });

    test('the limits themselves are accepted', async () => {
      const sourcePath = `rules/${'p'.repeat(4090)}`;
      assert.equal(sourcePath.length, 4096);
      assert.equal((await store.upsertRule(ruleYaml('B3'), { sourcePath, updatedBy: 'u'.repeat(256) })).changed, true);
      const row = (await store.listRules()).find((r) => r.ruleId === 'B3');
      assert.equal(row?.sourcePath, sourcePath);
      assert.equal(row?.updatedBy, 'u'.repeat(256));
      assert.equal(await store.deleteRule('B3', { updatedBy: 'd'.repeat(256) }), true);
    });

    test('a position that does not fit in a bigint is POSITION_INVALID', async () => {
      const invalid = code('POSITION_INVALID', /beyond the largest position/);
      assert.throws(() => store.changesSince('99999999999999999999999'), invalid);
      assert.throws(() => store.changesSince(9223372036854775808n), invalid);
      await assert.rejects(async () => store.waitForPosition('99999999999999999999999'), invalid);
      const consumer = await store.consumer('bounds-test');
      await assert.rejects(consumer.checkpoint('99999999999999999999999'), invalid);
      await consumer.remove();
    });

    test('a position beyond the head errors the stream with POSITION_INVALID (never a silent wait)', async () => {
      const head = BigInt((await store.stats()).head);
      await assert.rejects(
        firstValueFrom(store.changesSince((head + 1000n).toString()).pipe(timeout(10_000))),
        code('POSITION_INVALID', new RegExp(`position ${head + 1000n} is beyond the head of the log \\(${head}\\)`)),
      );
      await assert.rejects(firstValueFrom(store.changesSince('9223372036854775807').pipe(timeout(10_000))), code('POSITION_INVALID', /beyond the head/));
      // The head itself is fine: the stream waits for the next change and delivers it.
      const changes = collect(store.changesSince(head.toString()));
      await store.setState('B1', 'disabled', 'op');
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'B1' && c.kind === 'state'), 10_000, 'the next change after the head');
      changes.stop();
    });
  });
}
