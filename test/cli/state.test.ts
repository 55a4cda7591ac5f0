import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openRuleStore } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { fixtureFiles } from '../helpers/rules.js';

interface StateJson {
  state: string;
  confidenceMax: number | null;
  expiresAt: string | null;
  reason: string | null;
  setBy: string | null;
  setAt: string | null;
}

describe('ttp-rules state (Postgres)', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase('cli_state');
    const apply = await runCli(['apply', ...fixtureFiles().slice(0, 3), '--db', db.url]);
    assert.equal(apply.code, 0, apply.stderr);
  });
  after(() => db.drop());

  it('disable --for 10m stores a state that expires in ten minutes', async () => {
    const before = Date.now();
    const run = await runCli(['state', 'R0001', 'disable', '--for', '10m', '--reason', 'noisy', '--by', 'alice@test', '--db', db.url, '--json']);
    const after = Date.now();
    assert.equal(run.code, 0, run.stderr);
    const [printed] = run.json<{ ruleId: string; state: StateJson }>();
    assert.equal(printed!.ruleId, 'R0001');

    const show = await runCli(['show', 'R0001', '--db', db.url, '--json']);
    const state = show.json<{ state: StateJson }>()[0]!.state;
    assert.deepEqual(state, printed!.state);
    assert.equal(state.state, 'disabled');
    assert.equal(state.reason, 'noisy');
    assert.equal(state.setBy, 'alice@test');
    const expiresAt = Date.parse(state.expiresAt!);
    assert.ok(expiresAt >= before + 600_000 && expiresAt <= after + 600_000, `expiresAt ${state.expiresAt} is not ten minutes from now`);

    // The library agrees: the state is stored, with its expiry.
    const store = await openRuleStore({ url: db.url });
    try {
      const stored = await store.getState('R0001');
      assert.equal(stored.state, 'disabled');
      assert.equal(stored.expiresAt?.getTime(), expiresAt);
    } finally {
      await store.close();
    }
  });

  it('the readable form says until when', async () => {
    const run = await runCli(['state', 'R0002', 'disable', '--for', '1h30m', '--db', db.url]);
    assert.equal(run.code, 0, run.stderr);
    // A confirmation is status: stderr (stdout carries data only).
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^R0002: disabled until \d{4}-\d\d-\d\dT[\d:.]+Z \(in 1h 30m\), set by \S+@\S+\n$/);
  });

  it('clip needs --confidence-max and stores the ceiling; --until sets an exact expiry', async () => {
    const missing = await runCli(['state', 'R0003', 'clip', '--db', db.url]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /clip needs --confidence-max/);

    const until = new Date(Date.now() + 3_600_000).toISOString();
    const run = await runCli(['state', 'R0003', 'clip', '--confidence-max', '0.25', '--until', until, '--db', db.url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const state = run.json<{ state: StateJson }>()[0]!.state;
    assert.equal(state.state, 'clipped');
    assert.equal(state.confidenceMax, 0.25);
    assert.equal(state.expiresAt, until);
  });

  it('refuses a rule id that is not stored unless --force', async () => {
    const refused = await runCli(['state', 'NOT_LOADED_YET', 'disable', '--db', db.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ttp-rules: error: rule NOT_LOADED_YET is not stored \(use --force to set its state anyway\)\n$/);
    const forced = await runCli(['state', 'NOT_LOADED_YET', 'disable', '--force', '--db', db.url, '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.json<{ state: StateJson }>()[0]!.state.state, 'disabled');
  });

  it('clear reverts to the default and says whether there was anything to clear', async () => {
    const first = await runCli(['state', 'R0001', 'clear', '--db', db.url, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const [cleared] = first.json<{ cleared: boolean; state: StateJson }>();
    assert.equal(cleared!.cleared, true);
    assert.equal(cleared!.state.state, 'enabled');
    const second = await runCli(['state', 'R0001', 'clear', '--db', db.url]);
    assert.equal(second.code, 0);
    assert.match(second.stderr, /R0001: no state to clear/);
    const show = await runCli(['show', 'R0001', '--db', db.url, '--json']);
    assert.deepEqual(show.json<{ state: StateJson }>()[0]!.state, { state: 'enabled', confidenceMax: null, expiresAt: null, reason: null, setBy: null, setAt: null });
  });

  it('defaults --by to user@host', async () => {
    const run = await runCli(['state', 'R0002', 'enable', '--db', db.url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.json<{ state: StateJson }>()[0]!.state.setBy!, /^[^@\s]+@[^@\s]+$/);
  });
});
