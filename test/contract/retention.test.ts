import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RuleStoreError, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';
import { applyChange, normalise, viewFromSnapshot } from '../helpers/view.js';

for (const backend of BACKENDS) {
  describe(`log retention, resync and named consumers (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'retention');
      store = await fx.open();
    });
    after(async () => fx.teardown());

    test('a consumer older than the retained log gets a compacted resync and a warning, never a silent hole', async () => {
      await store.upsertRules(['A', 'B', 'C', 'D'].map((id) => ({ yaml: ruleYaml(`RT${id}`) })));
      const old = await store.snapshot(); // a consumer that stopped here
      const view = viewFromSnapshot(old);
      for (let v = 2; v < 6; v++) await store.upsertRule(ruleYaml('RTA', { version: v }));
      await store.setState('RTB', 'disabled', 'op');
      await store.setState('RTB', { state: 'clipped', confidenceMax: 0.2 }, 'op');
      await store.deleteRule('RTC');
      await store.clearState('RTB', 'op');
      await store.upsertRule(ruleYaml('RTE'));
      const result = await store.prune({ keepCount: 0 });
      assert.ok(result.deleted > 0, 'superseded events were deleted');
      // Only superseded events go: every rule and entity keeps its newest event.
      const history = await store.history({ limit: 1000 });
      const keys = history.map((h) => `${h.ruleId}/${h.kind === 'state' ? 'state' : 'rule'}`);
      assert.equal(new Set(keys).size, keys.length, 'one event per key remains');

      const errors = collect<RuleStoreError>(store.errors$);
      const resync = collect(store.changesSince(old.position));
      const head = (await store.snapshot()).position;
      await resync.waitFor((items) => items.length > 0 && items.at(-1)!.position === head, 10_000, 'the resync');
      await errors.waitFor((items) => items.some((e) => e.code === 'LOG_TRUNCATED'), 10_000, 'the warning');
      assert.match(errors.items.find((e) => e.code === 'LOG_TRUNCATED')!.message, /older than the retained log/);
      for (const change of resync.items) applyChange(view, change);
      assert.deepEqual(normalise(view), normalise(viewFromSnapshot(await store.snapshot())), 'the resync takes the old view to the database state, deletions included');
      assert.ok(resync.items.some((c) => c.ruleId === 'RTC' && c.kind === 'deleted'));
      for (let i = 1; i < resync.items.length; i++) assert.ok(BigInt(resync.items[i]!.position) > BigInt(resync.items[i - 1]!.position));
      resync.stop();
      errors.stop();
    });

    test('retention never trims past the slowest registered consumer unless forced', async () => {
      const slow = await store.consumer('slow-engine');
      const at = (await store.snapshot()).position;
      await slow.checkpoint(at);
      for (let v = 10; v < 15; v++) await store.upsertRule(ruleYaml('RTA', { version: v }));
      const held = await store.prune({ keepCount: 0 });
      assert.equal(held.heldBackBy, 'slow-engine');
      assert.equal(held.before, at);
      const replay = collect(store.changesSince(at));
      await replay.waitForCount(5);
      assert.deepEqual(replay.items.map((c) => c.kind === 'definition' && c.rule.ruleVersion), [10, 11, 12, 13, 14], 'full history kept for the registered consumer');
      replay.stop();
      const listed = await store.consumers();
      assert.deepEqual(listed.map((c) => [c.name, c.position, c.lag]), [['slow-engine', at, String(BigInt(store.position()) - BigInt(at))]]);
      const forced = await store.prune({ keepCount: 0, force: true });
      assert.equal(forced.heldBackBy, null);
      assert.ok(forced.deleted >= 4);
      assert.equal(await slow.remove(), true);
      await assert.rejects(store.prune({}), (e: unknown) => RuleStoreError.is(e) && e.code === 'CONFIG_INVALID');
    });

    test('a named consumer resumes after a crash from its stored checkpoint', async () => {
      const first = await fx.open();
      const consumer = await first.consumer('bridge-1');
      assert.equal(await consumer.position(), first.position(), 'registered at the head');
      const seen = collect(consumer.changes());
      for (let i = 0; i < 4; i++) await store.setState('RTA', { state: 'disabled', reason: `n${i}` }, 'op');
      await seen.waitForCount(4);
      await consumer.checkpoint(seen.items[1]!.position); // processed two, then "crashed"
      seen.stop();
      await first.close();
      const again = await (await fx.open()).consumer('bridge-1');
      const resumed = collect(again.changes());
      await resumed.waitForCount(2);
      assert.deepEqual(resumed.items.map((c) => c.position), seen.items.slice(2).map((c) => c.position));
      await again.checkpoint(seen.items[0]!.position);
      assert.equal(await again.position(), seen.items[1]!.position, 'a checkpoint never moves backwards');
      resumed.stop();
    });
  });
}
