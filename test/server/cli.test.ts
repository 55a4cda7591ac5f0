import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashToken } from '../../src/index.js';
import { runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { createTestSqliteFile } from '../helpers/database.js';

const EXAMPLE_RULES = fileURLToPath(new URL('../../rules/', import.meta.url));

describe('ttp-rules token add, serve, and start with the console', () => {
  let dir: string;
  let db: ReturnType<typeof createTestSqliteFile>;
  const running: CliProcess[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ttp-serve-cli-'));
    cpSync(EXAMPLE_RULES, join(dir, 'rules'), { recursive: true });
    db = createTestSqliteFile('server_cli');
  });
  after(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL').catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  it('token add prints a new token once and stores only its SHA-256 (mode 0600); a second add of the name fails', async () => {
    const file = join(dir, 'tokens.txt');
    const added = await runCli(['token', 'add', 'alice', 'operator', '--tokens', file]);
    assert.equal(added.code, 0, added.stderr);
    const token = added.stdout.trim();
    assert.match(token, /^ttp_[A-Za-z0-9_-]{43}$/);
    assert.match(added.stderr, /shown only this once/);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(token), 'the token itself is never written');
    assert.match(text, new RegExp(`^alice operator ${hashToken(token)}$`, 'm'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal((await runCli(['token', 'add', 'alice', 'author', '--tokens', file])).code, 2);
    assert.notEqual((await runCli(['token', 'add', 'bob', 'admin', '--tokens', file])).code, 0);
    const reader = await runCli(['token', 'add', 'bob', 'reader', '--tokens', file, '--json']);
    assert.equal(reader.json<{ role: string }>()[0]!.role, 'reader');
  });

  it('serve --tokens answers with the token name as actor; a bad tokens file is a clear error', async () => {
    const file = join(dir, 'tokens.txt');
    const token = (await runCli(['token', 'add', 'carol', 'author', '--tokens', file])).stdout.trim();
    assert.equal((await runCli(['migrate', '--db', db.url])).code, 0);
    const serve = spawnCli(['serve', '--port', '0', '--tokens', file, '--db', db.url, '--json']);
    running.push(serve);
    const serving = await serve.waitForJson<{ kind: string; url: string }>((l) => l.kind === 'serving', 20_000, 'the serving line');
    const headers = { authorization: `Bearer ${token}` };
    assert.equal((await fetch(`${serving.url}/api/v1/ttp/rules`)).status, 401);
    const put = await fetch(`${serving.url}/api/v1/ttp/rules/CLI_rule`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ yaml: 'rule_id: CLI_rule\nrule_version: 1\nname: x\napplies_to: [command]\nmatch: {}\nemits:\n  - technique_id: T1\n    tactic: TA1\n    confidence: 0.5\n' }),
    });
    assert.equal(put.status, 201, await put.text());
    const shown = await runCli(['show', 'CLI_rule', '--db', db.url, '--json']);
    assert.equal(shown.json<{ updatedBy: string }>()[0]!.updatedBy, 'carol');
    const stopped = await serve.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);

    const bad = join(dir, 'bad-tokens.txt');
    writeFileSync(bad, 'dave operator not-a-hash\n');
    const refused = await runCli(['serve', '--port', '0', '--tokens', bad, '--db', db.url]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /bad-tokens\.txt:1: the third field must be the token's SHA-256/);
  });

  it('start serves the console and prints a one-time login link; the link logs in once', async () => {
    const start = spawnCli(['start', join(dir, 'rules'), '--db', db.url, '--port', '0', '--by', 'erin@test', '--json']);
    running.push(start);
    const line = await start.waitForJson<{ kind: string; url: string; loginUrl: string }>((l) => l.kind === 'console', 20_000, 'the console line');
    await start.waitForJson<{ kind: string }>((l) => l.kind === 'ready', 20_000, 'ready');
    const token = decodeURIComponent(line.loginUrl.split('#token=')[1]!);
    const login = () => fetch(`${line.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    const first = await login();
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { name: 'erin@test', role: 'author' });
    assert.equal((await login()).status, 401, 'one time only');
    const noServe = spawnCli(['start', join(dir, 'rules'), '--db', db.url, '--no-serve', '--json']);
    running.push(noServe);
    await noServe.waitForJson<{ kind: string }>((l) => l.kind === 'ready', 20_000, 'ready');
    assert.ok(!noServe.lines.some((l) => l.includes('"console"')));
    assert.equal((await noServe.stop('SIGINT')).code, 0);
    const stopped = await start.stop('SIGINT');
    assert.equal(stopped.code, 0, stopped.stderr);
  });
});
