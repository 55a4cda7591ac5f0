import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { syncDirectory, type RuleStore } from '../../src/index.js';
import { createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { ruleYaml } from '../helpers/rules.js';

// Saves that follow each other within a few milliseconds. chokidar throttles a
// file's change events (5 ms) and skips a change whose mtime equals the last one
// it saw (the kernel's coarse clock gives two quick writes the same mtime), so a
// watcher built on its `change` events alone kept the next-to-last version: the
// swarm test caught one such lost save under load. The directory's raw events
// are not throttled, and a save is re-read whatever they say. `quietMs: 0` makes
// the master read a file as soon as it hears of it, as a busy directory does
// once `maxWaitMs` has passed: without the raw events this test failed every run.
describe('syncDirectory: saves in quick succession (sqlite)', () => {
  let fx: BackendFixture;
  let dir: string;
  after(async () => {
    await fx?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the last of several saves made within milliseconds is the version stored, for every file', async () => {
    fx = await createBackendFixture('sqlite', 'rapid');
    const store: RuleStore = await fx.open();
    dir = mkdtempSync(join(tmpdir(), 'ttp-rapid-'));
    const ids = Array.from({ length: 40 }, (_, i) => `RAPID${String(i).padStart(2, '0')}`);
    for (const id of ids) await writeFile(join(dir, `${id}.yaml`), ruleYaml(id, { version: 1 }));
    const sync = await syncDirectory(store, dir, { watch: true, updatedBy: 'master', quietMs: 0 });
    try {
      const wanted = new Map<string, number>();
      for (const [i, id] of ids.entries()) {
        const saves = 2 + (i % 4);
        for (let v = 2; v < 2 + saves; v++) await writeFile(join(dir, `${id}.yaml`), ruleYaml(id, { version: v }));
        wanted.set(id, 1 + saves);
      }
      const expected = Object.fromEntries([...wanted].sort());
      const deadline = performance.now() + 20_000;
      for (;;) {
        await sync.idle();
        const stored = Object.fromEntries((await store.listRules()).map((r) => [r.ruleId, r.ruleVersion]).sort());
        if (JSON.stringify(stored) === JSON.stringify(expected)) break;
        if (performance.now() > deadline) assert.deepEqual(stored, expected, 'a save was lost: the database kept an earlier version');
        await new Promise((resolve) => setTimeout(resolve, 20)); // re-checking a condition, bounded by the deadline
      }
    } finally {
      await sync.close();
      await store.close();
    }
  });
});
