import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { syncDirectory, type DirectorySync, type RuleChange, type RuleStore } from '../../src/index.js';
import { createBackendFixture, type BackendFixture, type BackendName } from '../helpers/backends.js';
import { collect, type Collector } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

const SYNC_BACKENDS: BackendName[] = (process.env['TTP_TEST_BACKENDS']?.split(',') as BackendName[] | undefined)?.filter((b) => b !== 'postgres-poll') ?? ['postgres-listen', 'sqlite'];

for (const backend of SYNC_BACKENDS) {
  describe(`syncDirectory: the master (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;
    let dir: string;
    let sync: DirectorySync;
    let changes: Collector<RuleChange>;
    const logLines: string[] = [];
    let sentinel = 0;

    /** Waits until the sync is idle and a sentinel write has arrived: nothing before it is still on its way. */
    const settle = async (): Promise<RuleChange[]> => {
      await sync.idle();
      const actor = `sentinel-${++sentinel}`;
      await store.setState('SENTINEL', 'enabled', actor);
      await changes.waitFor((items) => items.some((c) => c.actor === actor), 10_000, actor);
      const seen = changes.items.filter((c) => c.ruleId !== 'SENTINEL');
      changes.items.length = 0;
      return seen;
    };
    const kinds = (seen: RuleChange[]): string[] => seen.map((c) => `${c.kind}:${c.ruleId}${c.kind === 'definition' ? `@${c.rule.ruleVersion}` : ''}`);

    before(async () => {
      fx = await createBackendFixture(backend, 'sync');
      store = await fx.open();
      dir = mkdtempSync(join(tmpdir(), 'ttp-sync-'));
      // Already in the database before the master starts: one changed, one unchanged, one removed, one foreign.
      await writeFile(join(dir, 'R1.yaml'), ruleYaml('R1', { version: 2 }));
      await writeFile(join(dir, 'R2.yaml'), ruleYaml('R2'));
      await store.upsertRules(
        [
          { yaml: ruleYaml('R1', { version: 1 }), sourcePath: join(dir, 'R1.yaml') },
          { yaml: ruleYaml('R2'), sourcePath: join(dir, 'R2.yaml') },
          { yaml: ruleYaml('GONE'), sourcePath: join(dir, 'GONE.yaml') },
          { yaml: ruleYaml('FOREIGN'), sourcePath: '/elsewhere/FOREIGN.yaml' },
          { yaml: ruleYaml('API') },
        ],
        { updatedBy: 'before' },
      );
      changes = collect(store.changesSince('0'));
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'API'), 10_000, 'the seeded rules');
      changes.items.length = 0;
      const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
      sync = await syncDirectory(store, dir, { watch: true, updatedBy: 'master', logger: pino({ level: 'debug' }, sink) });
    });
    after(async () => {
      await sync?.close();
      await fx.teardown();
      rmSync(dir, { recursive: true, force: true });
    });

    test('reconcile on start: changed upserted, unchanged untouched, removed deleted, foreign rules untouched', async () => {
      assert.deepEqual(sync.initial.upserted, ['R1']);
      assert.deepEqual(sync.initial.unchanged, ['R2']);
      assert.deepEqual(sync.initial.deleted, ['GONE']);
      assert.deepEqual(kinds(await settle()).sort(), ['definition:R1@2', 'deleted:GONE']);
      const ids = (await store.snapshot()).rules.map((r) => r.ruleId).sort();
      assert.deepEqual(ids, ['API', 'FOREIGN', 'R1', 'R2']);
    });

    test('each save style is exactly one change; identical bytes are none', async () => {
      await writeFile(join(dir, 'R1.yaml'), ruleYaml('R1', { version: 3 })); // in place
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'R1'), 10_000, 'in-place save');
      assert.deepEqual(kinds(await settle()), ['definition:R1@3']);

      await writeFile(join(dir, '.R1.yaml.tmp'), ruleYaml('R1', { version: 4 })); // temp file renamed over
      await rename(join(dir, '.R1.yaml.tmp'), join(dir, 'R1.yaml'));
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'R1'), 10_000, 'rename-over save');
      assert.deepEqual(kinds(await settle()), ['definition:R1@4']);

      await writeFile(join(dir, 'R3.yml'), ruleYaml('R3')); // create
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'R3'), 10_000, 'create');
      assert.deepEqual(kinds(await settle()), ['definition:R3@1']);

      await unlink(join(dir, 'R3.yml')); // delete
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'R3'), 10_000, 'delete');
      assert.deepEqual(kinds(await settle()), ['deleted:R3']);

      await writeFile(join(dir, 'R2.yaml'), await readFile(join(dir, 'R2.yaml'))); // identical bytes
      assert.deepEqual(kinds(await settle()), []);

      await rename(join(dir, 'R2.yaml'), join(dir, 'R2.yaml.bak')); // renamed away
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'R2'), 10_000, 'rename away');
      assert.deepEqual(kinds(await settle()), ['deleted:R2']);
    });

    test('editor droppings and other names are ignored without a log line', async () => {
      const before = logLines.length;
      for (const name of ['.R1.yaml.swp', '4913', 'R1.yaml~', 'R1.json', 'R-1.yaml', '.hidden.yaml']) {
        await writeFile(join(dir, name), ruleYaml('R9'));
      }
      assert.deepEqual(kinds(await settle()), []);
      const lines = logLines.slice(before).join('');
      for (const name of ['swp', '4913', 'yaml~', 'json', 'R-1', 'hidden']) assert.ok(!lines.includes(name), `no log line about ${name}`);
    });

    test('an invalid file is reported and the last good version stays; the watcher goes on', async () => {
      const reports = collect(sync.reports$);
      await writeFile(join(dir, 'R1.yaml'), ruleYaml('R1', { version: 5 }).replace('confidence: 0.5', 'confidence: 9'));
      await reports.waitFor((items) => items.some((r) => r.invalid.length > 0), 10_000, 'the invalid report');
      const invalid = reports.items.find((r) => r.invalid.length > 0)!.invalid[0]!;
      assert.equal(invalid.ruleId, 'R1');
      assert.match(invalid.message, /R1\.yaml: R1: emits\.0\.confidence: must be in \[0, 1\]/);
      assert.ok(logLines.some((l) => l.includes('sync:file:invalid')));
      assert.deepEqual(kinds(await settle()), []);
      assert.equal((await store.snapshot()).rules.find((r) => r.ruleId === 'R1')?.ruleVersion, 4);
      await writeFile(join(dir, 'R4.yaml'), ruleYaml('R4'));
      await changes.waitFor((items) => items.some((c) => c.ruleId === 'R4'), 10_000, 'a later valid file');
      assert.deepEqual(kinds(await settle()), ['definition:R4@1']);
      reports.stop();
    });

    test('a burst of 300 files lands completely, in few transactions, one change per rule', async () => {
      const reports = collect(sync.reports$);
      const ids = Array.from({ length: 300 }, (_, i) => `B${String(i).padStart(3, '0')}`);
      await Promise.all(ids.map((id) => writeFile(join(dir, `${id}.yaml`), ruleYaml(id))));
      await changes.waitFor((items) => ids.every((id) => items.some((c) => c.ruleId === id)), 30_000, 'the burst');
      const seen = await settle();
      assert.equal(seen.length, 300, 'exactly one change per rule');
      assert.ok(reports.items.length < 30, `applied in ${reports.items.length} batches, not one per event`);
      reports.stop();
    });
  });
}
