import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { filter, firstValueFrom, takeWhile, timeout, toArray } from 'rxjs';
import { openRuleStore, RuleValidationError, type RuleChange, type RuleStore, type StateChange } from '../../src/index.js';
import { createTestSqliteFile } from '../helpers/database.js';
import { FIXTURE_COUNT, fixtureFiles, readFixture, ruleYaml } from '../helpers/rules.js';

type Db = Database.Database;
const WAIT_MS = 5000;

/**
 * Every change up to and including the next one by `actor` (a sentinel write):
 * positions follow commit order, so when the sentinel arrives, everything
 * committed before it has arrived too. Subscribe before writing.
 */
function changesUntil(store: RuleStore, actor: string): Promise<RuleChange[]> {
  return firstValueFrom(store.changes$.pipe(takeWhile((c) => c.actor !== actor, true), timeout(WAIT_MS), toArray()));
}

/** The sentinel: a state write on its own rule, by `actor`. */
function sentinel(db: Db, actor: string): void {
  db.prepare(
    `INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES ('SENTINEL', 'enabled', ?)
     ON CONFLICT (rule_id) DO UPDATE SET set_by = excluded.set_by`,
  ).run(actor);
}

/** Resolves once the store has delivered every change committed so far (so a new subscriber sees only later ones). */
async function caughtUp(store: RuleStore): Promise<void> {
  await store.waitForPosition((await store.snapshot()).position);
}

/** Runs hand edits on `db` (another connection, as in the sqlite3 shell) and returns the changes they caused. */
async function handEdits(store: RuleStore, db: Db, edits: () => void): Promise<RuleChange[]> {
  await caughtUp(store);
  const actor = `sentinel-${Math.random().toString(36).slice(2)}`;
  const arrived = changesUntil(store, actor);
  edits();
  sentinel(db, actor);
  return (await arrived).filter((c) => c.ruleId !== 'SENTINEL');
}

const summary = (changes: readonly RuleChange[]) =>
  changes.map((c) => [c.kind, c.ruleId, c.kind === 'state' ? c.state.state : c.kind === 'definition' ? c.rule.ruleVersion : null]);

