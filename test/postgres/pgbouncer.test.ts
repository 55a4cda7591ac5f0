import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RuleStoreError, openRuleStore } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { pgbouncerSkipReason, startPgbouncer, type Pgbouncer } from '../helpers/pgbouncer.js';
import { runPoolerLoad } from '../faults/poolerScenario.js';

interface Check {
  name: string;
  status: string;
  detail: string;
}

const skip = pgbouncerSkipReason();

describe('through pgbouncer in transaction pooling', { skip }, () => {
  let db: TestDatabase;
  let bouncer: Pgbouncer;

  before(async () => {
    db = await createTestDatabase('pgbouncer');
    // A server pool smaller than the clients' pools: transactions of different clients share server connections.
    bouncer = await startPgbouncer({ pool_mode: 'transaction', default_pool_size: 3 });
  });
  after(async () => {
    await bouncer?.stop();
    await db?.drop();
  });

  it("transport 'poll' with the plain URL: concurrent writers and readers see no error, every change arrives exactly once", async () => {
    const result = await runPoolerLoad(bouncer.url(db.name), db.url, { writers: 3, lanes: 4, writesPerLane: 40 });
    console.log(`pgbouncer: ${JSON.stringify({ ...result, errors: result.errors.length })}`);
    assert.deepEqual(result.errors.slice(0, 5), []);
    assert.equal(result.wrong, 0);
    assert.equal(result.writes, 3 * 4 * 40);
    assert.equal(result.committed, result.writes);
    assert.deepEqual({ lost: result.lost, duplicated: result.duplicated, outOfOrder: result.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
  });

  it("transport 'listen' fails at open, saying to use transport: 'poll'", async () => {
    await assert.rejects(openRuleStore({ url: bouncer.url(db.name) }), (error: unknown) => {
      assert.ok(RuleStoreError.is(error));
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, /transport: 'poll'/);
      return true;
    });
  });

  it('doctor --transport poll passes; doctor for a listen deployment flags the pooler', async () => {
    const poll = await runCli(['doctor', '--db', bouncer.url(db.name), '--transport', 'poll', '--json']);
    assert.equal(poll.code, 0, poll.stdout + poll.stderr);
    const pollChecks = poll.json<Check>();
    assert.ok(pollChecks.every((c) => c.status !== 'fail'), JSON.stringify(pollChecks));
    assert.equal(pollChecks.find((c) => c.name === 'listen')?.status, 'ok');

    const listen = await runCli(['doctor', '--db', bouncer.url(db.name), '--json']);
    assert.equal(listen.code, 1, listen.stdout + listen.stderr);
    const listenCheck = listen.json<Check>().find((c) => c.name === 'listen');
    assert.equal(listenCheck?.status, 'fail');
    assert.match(listenCheck?.detail ?? '', /poll/);
  });

  it('too many clients for max_client_conn is STORE_UNAVAILABLE, not WRITE_FAILED', async () => {
    const tiny = await startPgbouncer({ pool_mode: 'transaction', max_client_conn: 2 });
    const holders: Awaited<ReturnType<typeof openRuleStore>>[] = [];
    try {
      const first = await openRuleStore({ url: tiny.url(db.name), transport: 'poll', revertExpired: false });
      holders.push(first);
      // Two connections busy at once fill max_client_conn; the store's next ones are refused.
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => first.setState(`TINY${i}`, { state: 'disabled', reason: 'full' }, 'test')));
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
      assert.ok(failures.length > 0, 'some calls were refused');
      for (const failure of failures) {
        assert.ok(RuleStoreError.is(failure), String(failure));
        assert.equal(failure.code, 'STORE_UNAVAILABLE', failure.message);
      }
    } finally {
      for (const h of holders) await h.close().catch(() => {});
      await tiny.stop();
    }
  });
});

describe('through pgbouncer in session pooling', { skip }, () => {
  let db: TestDatabase;
  let bouncer: Pgbouncer;
  before(async () => {
    db = await createTestDatabase('pgbouncer_session');
    bouncer = await startPgbouncer({ pool_mode: 'session', default_pool_size: 10 });
  });
  after(async () => {
    await bouncer?.stop();
    await db?.drop();
  });

  it("transport 'listen' works (each client keeps its server connection)", async () => {
    const store = await openRuleStore({ url: bouncer.url(db.name), safetyCheckMs: 600_000 });
    try {
      await store.setState('S1', { state: 'disabled', reason: 'session' }, 'test');
      assert.equal((await store.getState('S1')).state, 'disabled');
    } finally {
      await store.close();
    }
  });
});
