import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

describe('ttp-rules prune and consumers (Postgres)', () => {
  let db: TestDatabase;
  let store: RuleStore;

  before(async () => {
    db = await createTestDatabase('cli_prune');
    store = await openRuleStore({ url: db.url });
    for (let v = 1; v <= 5; v++) await store.upsertRule(ruleYaml('P1', { version: v }));
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('consumers lists named consumers with their lag; prune is held back by them unless --force', async () => {
    const consumer = await store.consumer('engine-a', { startAt: 'beginning' });
    await consumer.checkpoint('2');
    const listed = await runCli(['consumers', '--db', db.url, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.json(), [{ name: 'engine-a', position: '2', lag: '3', updatedAt: listed.json<{ updatedAt: string }>()[0]!.updatedAt }]);
    const held = await runCli(['prune', '--keep', '0', '--db', db.url, '--json']);
    assert.equal(held.code, 0, held.stderr);
    assert.deepEqual(held.json(), [{ deleted: 2, before: '2', heldBackBy: 'engine-a' }]);
    const forced = await runCli(['prune', '--keep', '0', '--force', '--db', db.url]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /deleted 2 superseded event\(s\) at or below position 5/);
    assert.equal((await store.history()).length, 1, 'only the newest event of the rule is left');
  });

  it('refuses a --keep that is neither a count nor an age, with exit 2', async () => {
    const bad = await runCli(['prune', '--keep', 'lots', '--db', db.url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^ttp-rules: .*--keep.*count/m);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  });
});
