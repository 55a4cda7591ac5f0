import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { firstValueFrom, take, toArray } from 'rxjs';
import { DEFAULT_RULE_STATE, applyCeiling, isActive, watchRules, type RuleChange, type RuleIndex, type RuleStore } from '../../src/index.js';
import { changeJson } from '../../src/domain/changeJson.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

/** The `ttp-rules watch --json` line of a change. */
const line = (change: RuleChange): string => JSON.stringify(changeJson(change));
const isRevert = (id: string) => (c: RuleChange): boolean => c.ruleId === id && c.kind === 'state' && c.expired;

for (const backend of BACKENDS) {
  describe(`immutable events (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'immutable');
      store = await fx.open();
    });
    after(async () => fx.teardown());

    test('a replay from 0 of an expired state equals the live stream byte for byte', async () => {
      const live = collect(store.changes$);
      await store.upsertRule(ruleYaml('IM1'));
      const expiresAt = new Date(Date.now() + 300);
      await store.setState('IM1', { state: 'clipped', confidenceMax: 0.2, reason: 'noisy', expiresAt }, 'alice');
      // A definition written while the state holds carries the state row as written.
      await store.upsertRule(ruleYaml('IM1', { version: 2 }));
      await live.waitFor((items) => items.some(isRevert('IM1')), 10_000, 'the expiry revert');
      // A state already expired when written (a hand edit) is delivered as written too, then reverted.
      const raw = fx.raw();
      await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, expires_at, set_by) VALUES ('IM1', 'disabled', $1, 'psql')`, [new Date(Date.now() - 60_000)]);
      await live.waitFor((items) => items.filter(isRevert('IM1')).length >= 2, 10_000, 'the second revert');
      await store.setState('IM2', 'enabled', 'sentinel');
      await live.waitFor((items) => items.some((c) => c.actor === 'sentinel'), 10_000, 'the sentinel');
      live.stop();
      const head = live.items.at(-1)!.position;
      // Everything we read is now past its expiry: a fresh store replays it later.
      assert.ok(Date.now() > expiresAt.getTime());

      const setEvent = live.items.find((c) => c.kind === 'state' && c.state.state === 'clipped');
      assert.ok(setEvent && setEvent.kind === 'state');
      assert.equal(setEvent.state.expiresAt?.getTime(), expiresAt.getTime(), 'the state as written, expiresAt included');
      assert.equal(setEvent.state.confidenceMax, 0.2);
      assert.equal(setEvent.expired, false);
      // Engines apply the expiry: once passed, the state counts as the default.
      assert.equal(isActive(setEvent.state), true);
      assert.equal(applyCeiling(0.9, setEvent.state), 0.9);
      assert.equal(applyCeiling(0.9, setEvent.state, new Date(expiresAt.getTime() - 1)), 0.2);
      const v2 = live.items.find((c) => c.kind === 'definition' && c.rule.ruleVersion === 2);
      assert.ok(v2 && v2.kind === 'definition');
      assert.equal(v2.rule.state.state, 'clipped', 'the definition carries the state row as written');
      const handSet = live.items.find((c) => c.kind === 'state' && c.state.state === 'disabled');
      assert.ok(handSet && handSet.kind === 'state' && handSet.state.expiresAt !== null);
      assert.equal(isActive(handSet.state), true, 'an expired disabled state is active');
      const reverts = live.items.filter(isRevert('IM1'));
      for (const revert of reverts) assert.deepEqual(revert.kind === 'state' && revert.state, DEFAULT_RULE_STATE);

      const expected = live.items.map(line);
      const count = live.items.length;
      // The same store's replay, a fresh store's replay, and a named consumer's.
      const replayed = await firstValueFrom(store.changesSince(0n).pipe(take(count), toArray()));
      assert.deepEqual(replayed.map(line), expected);
      const fresh = await fx.open();
      const fromFresh = await firstValueFrom(fresh.changesSince('0').pipe(take(count), toArray()));
      assert.deepEqual(fromFresh.map(line), expected);
      const consumer = await fresh.consumer('audit', { startAt: 'beginning' });
      const fromConsumer = await firstValueFrom(consumer.changes().pipe(take(count), toArray()));
      assert.deepEqual(fromConsumer.map(line), expected);
      assert.equal(fromConsumer.at(-1)!.position, head);
      await consumer.remove();
      await fresh.close();
    });

    test('watchRules holds the state as written and dispatches it as the default once expired', async () => {
      await store.upsertRule(ruleYaml('IM3'));
      const expiresAt = new Date(Date.now() + 300);
      const indexes = collect(watchRules(store));
      await indexes.waitForCount(1);
      await store.setState('IM3', { state: 'disabled', expiresAt }, 'bob');
      await indexes.waitFor((items) => items.some((i) => i.byId.get('IM3')?.state.state === 'disabled'), 10_000, 'the disabled state');
      const disabled = indexes.items.find((i) => i.byId.get('IM3')?.state.state === 'disabled') as RuleIndex;
      const rule = disabled.byId.get('IM3')!;
      assert.equal(isActive(rule.state, new Date(expiresAt.getTime() - 1)), false);
      assert.equal(isActive(rule.state, expiresAt), true);
      await indexes.waitFor((items) => items.at(-1)!.byId.get('IM3')?.state.state === 'enabled', 10_000, 'the revert in the index');
      indexes.stop();
      // The snapshot still gives the effective state now.
      const snap = await store.snapshot();
      assert.deepEqual(snap.rules.find((r) => r.ruleId === 'IM3')?.state, DEFAULT_RULE_STATE);
    });
  });
}
