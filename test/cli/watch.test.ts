import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasStackTrace, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { createTestDatabase, createTestSqliteFile } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface ChangeJson {
  kind: string;
  ruleId: string;
  position: string;
  actor: string | null;
  at: string;
  rule?: { ruleId: string; ruleVersion: number; state: { state: string } };
  state?: { state: string; expiresAt: string | null; setBy: string | null };
  expired?: boolean;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

for (const backend of ['postgres', 'sqlite'] as const) {
  describe(`ttp-rules watch --json (${backend})`, () => {
    let url: string;
    let drop: () => Promise<void>;
    let dir: string;
    const running: CliProcess[] = [];
    const watch = (...args: string[]): CliProcess => {
      const handle = spawnCli(['watch', '--json', '--db', url, ...args]);
      running.push(handle);
      return handle;
    };

    before(async () => {
      if (backend === 'postgres') {
        const db = await createTestDatabase('cli_watch');
        url = db.url;
        drop = () => db.drop();
      } else {
        const file = createTestSqliteFile('cli-watch');
        url = file.url;
        drop = () => file.drop();
        const migrated = await runCli(['migrate', '--db', url]);
        assert.equal(migrated.code, 0, migrated.stderr);
      }
      dir = mkdtempSync(join(tmpdir(), 'ttp-cli-watch-'));
      writeFileSync(join(dir, 'W1.yaml'), ruleYaml('W1'));
      const apply = await runCli(['apply', dir, '--db', url]);
      assert.equal(apply.code, 0, apply.stderr);
    });
    after(async () => {
      await Promise.all(running.map((p) => p.stop('SIGKILL').catch(() => {})));
      rmSync(dir, { recursive: true, force: true });
      await drop();
    });

    it('prints ready first, then a change made by another process, and stops cleanly on SIGTERM', async () => {
      const watcher = watch();
      const ready = await watcher.waitForJson<{ kind: string; position: string }>(() => true, 15_000, 'the first line');
      assert.equal(ready.kind, 'ready');
      assert.match(ready.position, /^\d+$/);
      assert.deepEqual(Object.keys(ready), ['kind', 'position']);

      const state = await runCli(['state', 'W1', 'disable', '--for', '10m', '--by', 'bob@test', '--db', url]);
      assert.equal(state.code, 0, state.stderr);
      const change = await watcher.waitForJson<ChangeJson>((c) => c.kind === 'state' && c.ruleId === 'W1', 10_000, 'the state change');
      assert.equal(change.state!.state, 'disabled');
      assert.equal(change.state!.setBy, 'bob@test');
      assert.match(change.state!.expiresAt!, ISO);
      assert.equal(change.actor, 'bob@test');
      assert.match(change.at, ISO);
      assert.equal(change.expired, false);
      assert.ok(BigInt(change.position) > BigInt(ready.position));

      writeFileSync(join(dir, 'W1.yaml'), ruleYaml('W1', { version: 2 }));
      assert.equal((await runCli(['apply', dir, '--db', url])).code, 0);
      const definition = await watcher.waitForJson<ChangeJson>((c) => c.kind === 'definition', 10_000, 'the definition change');
      assert.equal(definition.rule!.ruleId, 'W1');
      assert.equal(definition.rule!.ruleVersion, 2);
      assert.equal(definition.rule!.state.state, 'disabled');

      const stopped = await watcher.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(stopped.stderr, '');
      const kinds = stopped.json<ChangeJson>().map((c) => c.kind);
      assert.deepEqual(kinds, ['ready', 'state', 'definition']);
    });

    it('--since replays the log after a position, then goes live', async () => {
      const watcher = watch('--since', '0');
      const ready = await watcher.waitForJson<{ kind: string; position: string }>(() => true, 15_000, 'the first line');
      assert.deepEqual(ready, { kind: 'ready', position: '0' });
      // The whole history so far: W1 v1, the state, W1 v2.
      await watcher.waitForJson<ChangeJson>((c) => c.kind === 'definition' && c.rule?.ruleVersion === 2, 10_000, 'the replayed v2');
      assert.equal((await runCli(['state', 'W1', 'clear', '--db', url])).code, 0);
      await watcher.waitForJson<ChangeJson>((c) => c.kind === 'state' && c.state?.state === 'enabled', 10_000, 'the live clear');
      const stopped = await watcher.stop('SIGINT');
      assert.equal(stopped.code, 0, stopped.stderr);
      const changes = stopped.json<ChangeJson>().slice(1);
      const positions = changes.map((c) => BigInt(c.position));
      assert.deepEqual(positions, [...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), 'in position order');
      assert.equal(new Set(positions).size, positions.length, 'no duplicate');
      assert.deepEqual(changes.map((c) => c.kind), ['definition', 'state', 'definition', 'state']);
    });

    it('pushes an expiry revert on time', async () => {
      const watcher = watch();
      await watcher.waitForJson(() => true, 15_000, 'ready');
      const disable = await runCli(['state', 'W1', 'disable', '--for', '1s', '--db', url]);
      assert.equal(disable.code, 0, disable.stderr);
      await watcher.waitForJson<ChangeJson>((c) => c.kind === 'state' && c.state?.state === 'disabled', 10_000, 'the disable');
      const revert = await watcher.waitForJson<ChangeJson>((c) => c.kind === 'state' && c.expired === true, 10_000, 'the expiry revert');
      assert.equal(revert.state!.state, 'enabled');
      const stopped = await watcher.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    });

    it('exits quietly when its reader goes away (EPIPE)', async () => {
      const watcher = watch();
      await watcher.waitForJson(() => true, 15_000, 'ready');
      watcher.child.stdout!.destroy();
      // Each change is a write into the closed pipe; the first one fails with EPIPE.
      for (let i = 0; i < 3 && watcher.child.exitCode === null; i++) {
        assert.equal((await runCli(['state', 'W1', i % 2 === 0 ? 'disable' : 'enable', '--db', url])).code, 0);
      }
      const exited = await watcher.exited;
      assert.equal(exited.code, 0);
      assert.ok(!hasStackTrace(exited.stderr), exited.stderr);
      assert.doesNotMatch(exited.stderr, /EPIPE|error/i);
    });

    it('readable mode prints one line per change and says it is watching on stderr', async () => {
      const handle = spawnCli(['watch', '--db', url]);
      running.push(handle);
      await handle.waitForStderr(/watching changes after position \d+ \(Ctrl-C to stop\)/);
      assert.equal((await runCli(['state', 'W1', 'disable', '--reason', 'why not', '--by', 'carol@test', '--db', url])).code, 0);
      const line = await handle.waitForLine((l) => l.includes('W1') && l.includes('disabled'), 10_000, 'the readable line');
      assert.match(line, /^\s*\d+  \d{4}-\d\d-\d\dT[\d:.]+Z  W1  state disabled, reason "why not"  by carol@test$/);
      assert.equal((await handle.stop('SIGINT')).code, 0);
    });
  });
}
