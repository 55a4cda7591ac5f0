import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { syncDirectory, type DirectorySync, type RuleStore, type SyncReport } from '../../src/index.js';
import { BAD_RULES } from '../corpus/badRules.js';
import { createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

let fx: BackendFixture;
let store: RuleStore;
let dir: string;
let sync: DirectorySync;

before(async () => {
  fx = await createBackendFixture('postgres-listen', 'sync_hostile');
  store = await fx.open();
  dir = mkdtempSync(join(tmpdir(), 'ttp-sync-hostile-'));
  await writeFile(join(dir, 'KEEP.yaml'), ruleYaml('KEEP'));
  sync = await syncDirectory(store, dir, { watch: true });
  await store.waitForPosition((await store.snapshot()).position); // KEEP has been delivered
});
after(async () => {
  await sync.close();
  await fx.teardown();
  rmSync(dir, { recursive: true, force: true });
});

test('every corpus document saved into a synced directory is reported; the watcher and every other rule carry on', async () => {
  const reports = collect<SyncReport>(sync.reports$);
  const changes = collect(store.changes$);
  // Overwrite the good rule's file with each bad document in turn, and add each as a new file.
  for (const [i, bad] of BAD_RULES.entries()) {
    await writeFile(join(dir, `HOSTILE_${i}.yaml`), bad.bytes);
  }
  await writeFile(join(dir, 'KEEP.yaml'), BAD_RULES[0]!.bytes);
  await writeFile(join(dir, 'AFTER.yaml'), ruleYaml('AFTER'));
  await changes.waitFor((items) => items.some((c) => c.ruleId === 'AFTER'), 20_000, 'a valid file after the hostile ones');
  await sync.idle();
  const invalid = reports.items.flatMap((r) => r.invalid);
  const files = new Set(invalid.map((e) => e.source));
  for (let i = 0; i < BAD_RULES.length; i++) assert.ok(files.has(join(sync.directory, `HOSTILE_${i}.yaml`)), `HOSTILE_${i} (${BAD_RULES[i]!.name}) reported`);
  for (const error of invalid) {
    const i = Number(/HOSTILE_(\d+)/.exec(error.source ?? '')?.[1]);
    if (Number.isInteger(i)) assert.match(error.message, BAD_RULES[i]!.expect, BAD_RULES[i]!.name);
  }
  assert.deepEqual(changes.items.map((c) => c.ruleId), ['AFTER'], 'no hostile file became a change');
  const rules = (await store.snapshot()).rules.map((r) => r.ruleId).sort();
  assert.deepEqual(rules, ['AFTER', 'KEEP'], 'the last good KEEP stays in force');
  reports.stop();
  changes.stop();
});
