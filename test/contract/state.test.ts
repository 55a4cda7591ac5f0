import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_RULE_STATE, RuleStoreError, type RuleChange, type RuleStore, type StateChange } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

const isState = (c: RuleChange): c is StateChange => c.kind === 'state';

for (const backend of BACKENDS) {
  describe(`operational state (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'state');
      store = await fx.open();
      await store.upsertRules(['S1', 'S2', 'S3'].map((id) => ({ yaml: ruleYaml(id) })));
    });
    after(async () => fx.teardown());

    test('an unknown or impossible rule id reads as the default state, never null or a throw', async () => {
      assert.deepEqual(await store.getState('NO_SUCH_RULE'), DEFAULT_RULE_STATE);
      assert.deepEqual(await store.getState('bad.id'), DEFAULT_RULE_STATE);
    });

    test('setState round-trips faithfully, stamps setBy/setAt, and touches no other rule', async () => {
      const changes = collect(store.changes$);
      const expiresAt = new Date(Date.now() + 3_600_000);
      const before = Date.now();
      const stored = await store.setState('S1', { state: 'clipped', confidenceMax: 0.4, reason: 'noisy', expiresAt }, 'alice');
      assert.equal(stored.state, 'clipped');
      assert.equal(stored.confidenceMax, 0.4);
      assert.equal(stored.reason, 'noisy');
      assert.equal(stored.setBy, 'alice');
      assert.equal(stored.expiresAt?.getTime(), expiresAt.getTime());
      assert.ok(stored.setAt instanceof Date);
      assert.ok(Math.abs(stored.setAt.getTime() - before) < 60_000, 'setAt is now (database clock)');
      assert.deepEqual(await store.getState('S1'), stored);
      assert.deepEqual(await store.getState('S2'), DEFAULT_RULE_STATE);
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'S1' && isState(c)), 10_000, 'the state change');
      const change = changes.items.find((c) => c.ruleId === 'S1' && isState(c)) as StateChange;
      assert.deepEqual(change.state, stored);
      assert.equal(change.actor, 'alice');
      assert.equal(change.expired, false);
      changes.stop();
    });

    test('invalid states are refused with a clear error and change nothing', async () => {
      const before = await store.getState('S1');
      await assert.rejects(store.setState('S1', { state: 'off' as never }, 'bob'), (e: unknown) => RuleStoreError.is(e) && e.code === 'STATE_INVALID' && /state/.test(e.message));
      await assert.rejects(store.setState('S1', { state: 'clipped', confidenceMax: 7 }, 'bob'), (e: unknown) => RuleStoreError.is(e) && e.code === 'STATE_INVALID' && /confidenceMax/.test(e.message));
      await assert.rejects(store.setState('S1', { state: 'clipped', confidenceMax: Number.NaN }, 'bob'), (e: unknown) => RuleStoreError.is(e) && e.code === 'STATE_INVALID');
      await assert.rejects(store.setState('S 1', 'disabled', 'bob'), (e: unknown) => RuleStoreError.is(e) && e.code === 'RULE_INVALID' && /rule_id/.test(e.message));
      await assert.rejects(store.setState('S1', 'disabled', ''), (e: unknown) => RuleStoreError.is(e) && e.code === 'STATE_INVALID' && /setBy/.test(e.message));
      assert.deepEqual(await store.getState('S1'), before);
    });

    test('input bounds: refused with STATE_INVALID before any SQL, naming the field', async () => {
      // A trigger that refuses every state write: an input that reached SQL would fail with its message instead.
      const raw = fx.raw();
      if (backend === 'sqlite') {
        await raw.run(`CREATE TRIGGER test_no_sql BEFORE INSERT ON ttp_rule_state BEGIN SELECT RAISE(ABORT, 'reached SQL'); END`);
      } else {
        await raw.run(`CREATE FUNCTION test_no_sql() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'reached SQL'; END $$`);
        await raw.run(`CREATE TRIGGER test_no_sql BEFORE INSERT OR UPDATE OR DELETE ON ttp_rule_state FOR EACH ROW EXECUTE FUNCTION test_no_sql()`);
      }
      const invalid = (field: RegExp) => (e: unknown) => RuleStoreError.is(e) && e.code === 'STATE_INVALID' && field.test(e.message) && e.cause === undefined && !/reached SQL/.test(e.message);
      const before = await store.getState('S2');
      try {
        // clipped caps nothing without a ceiling
        await assert.rejects(store.setState('S2', 'clipped', 'op'), invalid(/confidenceMax: is required when the state is clipped/));
        await assert.rejects(store.setState('S2', { state: 'clipped', confidenceMax: null }, 'op'), invalid(/confidenceMax/));
        // expiresAt: in the future, a valid date, at most the last millisecond of year 9999
        await assert.rejects(store.setState('S2', { state: 'disabled', expiresAt: new Date(Date.now() - 60_000) }, 'op'), invalid(/expiresAt: .* is not in the future/));
        await assert.rejects(store.setState('S2', { state: 'disabled', expiresAt: new Date() }, 'op'), invalid(/expiresAt: .* is not in the future/));
        await assert.rejects(store.setState('S2', { state: 'disabled', expiresAt: new Date('+010000-01-01T00:00:00Z') }, 'op'), invalid(/expiresAt: is after 9999-12-31T23:59:59.999Z/));
        await assert.rejects(store.setState('S2', { state: 'disabled', expiresAt: new Date(Number.NaN) }, 'op'), invalid(/expiresAt/));
        await assert.rejects(store.setState('S2', { state: 'disabled', expiresAt: '2030-01-01' as never }, 'op'), invalid(/expiresAt/));
        // NUL characters and over-long text
        await assert.rejects(store.setState('S2', 'disabled', 'al\u0000ice'), invalid(/setBy contains a NUL character/));
        await assert.rejects(store.setState('S2', { state: 'disabled', reason: 'noisy\u0000' }, 'op'), invalid(/reason: contains a NUL character/));
        await assert.rejects(store.setState('S2', 'disabled', 'x'.repeat(257)), invalid(/setBy is 257 characters long; at most 256/));
        await assert.rejects(store.setState('S2', 'disabled', 'x'.repeat(1_000_000)), invalid(/setBy is 1000000 characters long/));
        await assert.rejects(store.setState('S2', { state: 'disabled', reason: 'r'.repeat(4097) }, 'op'), invalid(/reason: is 4097 characters long; at most 4096/));
        await assert.rejects(store.clearState('S2', 'al\u0000ice'), invalid(/clearState: setBy contains a NUL/));
        await assert.rejects(store.clearState('S2', 'x'.repeat(257)), invalid(/clearState: setBy is 257 characters/));
      } finally {
        await raw.run('DROP TRIGGER test_no_sql' + (backend === 'sqlite' ? '' : ' ON ttp_rule_state'));
      }
      assert.deepEqual(await store.getState('S2'), before);
    });

    test('input bounds: the limits themselves are accepted and stored as given', async () => {
      const latest = new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
      const stored = await store.setState('S2', { state: 'clipped', confidenceMax: 0, reason: 'r'.repeat(4096), expiresAt: latest }, 'x'.repeat(256));
      assert.equal(stored.expiresAt?.toISOString(), '9999-12-31T23:59:59.999Z');
      assert.equal(stored.reason?.length, 4096);
      assert.equal(stored.setBy?.length, 256);
      assert.deepEqual(await store.getState('S2'), stored);
      assert.equal(await store.clearState('S2', 'y'.repeat(256)), true);
    });

    test('the database itself refuses states that can never be valid', async () => {
      const raw = fx.raw();
      await assert.rejects(raw.run(`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('S3', 'off')`));
      await assert.rejects(raw.run(`INSERT INTO ttp_rule_state (rule_id, state, confidence_max) VALUES ('S3', 'clipped', 7)`));
      await assert.rejects(raw.run(`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('S3.x', 'disabled')`));
      assert.deepEqual(await store.getState('S3'), DEFAULT_RULE_STATE);
    });

    test('a write the database refuses raises instead of drifting silently', async () => {
      const raw = fx.raw();
      if (backend === 'sqlite') {
        await raw.run(`CREATE TRIGGER test_refuse BEFORE INSERT ON ttp_rule_state WHEN NEW.reason = 'refuse me' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`);
      } else {
        await raw.run(`CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$`);
        await raw.run(`CREATE TRIGGER test_refuse BEFORE INSERT ON ttp_rule_state FOR EACH ROW WHEN (NEW.reason = 'refuse me') EXECUTE FUNCTION test_refuse()`);
      }
      await assert.rejects(store.setState('S2', { state: 'disabled', reason: 'refuse me' }, 'carol'), (e: unknown) => RuleStoreError.is(e) && /refused by test/.test(e.message));
      assert.deepEqual(await store.getState('S2'), DEFAULT_RULE_STATE);
      await raw.run('DROP TRIGGER test_refuse' + (backend === 'sqlite' ? '' : ' ON ttp_rule_state'));
    });

    test('clearState reverts to the default and emits it', async () => {
      await store.setState('S2', 'disabled', 'dave');
      const changes = collect(store.changes$);
      assert.equal(await store.clearState('S2', 'dave'), true);
      assert.deepEqual(await store.getState('S2'), DEFAULT_RULE_STATE);
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'S2' && isState(c) && c.state.state === 'enabled'), 10_000, 'the clear');
      const change = changes.items.find((c) => c.ruleId === 'S2' && isState(c) && c.state.state === 'enabled') as StateChange;
      assert.deepEqual(change.state, DEFAULT_RULE_STATE);
      assert.equal(change.actor, 'dave');
      assert.equal(await store.clearState('S2', 'dave'), false);
      changes.stop();
    });

    test('an expiring state is reverted and pushed on time, without any getState, written once', async () => {
      const other = await fx.open(); // a second process-like store: both race to revert
      const changes = collect(store.changes$);
      const otherChanges = collect(other.changes$);
      await store.setState('S3', { state: 'disabled', expiresAt: new Date(Date.now() + 400) }, 'erin');
      const isRevert = (c: RuleChange): boolean => c.ruleId === 'S3' && isState(c) && c.expired;
      await changes.waitFor((items) => items.some(isRevert), 10_000, 'the expiry revert');
      await otherChanges.waitFor((items) => items.some(isRevert), 10_000, 'the expiry revert on the other store');
      const revert = changes.items.find(isRevert) as StateChange;
      assert.deepEqual(revert.state, DEFAULT_RULE_STATE);
      // A sentinel write after the revert: every store has delivered everything before it.
      await store.setState('S1', 'enabled', 'sentinel');
      await changes.waitFor((items) => items.some((c) => c.actor === 'sentinel'), 10_000, 'the sentinel');
      assert.equal(changes.items.filter(isRevert).length, 1, 'exactly one revert event');
      const history = await store.history({ ruleId: 'S3' });
      assert.equal(history.filter((h) => h.expired).length, 1, 'the revert is written once');
      assert.deepEqual(await store.getState('S3'), DEFAULT_RULE_STATE);
      changes.stop();
      otherChanges.stop();
    });

    test('a state already expired reads as the default and is reverted by the read', async () => {
      const raw = fx.raw();
      const past = new Date(Date.now() - 60_000);
      const changes = collect(store.changes$);
      await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, expires_at, set_by) VALUES ('S2', 'disabled', $1, 'psql')`, [past]);
      assert.deepEqual(await store.getState('S2'), DEFAULT_RULE_STATE);
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'S2' && isState(c) && c.expired), 10_000, 'the revert');
      changes.stop();
    });

    test('state survives a new store instance on the same database', async () => {
      const stored = await store.setState('S1', { state: 'disabled', reason: 'keep me' }, 'frank');
      const fresh = await fx.open();
      assert.deepEqual(await fresh.getState('S1'), stored);
      await fresh.close();
    });

    test('writes on a closed store raise STORE_CLOSED', async () => {
      const closing = await fx.open();
      await closing.close();
      await assert.rejects(closing.setState('S1', 'enabled', 'x'), (e: unknown) => RuleStoreError.is(e) && e.code === 'STORE_CLOSED');
    });
  });
}
