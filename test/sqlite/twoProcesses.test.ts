import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { openRuleStore, type RuleChange, type RuleStore } from '../../src/index.js';
import { createTestSqliteFile } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';
import { spawnFixture } from './spawnFixture.js';

const WAIT_MS = 5000;
/** Child processes start tsx first: give them longer than a change takes to arrive. */
const START_MS = 20_000;

const sqlite3Shell = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
const hasShell = sqlite3Shell.status === 0;

describe('several processes on one SQLite file', () => {
  const file = createTestSqliteFile('sqlite-processes');
  let store: RuleStore;

  before(async () => {
    store = await openRuleStore({ url: file.url, pollIntervalMs: 50 });
  });
  after(async () => {
    await store.close();
    await file.drop();
  });

  /** The next `n` changes of `ruleId` on this process's store. Subscribe before the other process writes. */
  const nextChanges = (ruleId: string, n: number, ms = START_MS): Promise<RuleChange[]> =>
    firstValueFrom(store.changes$.pipe(filter((c) => c.ruleId === ruleId), take(n), toArray(), timeout(ms)));

  test("a change written by another process reaches this process's changes$", async () => {
    const arrived = nextChanges('P1', 4);
    const writer = spawnFixture('writer', [
      file.url,
      JSON.stringify([
        { op: 'upsert', yaml: ruleYaml('P1'), by: 'child' },
        { op: 'state', ruleId: 'P1', state: 'disabled', by: 'child' },
        { op: 'upsert', yaml: ruleYaml('P1', { version: 2 }), by: 'child' },
        { op: 'delete', ruleId: 'P1', by: 'child' },
      ]),
    ]);
    const changes = await arrived;
    assert.equal(await writer.exited, 0);
    assert.deepEqual(
      changes.map((c) => [c.kind, c.actor, c.kind === 'definition' ? c.rule.ruleVersion : c.kind === 'state' ? c.state.state : null]),
      [['definition', 'child', 1], ['state', 'child', 'disabled'], ['definition', 'child', 2], ['deleted', 'child', null]],
    );
  });

  test('a change written by this process reaches a watcher in another process', async () => {
    const watcher = spawnFixture('watcher', [file.url]);
    try {
      await watcher.waitForLine((line) => line['kind'] === 'ready', START_MS, 'ready line');
      const seen = watcher.waitForLine((line) => line['ruleId'] === 'P2' && line['kind'] === 'state', WAIT_MS, 'the state change');
      await store.upsertRule(ruleYaml('P2'));
      await store.setState('P2', { state: 'clipped', confidenceMax: 0.5 }, 'parent');
      const line = await seen;
      assert.equal(line['state'], 'clipped');
      assert.equal(line['actor'], 'parent');
    } finally {
      await watcher.stop();
    }
  });

  test('an expiry set by another process is reverted and pushed here on time', async () => {
    const reverted = firstValueFrom(store.changes$.pipe(filter((c) => c.kind === 'state' && c.ruleId === 'P3' && c.expired), timeout(START_MS)));
    // The writer does not revert (revertExpired: false) and exits at once: this process's timer must.
    const writer = spawnFixture('writer', [
      file.url,
      JSON.stringify([
        { op: 'upsert', yaml: ruleYaml('P3'), by: 'child' },
        { op: 'state', ruleId: 'P3', state: 'disabled', by: 'child', expiresInMs: 1500 },
      ]),
    ]);
    assert.equal(await writer.exited, 0);
    const change = await reverted;
    const state = await store.history({ ruleId: 'P3', limit: 5 });
    const expiresAt = state.find((h) => h.kind === 'state' && !h.expired)?.state?.expiresAt;
    assert.ok(expiresAt, 'the child set an expiry');
    const lateMs = change.at!.getTime() - expiresAt.getTime();
    assert.ok(lateMs >= 0 && lateMs < 1000, `reverted ${lateMs} ms after the deadline`);
  });

  test('processes that open a fresh file at the same moment apply the schema exactly once', async () => {
    const url = `sqlite:${join(dirname(file.path), 'race.db')}`;
    const migrators = [1, 2, 3, 4].map(() => spawnFixture('migrator', [url]));
    const results = await Promise.all(migrators.map((m) => m.waitForLine(() => true, START_MS, 'the result')));
    assert.deepEqual(await Promise.all(migrators.map((m) => m.exited)), [0, 0, 0, 0]);
    const applied = results.filter((r) => Array.isArray(r) && r.length > 0);
    assert.equal(applied.length, 1, `one process applied the schema: ${JSON.stringify(results)}`);
  });

  test('edits made with the sqlite3 shell are logged like library writes', { skip: hasShell ? false : 'no sqlite3 shell on PATH' }, async () => {
    await store.upsertRule(ruleYaml('P4'));
    await store.waitForPosition((await store.snapshot()).position);
    const arrived = nextChanges('P4', 4, WAIT_MS);
    const script = [
      '.timeout 5000',
      `UPDATE ttp_rule SET rule_version = rule_version WHERE rule_id = 'P4';`,
      `INSERT INTO ttp_rule_state (rule_id, state, reason, set_by) VALUES ('P4', 'disabled', 'noisy', 'operator');`,
      `UPDATE ttp_rule_state SET state = 'clipped', confidence_max = 0.25 WHERE rule_id = 'P4';`,
      `UPDATE ttp_rule SET yaml_content = replace(yaml_content, 'rule_version: 1', 'rule_version: 3'), rule_version = 3 WHERE rule_id = 'P4';`,
      `DELETE FROM ttp_rule_state WHERE rule_id = 'P4';`,
    ].join('\n');
    const shell = spawnSync('sqlite3', ['-bail', file.path], { input: script, encoding: 'utf8' });
    assert.equal(shell.status, 0, shell.stderr);
    const changes = await arrived;
    assert.deepEqual(
      changes.map((c) => [c.kind, c.kind === 'state' ? [c.state.state, c.state.confidenceMax] : c.kind === 'definition' ? c.rule.ruleVersion : null]),
      [['state', ['disabled', null]], ['state', ['clipped', 0.25]], ['definition', 3], ['state', ['enabled', null]]],
    );
    assert.equal(changes[3]!.actor, 'sqlite');
  });
});