describe('SQLite backend', () => {
  const file = createTestSqliteFile('sqlite-backend');
  let store: RuleStore;

  before(async () => {
    store = await openRuleStore({ url: file.url, pollIntervalMs: 50 });
  });
  after(async () => {
    await store.close();
    await file.drop();
  });

  // The same edits with recursive_triggers off (the default) and on: the
  // triggers must not depend on a setting of the operator's connection.
  for (const recursive of [false, true]) {
    describe(`hand edits on another connection (recursive_triggers ${recursive ? 'on' : 'off'})`, () => {
      let db: Db;
      const id = (name: string) => `${name}_${recursive ? 'R' : 'N'}`;

      before(() => {
        db = new Database(file.path);
        db.pragma('busy_timeout = 5000');
        db.pragma(`recursive_triggers = ${recursive ? 'ON' : 'OFF'}`);
      });
      after(() => db.close());

      test('insert, update and delete on ttp_rule each yield exactly the right change', async () => {
        const rule = id('HR');
        const changes = await handEdits(store, db, () => {
          db.prepare(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES (?, 1, ?, 'shell-user')`).run(rule, ruleYaml(rule));
          db.prepare(`UPDATE ttp_rule SET yaml_content = ?, rule_version = 2 WHERE rule_id = ?`).run(ruleYaml(rule, { version: 2 }), rule);
          db.prepare(`DELETE FROM ttp_rule WHERE rule_id = ?`).run(rule);
        });
        assert.deepEqual(summary(changes), [['definition', rule, 1], ['definition', rule, 2], ['deleted', rule, null]]);
        assert.equal(changes[0]!.actor, 'shell-user');
        assert.equal(changes[2]!.actor, 'sqlite', 'a hand delete is recorded as the sqlite shell');
        const positions = changes.map((c) => BigInt(c.position));
        assert.ok(positions.every((p, i) => i === 0 || p > positions[i - 1]!), 'positions strictly increase');
      });

      test('insert, update and delete on ttp_rule_state each yield exactly the right change; set_at is refreshed', async () => {
        const rule = id('HS');
        await store.upsertRule(ruleYaml(rule));
        let setAtBefore = '';
        const changes = await handEdits(store, db, () => {
          db.prepare(`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by, set_at) VALUES (?, 'disabled', 'noisy', 'op', '2020-01-01T00:00:00.000Z')`).run(rule);
          setAtBefore = (db.prepare('SELECT set_at FROM ttp_rule_state WHERE rule_id = ?').get(rule) as { set_at: string }).set_at;
          db.prepare(`UPDATE ttp_rule_state SET state = 'clipped', confidence_max = 0.3 WHERE rule_id = ?`).run(rule);
          db.prepare(`DELETE FROM ttp_rule_state WHERE rule_id = ?`).run(rule);
        });
        const states = changes as StateChange[];
        assert.deepEqual(states.map((c) => [c.kind, c.state.state, c.state.confidenceMax]), [['state', 'disabled', null], ['state', 'clipped', 0.3], ['state', 'enabled', null]]);
        assert.equal(setAtBefore, '2020-01-01T00:00:00.000Z', 'an explicit set_at is kept on insert');
        assert.ok(states[1]!.state.setAt!.getTime() > Date.parse(setAtBefore), 'a hand edit that leaves set_at alone gets a fresh one');
        assert.equal(states[2]!.expired, false);
      });

      test('a no-op update yields no change and keeps updated_at; an update that forgets updated_at is seen and stamped', async () => {
        const rule = id('HN');
        await store.upsertRule(ruleYaml(rule));
        const stamp = () => (db.prepare('SELECT updated_at FROM ttp_rule WHERE rule_id = ?').get(rule) as { updated_at: string }).updated_at;
        const before = stamp();
        const none = await handEdits(store, db, () => {
          db.prepare('UPDATE ttp_rule SET rule_version = rule_version, yaml_content = yaml_content WHERE rule_id = ?').run(rule);
          db.prepare(`UPDATE ttp_rule SET updated_at = '1999-01-01T00:00:00.000Z' WHERE rule_id = ?`).run(rule);
          db.prepare(`UPDATE ttp_rule_state SET state = state, set_at = set_at WHERE rule_id = 'SENTINEL'`).run();
        });
        assert.deepEqual(none, []);
        assert.equal(stamp(), before, 'updated_at belongs to the database: a hand value alone is ignored');

        const seen = await handEdits(store, db, () => {
          db.prepare('UPDATE ttp_rule SET yaml_content = ? WHERE rule_id = ?').run(ruleYaml(rule, { confidence: 0.9 }), rule);
        });
        assert.equal(seen.length, 1);
        assert.equal((seen[0] as Extract<RuleChange, { kind: 'definition' }>).rule.emits[0]?.confidence, 0.9);
        assert.notEqual(stamp(), before, 'updated_at was maintained by the database');
        assert.ok(Date.parse(stamp()) > Date.parse(before));
      });

      test('renaming a rule_id by hand logs a delete of the old id and an upsert of the new one', async () => {
        const [from, to] = [id('HA'), id('HB')];
        await store.upsertRule(ruleYaml(from));
        const changes = await handEdits(store, db, () => {
          db.prepare('UPDATE ttp_rule SET rule_id = ?, yaml_content = ? WHERE rule_id = ?').run(to, ruleYaml(to), from);
        });
        assert.deepEqual(summary(changes), [['deleted', from, null], ['definition', to, 1]]);
      });

      test('a bad yaml_content written by hand yields an errors$ event and no change', async () => {
        const rule = id('HX');
        await store.upsertRule(ruleYaml(rule));
        const error = firstValueFrom(store.errors$.pipe(filter((e) => e instanceof RuleValidationError && e.ruleId === rule), timeout(WAIT_MS)));
        const changes = await handEdits(store, db, () => {
          db.prepare('UPDATE ttp_rule SET yaml_content = ? WHERE rule_id = ?').run('rule_id: x\nrule_version: [broken', rule);
        });
        assert.deepEqual(changes, []);
        const reported = (await error) as RuleValidationError;
        assert.equal(reported.code, 'RULE_INVALID');
        assert.ok(reported.position !== null && BigInt(reported.position) > 0n);
        const snapshot = await store.snapshot();
        assert.equal(snapshot.rules.find((r) => r.ruleId === rule)?.ruleVersion, 1, 'the last good version stays in force');
      });
    });
  }

  test('library deletes record the caller as actor; the actor row never outlives its transaction', async () => {
    await store.upsertRule(ruleYaml('LD'));
    await store.setState('LD', 'disabled', 'alice');
    await caughtUp(store);
    const arrived = firstValueFrom(store.changes$.pipe(filter((c) => c.ruleId === 'LD'), takeWhile((c) => c.kind !== 'deleted', true), timeout(WAIT_MS), toArray()));
    assert.equal(await store.clearState('LD', 'bob'), true);
    assert.equal(await store.deleteRule('LD', { updatedBy: 'carol' }), true);
    assert.deepEqual((await arrived).map((c) => [c.kind, c.actor]), [['state', 'bob'], ['deleted', 'carol']]);
    const db = new Database(file.path);
    try {
      const { n } = db.prepare('SELECT count(*) AS n FROM ttp_rule_store_actor').get() as { n: number };
      assert.equal(n, 0, 'the actor row never outlives its transaction');
    } finally {
      db.close();
    }
  });

  test('an expiring state is reverted on time, without a read, written once for two stores on the file', async () => {
    await store.upsertRule(ruleYaml('EX'));
    const other = await openRuleStore({ url: file.url, pollIntervalMs: 50 });
    try {
      const reverted = (s: RuleStore) =>
        firstValueFrom(s.changes$.pipe(filter((c): c is StateChange => c.kind === 'state' && c.ruleId === 'EX' && c.expired), timeout(WAIT_MS)));
      const [here, there] = [reverted(store), reverted(other)];
      const expiresAt = new Date(Date.now() + 400);
      await store.setState('EX', { state: 'disabled', expiresAt }, 'op');
      const change = await here;
      const lateMs = Date.now() - expiresAt.getTime();
      assert.ok(lateMs >= 0 && lateMs < 1000, `reverted ${lateMs} ms after the deadline`);
      assert.deepEqual(change.state.state, 'enabled');
      assert.equal(change.actor, 'ttp-rules:expiry');
      assert.equal((await there).position, change.position, 'both stores see the one revert');
      const history = await store.history({ ruleId: 'EX' });
      assert.equal(history.filter((h) => h.expired).length, 1, 'the revert is written once');
    } finally {
      await other.close();
    }
  });

  test('every fixture rule loads in one batch; a second identical batch changes nothing; prune deletes by source path', async () => {
    const files = fixtureFiles();
    assert.equal(files.length, FIXTURE_COUNT);
    const documents = files.map((path) => ({ yaml: readFixture(path), sourcePath: `corpus/${path.split('/').at(-1)}` }));
    const first = await store.upsertRules(documents, { updatedBy: 'sync' });
    assert.equal(first.upserted.length, FIXTURE_COUNT);
    const ids = new Set(first.upserted);
    const snapshot = await store.snapshot();
    assert.equal(snapshot.rules.filter((r) => ids.has(r.ruleId)).length, FIXTURE_COUNT);
    assert.deepEqual(snapshot.errors.filter((e) => e.ruleId !== null && ids.has(e.ruleId)), []);

    const again = await store.upsertRules(documents, { updatedBy: 'sync' });
    assert.deepEqual([again.upserted.length, again.unchanged.length], [0, FIXTURE_COUNT]);
    assert.equal((await store.snapshot()).position, snapshot.position, 'identical content appends no event');

    const pruned = await store.upsertRules(documents.slice(0, FIXTURE_COUNT - 9), { updatedBy: 'sync', pruneUnder: 'corpus/' });
    assert.equal(pruned.deleted.length, 9);
    assert.equal((await store.snapshot()).rules.filter((r) => ids.has(r.ruleId)).length, FIXTURE_COUNT - 9);
  });

  test('sqlite::memory: works as a private store; local writes are delivered at once', async () => {
    const memory = await openRuleStore({ url: 'sqlite::memory:', pollIntervalMs: 60_000 });
    try {
      const arrived = firstValueFrom(memory.changes$.pipe(timeout(WAIT_MS)));
      await memory.upsertRule(ruleYaml('M1'));
      assert.equal((await arrived).ruleId, 'M1');
    } finally {
      await memory.close();
    }
  });
});
