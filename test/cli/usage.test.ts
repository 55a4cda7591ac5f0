import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { FIXTURES_DIR, fixtureFiles } from '../helpers/rules.js';

describe('ttp-rules usage errors', () => {
  let db: TestDatabase;
  let cwd: string;
  before(async () => {
    db = await createTestDatabase('cli_usage');
    assert.equal((await runCli(['apply', fixtureFiles()[0]!, '--db', db.url])).code, 0);
    // Every case runs in an empty directory: a mistake must not even create ./ttp-rules.db.
    cwd = mkdtempSync(join(tmpdir(), 'ttp-cli-usage-'));
  });
  after(async () => {
    rmSync(cwd, { recursive: true, force: true });
    await db.drop();
  });

  const cases: [string, string[], RegExp][] = [
    ['no command', [], /Usage: ttp-rules/],
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['unknown command close to a real one', ['lsit'], /unknown command 'lsit'.*Did you mean list\?/],
    ['unknown option', ['list', '--colour'], /unknown option '--colour'/],
    ['missing argument', ['show'], /missing required argument 'rule_id'/],
    ['too many arguments', ['list', 'extra'], /too many arguments/],
    ['validate without paths', ['validate'], /missing required argument 'paths'/],
    ['missing file', ['validate', 'no/such/file.yaml'], /no\/such\/file\.yaml: no such file or directory/],
    ['missing file for apply', ['apply', 'nope.yaml', '--db', 'DB'], /nope\.yaml: no such file or directory/],
    ['directory without rule files', ['validate', '.'], /no rule files/],
    ['invalid rule id', ['show', 'a.b', '--db', 'DB'], /invalid rule id "a\.b"/],
    ['invalid rule id for state', ['state', 'has space', 'disable', '--db', 'DB'], /invalid rule id "has space"/],
    ['invalid rule id for history', ['history', 'x*', '--db', 'DB'], /invalid rule id "x\*"/],
    ['unknown state action', ['state', 'R0001', 'mute', '--db', 'DB'], /value 'mute' is invalid for argument 'action'.*enable, disable, clip, clear/],
    ['bad duration', ['state', 'R0001', 'disable', '--for', '10x', '--db', 'DB'], /'--for <duration>' argument '10x' is invalid/],
    ['duration without unit', ['state', 'R0001', 'disable', '--for', '10', '--db', 'DB'], /'10' is invalid/],
    ['zero duration', ['state', 'R0001', 'disable', '--for', '0s', '--db', 'DB'], /longer than zero/],
    ['bad --until', ['state', 'R0001', 'disable', '--until', 'tomorrow', '--db', 'DB'], /'--until <iso>' argument 'tomorrow' is invalid/],
    ['--until in the past', ['state', 'R0001', 'disable', '--until', '2001-01-01T00:00:00Z', '--db', 'DB'], /not in the future/],
    ['--for and --until together', ['state', 'R0001', 'disable', '--for', '1m', '--until', '2099-01-01T00:00:00Z', '--db', 'DB'], /cannot be used with/],
    ['clip without --confidence-max', ['state', 'R0001', 'clip', '--db', 'DB'], /clip needs --confidence-max/],
    ['--confidence-max out of range', ['state', 'R0001', 'clip', '--confidence-max', '1.5', '--db', 'DB'], /expected a number in \[0, 1\]/],
    ['--confidence-max on disable', ['state', 'R0001', 'disable', '--confidence-max', '0.5', '--db', 'DB'], /only applies to clip/],
    ['clear with --for', ['state', 'R0001', 'clear', '--for', '1m', '--db', 'DB'], /clear takes no --for/],
    ['empty --by', ['state', 'R0001', 'disable', '--by', ' ', '--db', 'DB'], /'--by <name>' argument ' ' is invalid/],
    ['bad --since', ['watch', '--since', 'yesterday', '--db', 'DB'], /'--since <position>' argument 'yesterday' is invalid/],
    ['negative --since', ['watch', '--since', '-1', '--db', 'DB'], /invalid/],
    ['bad --limit', ['history', '--limit', '0', '--db', 'DB'], /'--limit <n>' argument '0' is invalid/],
    ['bad --log-level', ['list', '--log-level', 'loud', '--db', 'DB'], /argument 'loud' is invalid/],
    ['bad log level from the environment', ['list', '--db', 'DB', '@TTP_RULES_LOG_LEVEL=loud'], /value 'loud' from env 'TTP_RULES_LOG_LEVEL' is invalid/],
    ['unsupported database URL', ['list', '--db', 'mysql://localhost/rules'], /unsupported database URL scheme/],
    ['--prune with only a file', ['apply', '--prune', join(FIXTURES_DIR, 'R0001.yaml'), '--db', 'DB'], /--prune needs exactly one directory/],
    ['start on a missing directory', ['start', 'no-such-dir', '--db', 'DB'], /no-such-dir: not a directory/],
  ];

  for (const [name, template, message] of cases) {
    it(`${name}: exit 2, one line on stderr, no stack trace`, async () => {
      const env: Record<string, string> = {};
      const args = template
        .filter((a) => {
          const m = /^@(\w+)=(.*)$/.exec(a);
          if (m) env[m[1]!] = m[2]!;
          return !m;
        })
        .map((a) => (a === 'DB' ? db.url : a));
      const { cliEnv } = await import('../helpers/cli.js');
      const run = await runCli(args, { cwd, env: cliEnv(env) });
      assert.equal(run.code, 2, `exit code for ${args.join(' ')}\nstderr: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.ok(!hasStackTrace(run.stderr), run.stderr);
      if (template.length > 0) {
        assert.equal(run.stderr.trimEnd().split('\n').length, 1, `one line:\n${run.stderr}`);
        assert.match(run.stderr, /^ttp-rules: /);
        assert.equal(run.stdout, '');
      }
    });
  }

  it('a database failure exits 1 with the error code, no stack trace', async () => {
    const run = await runCli(['list', '--db', 'postgres://root@127.0.0.1:1/nothing_here'], { cwd });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^ttp-rules: error: .*\[STORE_UNAVAILABLE\]\n$/);
    assert.ok(!hasStackTrace(run.stderr));
  });

  it('a database without the schema says how to migrate (exit 1)', async () => {
    const bare = await createTestDatabase('cli_usage_bare', { migrated: false });
    try {
      const run = await runCli(['list', '--db', bare.url], { cwd });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /migrate.*\[MIGRATION_REQUIRED\]/);
      const migrate = await runCli(['migrate', '--db', bare.url, '--json'], { cwd });
      assert.equal(migrate.code, 0, migrate.stderr);
      assert.ok(migrate.json<{ applied: string[] }>()[0]!.applied.length > 0);
      assert.equal((await runCli(['list', '--db', bare.url], { cwd })).code, 0);
      const again = await runCli(['migrate', '--db', bare.url, '--json'], { cwd });
      assert.deepEqual(again.json<{ applied: string[] }>()[0]!.applied, []);
    } finally {
      await bare.drop();
    }
  });

  it('--help prints examples and exits 0, for the program and every command', async () => {
    for (const args of [['--help'], ...['migrate', 'validate', 'apply', 'list', 'show', 'state', 'watch', 'history', 'check', 'start'].map((c) => [c, '--help'])]) {
      const run = await runCli(args, { cwd });
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, /Examples:\n {2}\$ ttp-rules /, args.join(' '));
      assert.equal(run.stderr, '');
    }
    const version = await runCli(['--version'], { cwd });
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('no usage error created the embedded default database file', async () => {
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(join(cwd, 'ttp-rules.db')), false);
  });
});
