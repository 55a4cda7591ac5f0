import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { after, test } from 'node:test';
import { LockTimeoutError, openRuleStore, type RuleStore } from '../../src/index.js';
import { createTestSqliteFile } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

// A write that meets another connection's write lock (another process writing, or
// a sqlite3 shell left in BEGIN) waits in short attempts with the event loop free,
// up to lockTimeoutMs, then fails with LOCK_TIMEOUT and writes nothing. Before, it
// waited inside SQLite's busy handler for 5 s with the event loop held (no read, no
// timer, no HTTP request of the same process ran meanwhile), then failed as
// STORE_UNAVAILABLE.
const file = createTestSqliteFile('write_lock');
let store: RuleStore;
let shell: Database.Database;
after(async () => {
  if (shell?.inTransaction) shell.exec('ROLLBACK');
  shell?.close();
  await store?.close();
  await file.drop();
});

test('a write blocked by an open sqlite3 transaction fails with LOCK_TIMEOUT after lockTimeoutMs, and reads are served meanwhile', async () => {
  store = await openRuleStore({ url: file.url, lockTimeoutMs: 600 });
  await store.upsertRule(ruleYaml('LOCK1'));
  shell = new Database(file.path);
  shell.exec('BEGIN IMMEDIATE');
  const order: string[] = [];
  const started = performance.now();
  const write = store.setState('LOCK1', 'disabled', 'alice').then(
    () => order.push('write resolved'),
    (error: unknown) => {
      order.push('write refused');
      return error;
    },
  );
  const read = store.snapshot().then((snapshot) => order.push(`read ${snapshot.rules.length}`));
  const [error] = await Promise.all([write, read]);
  const waited = performance.now() - started;
  assert.deepEqual(order, ['read 1', 'write refused'], 'the read was served while the write waited');
  assert.ok(error instanceof LockTimeoutError, String(error));
  assert.equal(error.code, 'LOCK_TIMEOUT');
  assert.match(error.message, /SQLite write lock on .* \(lockTimeoutMs 600\); nothing was written/);
  assert.ok(waited >= 600, `gave up after ${waited.toFixed(0)} ms, before lockTimeoutMs`);
  shell.exec('ROLLBACK');
  assert.equal((await store.getState('LOCK1')).state, 'enabled', 'nothing was written');
});

test('a write whose lock is released within lockTimeoutMs commits, once', async () => {
  shell.exec('BEGIN IMMEDIATE');
  const release = new Promise<void>((resolve) =>
    setTimeout(() => {
      shell.exec('COMMIT');
      resolve();
    }, 150),
  );
  const state = await store.setState('LOCK1', { state: 'clipped', confidenceMax: 0.4 }, 'bob');
  await release;
  assert.equal(state.state, 'clipped');
  assert.equal((await store.getState('LOCK1')).confidenceMax, 0.4);
  const stateEvents = (await store.history({ ruleId: 'LOCK1' })).filter((entry) => entry.kind === 'state');
  assert.equal(stateEvents.length, 1, 'one event: the retried attempt did not write twice');
});
