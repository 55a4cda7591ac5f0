import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { cliEnv, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';

/** The project's own example rules (not the DECNET fixtures). */
const EXAMPLE_RULES = fileURLToPath(new URL('../../rules/', import.meta.url));

interface Line {
  kind: string;
  ruleId?: string;
  position?: string;
  state?: { state: string; expiresAt: string | null };
  upserted?: string[];
}

describe('the embedded default database (SQLite, no URL given)', () => {
  let cwd: string;
  const running: CliProcess[] = [];
  // No --db, and neither TTP_RULES_DB nor DATABASE_URL in the environment.
  const env = cliEnv();

  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'ttp-cli-default-'));
    cpSync(EXAMPLE_RULES, join(cwd, 'rules'), { recursive: true });
  });
  after(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL').catch(() => {})));
    rmSync(cwd, { recursive: true, force: true });
  });

  it('the example rules directory is valid', async () => {
    const run = await runCli(['validate', EXAMPLE_RULES]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stderr, /^[3-5] rule file\(s\) valid/);
  });

  it('start applies ./rules into ./ttp-rules.db and prints a change made by another process', async () => {
    const start = spawnCli(['start', '--json'], { cwd, env });
    running.push(start);
    const applied = await start.waitForJson<Line>((l) => l.kind === 'applied', 20_000, 'the applied line');
    assert.ok(applied.upserted!.includes('EX001_ssh_bruteforce'), JSON.stringify(applied));
    const ready = await start.waitForJson<Line>((l) => l.kind === 'ready', 10_000, 'the ready line');
    assert.ok(existsSync(join(cwd, 'ttp-rules.db')), 'the default file was created in the working directory');

    // The README's second terminal.
    const state = await runCli(['state', 'EX001_ssh_bruteforce', 'disable', '--for', '10m'], { cwd, env });
    assert.equal(state.code, 0, state.stderr);
    const change = await start.waitForJson<Line>((l) => l.kind === 'state', 10_000, 'the state change');
    assert.equal(change.ruleId, 'EX001_ssh_bruteforce');
    assert.equal(change.state!.state, 'disabled');
    assert.ok(Date.parse(change.state!.expiresAt!) > Date.now() + 9 * 60_000);
    assert.ok(BigInt(change.position!) > BigInt(ready.position!));

    const stopped = await start.stop('SIGINT');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stderr, '');
  });

  it('list, with no URL anywhere, reads the same ./ttp-rules.db', async () => {
    const list = await runCli(['list', '--json'], { cwd, env });
    assert.equal(list.code, 0, list.stderr);
    const rules = list.json<{ ruleId: string; sourcePath: string; state: { state: string } }>();
    assert.ok(rules.length >= 3);
    const ex1 = rules.find((r) => r.ruleId === 'EX001_ssh_bruteforce')!;
    assert.equal(ex1.state.state, 'disabled');
    assert.match(ex1.sourcePath, /\/rules\/EX001_ssh_bruteforce\.yaml$/);
  });

  it('start in readable mode reports what it loaded and says it is watching', async () => {
    const start = spawnCli(['start'], { cwd, env });
    running.push(start);
    await start.waitForStderr(/synced rules to sqlite:\.\/ttp-rules\.db: 0 upserted, \d+ unchanged, 0 deleted, 0 invalid/);
    await start.waitForStderr(/watching changes after position \d+ \(Ctrl-C to stop\)/);
    assert.equal((await runCli(['state', 'EX001_ssh_bruteforce', 'clear', '--by', 'dave@test'], { cwd, env })).code, 0);
    const line = await start.waitForLine((l) => l.includes('EX001_ssh_bruteforce'), 10_000, 'the clear');
    assert.match(line, /EX001_ssh_bruteforce  state enabled  by dave@test$/);
    assert.equal((await start.stop('SIGTERM')).code, 0);
  });

  it('TTP_RULES_DB beats DATABASE_URL, --db beats both, and a bare path is a SQLite file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttp-cli-precedence-'));
    try {
      const both = cliEnv({ TTP_RULES_DB: 'sqlite:from-ttp.db', DATABASE_URL: 'sqlite:from-database-url.db' });
      assert.equal((await runCli(['migrate'], { cwd: dir, env: both })).code, 0);
      assert.ok(existsSync(join(dir, 'from-ttp.db')));
      assert.ok(!existsSync(join(dir, 'from-database-url.db')));

      const onlyDatabaseUrl = cliEnv({ DATABASE_URL: 'sqlite:from-database-url.db' });
      assert.equal((await runCli(['migrate'], { cwd: dir, env: onlyDatabaseUrl })).code, 0);
      assert.ok(existsSync(join(dir, 'from-database-url.db')));

      assert.equal((await runCli(['migrate', '--db', 'flag.db'], { cwd: dir, env: both })).code, 0);
      assert.ok(existsSync(join(dir, 'flag.db')));
      assert.ok(!existsSync(join(dir, 'ttp-rules.db')), 'the default was never used');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
