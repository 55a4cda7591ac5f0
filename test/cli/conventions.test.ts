import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEnv, hasStackTrace, runCli } from '../helpers/cli.js';
import { ruleYaml } from '../helpers/rules.js';

/**
 * The CLI's conventions, on SQLite: exit codes (0 ok, 1 failure, 2 usage),
 * data on stdout and status on stderr, --json errors as one object, read-only
 * commands that never create a database, one `component` key per log line.
 */
describe('ttp-rules conventions', () => {
  let cwd: string;
  let url: string;
  const run = (args: string[]) => runCli(args, { cwd, env: cliEnv() });

  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'ttp-cli-conventions-'));
    url = `sqlite:${join(cwd, 'rules.db')}`;
    writeFileSync(join(cwd, 'C1.yaml'), ruleYaml('C1'));
    writeFileSync(join(cwd, 'C2.yaml'), ruleYaml('C2'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('read-only commands on a missing SQLite file: exit 1, the path named, no file created', async () => {
    const missing = join(cwd, 'typo.db');
    const commands = [['list'], ['show', 'C1'], ['history'], ['history', 'C1'], ['check'], ['consumers'], ['watch'], ['doctor']];
    for (const args of commands) {
      const result = await run([...args, '--db', `sqlite:${missing}`]);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(result.stderr.includes(missing) || result.stdout.includes(missing), `${args.join(' ')} names the path:\n${result.stderr}${result.stdout}`);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
      assert.equal(existsSync(missing), false, `${args.join(' ')} created ${missing}`);
    }
    assert.deepEqual(readdirSync(cwd).filter((f) => f.startsWith('typo')), [], 'no -wal or -shm either');
    const json = await run(['list', '--db', `sqlite:${missing}`, '--json']);
    assert.deepEqual(JSON.parse(json.stderr), { code: 'MIGRATION_REQUIRED', message: JSON.parse(json.stderr).message });
    assert.match(JSON.parse(json.stderr).message, /typo\.db/);
  });

  it('writing commands: the data on stdout, confirmations and summaries on stderr', async () => {
    const migrate = await run(['migrate', '--db', url]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.ok(migrate.lines.length > 0 && migrate.lines.every((l) => /^applied {2}\d{4}$/.test(l)), migrate.stdout);
    assert.match(migrate.stderr, /migration\(s\) applied\n$/);
    const again = await run(['migrate', '--db', url]);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /schema is up to date\n$/);

    const apply = await run(['apply', cwd, '--db', url]);
    assert.equal(apply.code, 0, apply.stderr);
    assert.deepEqual(apply.lines, ['upserted  C1', 'upserted  C2']);
    assert.equal(apply.stderr, '2 rule(s): 2 upserted, 0 unchanged, 0 deleted\n');

    const state = await run(['state', 'C1', 'disable', '--db', url]);
    assert.equal(state.code, 0, state.stderr);
    assert.equal(state.stdout, '');
    assert.match(state.stderr, /^C1: disabled/);

    const prune = await run(['prune', '--keep', '1', '--db', url]);
    assert.equal(prune.code, 0, prune.stderr);
    assert.equal(prune.stdout, '');
    assert.match(prune.stderr, /^deleted \d+ superseded event/);

    // With --json the results are data: one object on stdout, nothing on stderr.
    for (const args of [['state', 'C1', 'enable'], ['apply', cwd], ['migrate'], ['prune', '--keep', '1']]) {
      const json = await run([...args, '--db', url, '--json']);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.json().length, 1, `${args.join(' ')}: ${json.stdout}`);
      assert.equal(json.stderr, '', args.join(' '));
    }
  });

  it('history of a rule that was never stored exits 1 with the code of show', async () => {
    const show = await run(['show', 'NOPE', '--db', url, '--json']);
    const history = await run(['history', 'NOPE', '--db', url, '--json']);
    assert.equal(show.code, 1);
    assert.equal(history.code, 1);
    assert.equal(history.stdout, '');
    const codes = [show, history].map((r) => (JSON.parse(r.stderr) as { code: string }).code);
    assert.deepEqual(codes, ['RULE_NOT_FOUND', 'RULE_NOT_FOUND']);
    const text = await run(['history', 'NOPE', '--db', url]);
    assert.equal(text.code, 1);
    assert.match(text.stderr, /^ttp-rules: error: rule NOPE is not stored/);
    assert.equal((await run(['history', 'C1', '--db', url])).code, 0, 'a stored rule still has its history');
  });

  it('with --json every error is one object {code, message} on stderr, with the usual exit code', async () => {
    const cases: [string[], number, string][] = [
      [['list', '--colour'], 2, 'USAGE'],
      [['frobnicate'], 2, 'USAGE'],
      [['show', 'a.b', '--db', url], 2, 'USAGE'],
      [['state', 'C1', 'clip', '--db', url], 2, 'USAGE'],
      [['show', 'NOPE', '--db', url], 1, 'RULE_NOT_FOUND'],
      [['state', 'NOPE', 'disable', '--db', url], 1, 'RULE_NOT_FOUND'],
      [['list', '--db', 'postgres://root@127.0.0.1:1/nothing_here'], 1, 'STORE_UNAVAILABLE'],
      [['apply', join(cwd, 'bad'), '--db', url], 1, 'RULE_INVALID'],
    ];
    mkdirSync(join(cwd, 'bad'));
    writeFileSync(join(cwd, 'bad', 'BAD.yaml'), ruleYaml('BAD', { confidence: 2 }));
    for (const [args, exit, code] of cases) {
      const result = await run([...args, '--json']);
      const where = `${args.join(' ')}\nstderr: ${result.stderr}`;
      assert.equal(result.code, exit, where);
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, where);
      const error = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.deepEqual(Object.keys(error), ['code', 'message'], where);
      assert.equal(error['code'], code, where);
      assert.equal(typeof error['message'], 'string');
    }
  });

  it('an unknown command is a usage error even with --help; a known one prints its own help', async () => {
    const unknown = await run(['nope', '--help']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^ttp-rules: error: unknown command 'nope'/);
    assert.equal(unknown.stdout, '');
    const help = await run(['sync', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: ttp-rules sync \[options\] <dir>/);
  });

  it('JSON logs carry one component key per line', async () => {
    const result = await run(['list', '--db', url, '--log-level', 'debug']);
    assert.equal(result.code, 0, result.stderr);
    const logs = result.stderr.trimEnd().split('\n');
    assert.ok(logs.some((l) => l.includes('"feed:poll"')), `the poll feed logs (a child of the SQLite backend's logger):\n${result.stderr}`);
    for (const line of logs) {
      assert.ok((line.match(/"component":/g) ?? []).length <= 1, line);
      JSON.parse(line);
    }
  });
});
