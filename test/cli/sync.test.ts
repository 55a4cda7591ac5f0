import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { createTestDatabase, createTestSqliteFile } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

interface SyncLine {
  kind: 'applied' | 'invalid';
  directory?: string;
  upserted?: string[];
  unchanged?: string[];
  deleted?: string[];
  file?: string;
  ruleId?: string | null;
  issues?: { path: string; message: string }[];
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`ttp-rules sync (${backend})`, () => {
    let url: string;
    let drop: () => Promise<void>;
    let dir: string;
    const running: CliProcess[] = [];
    const sync = (...args: string[]): CliProcess => {
      const handle = spawnCli(['sync', dir, '--db', url, '--by', 'master@test', ...args]);
      running.push(handle);
      return handle;
    };

    before(async () => {
      if (backend === 'postgres') {
        const db = await createTestDatabase('cli_sync');
        url = db.url;
        drop = () => db.drop();
      } else {
        const file = createTestSqliteFile('cli-sync');
        url = file.url;
        drop = () => file.drop();
      }
      dir = realpathSync(mkdtempSync(join(tmpdir(), 'ttp-cli-sync-')));
      for (const id of ['S1', 'S2', 'S3']) writeFileSync(join(dir, `${id}.yaml`), ruleYaml(id));
    });
    after(async () => {
      await Promise.all(running.map((p) => p.stop('SIGKILL').catch(() => {})));
      rmSync(dir, { recursive: true, force: true });
      await drop();
    });

    it('without --watch reconciles once: one applied line on stdout, the summary on stderr, exit 0', async () => {
      const run = await runCli(['sync', dir, '--db', url, '--by', 'master@test']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.lines, ['applied: 3 upserted (S1, S2, S3), 0 unchanged, 0 deleted']);
      assert.match(run.stderr, /^synced .* 3 upserted, 0 unchanged, 0 deleted, 0 invalid\n$/);

      unlinkSync(join(dir, 'S3.yaml'));
      const again = await runCli(['sync', dir, '--db', url, '--json']);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(again.json(), [{ kind: 'applied', directory: `${dir}/`, upserted: [], unchanged: ['S1', 'S2'], deleted: ['S3'] }]);
      assert.equal(again.stderr, '', 'no summary on stderr with --json');

      const list = (await runCli(['list', '--db', url, '--json'])).json<{ ruleId: string; updatedBy: string }>();
      assert.deepEqual(list.map((r) => [r.ruleId, r.updatedBy]), [['S1', 'master@test'], ['S2', 'master@test']]);
    });

    it('without --watch an invalid file is one line, the rest is applied, exit 1', async () => {
      writeFileSync(join(dir, 'S3.yaml'), ruleYaml('S3'));
      writeFileSync(join(dir, 'BAD.yaml'), ruleYaml('BAD', { confidence: 7 }));
      try {
        const run = await runCli(['sync', dir, '--db', url]);
        assert.equal(run.code, 1, run.stderr);
        assert.equal(run.lines.length, 2, run.stdout);
        assert.equal(run.lines[0], 'applied: 1 upserted (S3), 2 unchanged, 0 deleted');
        assert.match(run.lines[1]!, /^invalid: \S*BAD\.yaml: BAD: emits\.0\.confidence: .*\(not applied; the stored version stays in force\)$/);
      } finally {
        unlinkSync(join(dir, 'BAD.yaml'));
      }
    });

    it('--watch --json: one object per applied batch and per invalid file, not the change feed; SIGTERM exits 0', async () => {
      const watcher = sync('--watch', '--json', '--log-level', 'error');
      const first = await watcher.waitForJson<SyncLine>(() => true, 20_000, 'the reconcile line');
      assert.deepEqual(Object.keys(first), ['kind', 'directory', 'upserted', 'unchanged', 'deleted']);
      assert.deepEqual(first, { kind: 'applied', directory: `${dir}/`, upserted: [], unchanged: ['S1', 'S2', 'S3'], deleted: [] });

      // A change from another process is not printed: sync is not watch.
      assert.equal((await runCli(['state', 'S1', 'disable', '--db', url])).code, 0);

      writeFileSync(join(dir, 'S2.yaml'), ruleYaml('S2', { version: 2 }));
      const edit = await watcher.waitForJson<SyncLine>((l) => l.kind === 'applied' && l.upserted?.includes('S2') === true, 10_000, 'the edit batch');
      assert.deepEqual(edit, { kind: 'applied', directory: `${dir}/`, upserted: ['S2'], unchanged: [], deleted: [] });

      writeFileSync(join(dir, 'S3.yaml'), 'rule_id: S3\nrule_version: 2\n');
      const invalid = await watcher.waitForJson<SyncLine>((l) => l.kind === 'invalid', 10_000, 'the invalid line');
      assert.deepEqual(Object.keys(invalid), ['kind', 'file', 'ruleId', 'issues']);
      assert.equal(invalid.file, join(dir, 'S3.yaml'));
      assert.equal(invalid.ruleId, 'S3');
      assert.ok(invalid.issues!.some((i) => i.path === 'name'), JSON.stringify(invalid.issues));
      for (const issue of invalid.issues!) assert.deepEqual(Object.keys(issue), ['path', 'message']);

      unlinkSync(join(dir, 'S1.yaml'));
      await watcher.waitForJson<SyncLine>((l) => l.kind === 'applied' && l.deleted?.includes('S1') === true, 10_000, 'the delete batch');

      const stopped = await watcher.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(stopped.stderr, '');
      const lines = stopped.json<SyncLine>();
      assert.deepEqual(
        lines.map((l) => [l.kind, ...(l.upserted ?? []), ...(l.deleted ?? []), l.ruleId ?? '']),
        [['applied', ''], ['applied', 'S2', ''], ['invalid', 'S3'], ['applied', 'S1', '']],
        'exactly one line per batch and per invalid file',
      );
      const shown = (await runCli(['show', 'S3', '--db', url, '--json'])).json<{ ruleVersion: number }>()[0]!;
      assert.equal(shown.ruleVersion, 1, 'the invalid save left the stored version in force');
    });

    it('--watch in readable mode: a line per batch on stdout, status on stderr, SIGINT exits 0', async () => {
      const watcher = sync('--watch');
      await watcher.waitForStderr(/synced .*: 0 upserted, 1 unchanged, 0 deleted, 1 invalid; watching it \(Ctrl-C to stop\)/, 20_000);
      // stdout and stderr are separate pipes: wait for the lines themselves.
      await watcher.waitForLine((l) => l.startsWith('invalid: '), 10_000, 'the invalid line');
      assert.equal(watcher.lines[0], 'applied: 0 upserted, 1 unchanged, 0 deleted');
      assert.match(watcher.lines[1]!, /^invalid: \S*S3\.yaml: S3: /);
      writeFileSync(join(dir, 'S3.yaml'), ruleYaml('S3', { version: 3 }));
      const line = await watcher.waitForLine((l) => l.includes('S3') && l.startsWith('applied'), 10_000, 'the fixed file');
      assert.equal(line, 'applied: 1 upserted (S3), 0 unchanged, 0 deleted');
      const stopped = await watcher.stop('SIGINT');
      assert.equal(stopped.code, 0, stopped.stderr);
    });

    it('a missing directory is a usage error (exit 2)', async () => {
      const run = await runCli(['sync', join(dir, 'nope'), '--db', url]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^ttp-rules: error: .*nope: not a directory/);
    });
  });
}
