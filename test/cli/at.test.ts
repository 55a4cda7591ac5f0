import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openRuleStore } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { createTestSqliteFile } from '../helpers/database.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const EX001 = `${ROOT}rules/EX001_ssh_bruteforce.yaml`;

describe('ttp-rules list --at / show --at (the incident review of the README)', () => {
  const db = createTestSqliteFile('cli_at');
  let clippedAt = '';
  let clippedTime = '';

  before(async () => {
    const apply = await runCli(['apply', `${ROOT}rules`, '--db', db.url]);
    assert.equal(apply.code, 0, apply.stderr);
    const state = await runCli(['state', 'EX001_ssh_bruteforce', 'clip', '--confidence-max', '0.3', '--reason', 'pentest', '--by', 'alice', '--db', db.url, '--json']);
    assert.equal(state.code, 0, state.stderr);
    const store = await openRuleStore({ url: db.url });
    try {
      clippedAt = (await store.snapshot()).position;
      clippedTime = new Date().toISOString();
      // "Later" is a later millisecond than clippedTime (the store stamps times to the millisecond): wait for the clock to tick.
      while (Date.now() <= Date.parse(clippedTime)) await new Promise((resolve) => setImmediate(resolve));
      // Later: a new version of the rule, and the clip lifted.
      await store.upsertRule(readFileSync(EX001, 'utf8').replace('rule_version: 1', 'rule_version: 2'), { sourcePath: EX001 });
      await store.clearState('EX001_ssh_bruteforce', 'bob');
    } finally {
      await store.close();
    }
  });
  after(() => db.drop());

  it('list --at POSITION --json shows the state in force then', async () => {
    const run = await runCli(['list', '--at', clippedAt, '--db', db.url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const ex001 = run.json<{ ruleId: string; state: { state: string; confidenceMax: number } }>().find((r) => r.ruleId === 'EX001_ssh_bruteforce');
    assert.equal(ex001?.state.state, 'clipped');
    assert.equal(ex001?.state.confidenceMax, 0.3);
    assert.equal(run.json().length, 5);
  });

  it('show ID --at TIME gives the version and state in force then; without --at, now', async () => {
    const then = await runCli(['show', 'EX001_ssh_bruteforce', '--at', clippedTime, '--db', db.url, '--json']);
    assert.equal(then.code, 0, then.stderr);
    const [past] = then.json<{ ruleVersion: number; state: { state: string; setBy: string } }>();
    assert.equal(past?.ruleVersion, 1);
    assert.equal(past?.state.state, 'clipped');
    assert.equal(past?.state.setBy, 'alice');
    const now = await runCli(['show', 'EX001_ssh_bruteforce', '--db', db.url, '--json']);
    const [current] = now.json<{ ruleVersion: number; state: { state: string } }>();
    assert.equal(current?.ruleVersion, 2);
    assert.equal(current?.state.state, 'enabled');
    const text = await runCli(['show', 'EX001_ssh_bruteforce', '--at', clippedAt, '--db', db.url]);
    assert.match(text.stdout, /state:\s+clipped/);
  });

  it('refuses an --at that is neither a position nor a zoned ISO time, and a rule not stored then', async () => {
    const bad = await runCli(['list', '--at', 'yesterday', '--db', db.url]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--at/);
    const before = await runCli(['show', 'EX001_ssh_bruteforce', '--at', '0', '--db', db.url]);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /was not stored at position 0/);
  });
});
