import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { watchRules, type RuleIndex, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

const kinds = (index: RuleIndex): Record<string, string[]> =>
  Object.fromEntries([...index.byKind].sort(([a], [b]) => a.localeCompare(b)).map(([k, rules]) => [k, rules.map((r) => r.ruleId)]));

for (const backend of BACKENDS) {
  describe(`watchRules: the engine's live rule index (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'watchrules');
      store = await fx.open();
      await store.upsertRules([
        { yaml: ruleYaml('I1', { appliesTo: ['command'] }) },
        { yaml: ruleYaml('I2', { appliesTo: ['command', 'http_request'] }) },
        { yaml: ruleYaml('I3', { appliesTo: ['auth_attempt'] }) },
      ]);
    });
    after(async () => fx.teardown());

    test('indexes by id and kind, swaps, restamps, evicts, and ignores what it does not hold', async () => {
      const onlyCommandish = (r: { appliesTo: readonly string[] }): boolean => !r.appliesTo.includes('auth_attempt');
      const indexes = collect(watchRules(store, { predicate: onlyCommandish }));
      await indexes.waitForCount(1);
      const first = indexes.items[0]!;
      assert.deepEqual([...first.byId.keys()].sort(), ['I1', 'I2']);
      assert.deepEqual(kinds(first), { command: ['I1', 'I2'], http_request: ['I2'] });

      await store.upsertRule(ruleYaml('I1', { version: 2, appliesTo: ['http_request'] })); // swap, moves kind
      await indexes.waitFor((all) => all.at(-1)!.byId.get('I1')?.ruleVersion === 2, 10_000, 'the swap');
      assert.deepEqual(kinds(indexes.items.at(-1)!), { command: ['I2'], http_request: ['I1', 'I2'] });

      await store.setState('I3', 'disabled', 'op'); // not held: ignored, no new index
      await store.setState('I2', { state: 'clipped', confidenceMax: 0.1 }, 'op'); // restamp
      await indexes.waitFor((all) => all.at(-1)!.byId.get('I2')?.state.state === 'clipped', 10_000, 'the restamp');
      const restamped = indexes.items.at(-1)!;
      assert.equal(restamped.byKind.get('command')?.[0]?.state.confidenceMax, 0.1, 'every view of the rule is restamped');
      assert.ok(!restamped.byId.has('I3'));

      await store.upsertRule(ruleYaml('I2', { version: 3, appliesTo: ['auth_attempt'] })); // fails the predicate: evicted
      await indexes.waitFor((all) => !all.at(-1)!.byId.has('I2'), 10_000, 'the eviction by predicate');
      await store.deleteRule('I1');
      await indexes.waitFor((all) => all.at(-1)!.byId.size === 0, 10_000, 'the deletion');
      assert.deepEqual(kinds(indexes.items.at(-1)!), {});

      // Every index handed out is frozen and was never mutated afterwards.
      assert.ok(indexes.items.every((i) => Object.isFrozen(i)));
      assert.deepEqual(kinds(first), { command: ['I1', 'I2'], http_request: ['I2'] });
      for (let i = 1; i < indexes.items.length; i++) {
        assert.ok(BigInt(indexes.items[i]!.position) > BigInt(indexes.items[i - 1]!.position));
      }
      indexes.stop();
    });
  });
}
