import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { openRuleStore, type RuleChange, type RuleStore, type RuleStoreError } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture, type RawDb } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

// A read that keeps failing used to be retried in silence (the logger is silent
// by default): nothing on errors$, stats() all green. Now every failed attempt is
// a FEED_ERROR, stats() says since when the store is stalled, a stall longer
// than stallWarnMs is logged at error level, and once reads work again every
// change arrives, once.

/** Makes the store's log reads fail, and undoes it, from a raw connection. */
interface Breaker {
  /** The URL the store under test connects with. */
  url: string;
  break(): Promise<void>;
  restore(): Promise<void>;
  drop(): Promise<void>;
}

async function breakerFor(fx: BackendFixture, raw: RawDb): Promise<Breaker> {
  if (fx.name === 'sqlite') {
    // Renaming the table breaks every read of the store's statements; the
    // triggers follow the rename, so writes made meanwhile are kept.
    return {
      url: fx.url,
      break: async () => void (await raw.run('ALTER TABLE ttp_rule_event RENAME TO ttp_rule_event_away')),
      restore: async () => void (await raw.run('ALTER TABLE ttp_rule_event_away RENAME TO ttp_rule_event')),
      drop: async () => {},
    };
  }
  // A login role that may read the store, as a deployed engine would; revoking
  // its right to read the log makes each read fail with permission denied, while
  // writers (the raw superuser connection) go on logging.
  const role = `ttp_test_feed_${randomBytes(4).toString('hex')}`;
  await raw.run(`CREATE ROLE ${role} LOGIN`);
  await raw.run(`GRANT SELECT ON ttp_rule, ttp_rule_state, ttp_rule_event, ttp_rule_log_meta, ttp_rule_consumer, pgmigrations TO ${role}`);
  const url = new URL(fx.url);
  url.username = role;
  return {
    url: url.toString(),
    break: async () => void (await raw.run(`REVOKE SELECT ON ttp_rule_event FROM ${role}`)),
    restore: async () => void (await raw.run(`GRANT SELECT ON ttp_rule_event TO ${role}`)),
    drop: async () => {
      await raw.run(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`);
      await raw.run(`DROP OWNED BY ${role}`);
      await raw.run(`DROP ROLE ${role}`);
    },
  };
}

async function logPositions(raw: RawDb, after: string): Promise<string[]> {
  const rows = await raw.run('SELECT position FROM ttp_rule_event WHERE position > $1 ORDER BY position', [after]);
  return rows.map((r) => String(r['position']));
}

async function insertRules(raw: RawDb, ids: string[]): Promise<void> {
  for (const id of ids) await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ($1, 1, $2, 'test')`, [id, ruleYaml(id)]);
}

/** A pino logger that keeps its lines, and lets a test wait for one. */
function recordingLogger(level: 'error' | 'warn' = 'error') {
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  const logger = pino({ level }, {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of [...waiters]) w();
    },
  });
  const waitFor = (predicate: (line: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = lines.find(predicate);
        if (!hit) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for a log line; got ${JSON.stringify(lines).slice(0, 800)}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { logger, lines, waitFor };
}

for (const backend of BACKENDS) {
  describe(`failing log reads are loud (${backend})`, () => {
    let fx: BackendFixture;
    let breaker: Breaker | undefined;
    let store: RuleStore | undefined;
    after(async () => {
      await store?.close();
      await breaker?.drop();
      await fx?.teardown();
    });

    test('FEED_ERROR on errors$, stalledSince and an error-level log while reads fail; no loss once they work again', async () => {
      fx = await createBackendFixture(backend, 'feed_errors');
      if (backend === 'sqlite') await (await fx.open()).close(); // creates the schema
      const raw = fx.raw();
      breaker = await breakerFor(fx, raw);
      const recorded = recordingLogger();
      store = await openRuleStore({
        url: breaker.url,
        logger: recorded.logger,
        stallWarnMs: 0,
        ...(backend === 'postgres-poll' ? { transport: 'poll' as const, pollIntervalMs: 50 } : backend === 'sqlite' ? { pollIntervalMs: 50 } : {}),
      });
      await insertRules(raw, ['FE1', 'FE2']);
      const before = await logPositions(raw, '0');
      const first = before[0];
      await store.waitForPosition(before.at(-1)!); // so that a replay from 0 has something to read
      const errors = collect<RuleStoreError>(store.errors$);
      // Subscribed before the outage: at the head, then live.
      const live = collect<RuleChange>(store.changesSince(first!));
      const healthy = await store.stats();
      assert.equal(healthy.stalledSince, null);

      await breaker.break();
      await insertRules(raw, ['FE3', 'FE4', 'FE5']);
      await errors.waitFor((all) => all.some((e) => e.code === 'FEED_ERROR' && /reading the event log/.test(e.message)), 15_000, 'a FEED_ERROR from the live reader');
      // Each retry is reported, not only the first failure.
      await errors.waitFor((all) => all.filter((e) => e.code === 'FEED_ERROR').length >= 2, 15_000, 'a second FEED_ERROR (the retry)');
      // A subscriber that joins during the outage replays from 0 and stalls too, loudly.
      const late = collect<RuleChange>(store.changesSince('0'));
      await errors.waitFor((all) => all.some((e) => e.code === 'FEED_ERROR' && /changesSince\(0\)/.test(e.message)), 15_000, 'a FEED_ERROR from the replay');
      const stalled = await store.stats();
      assert.ok(stalled.stalledSince instanceof Date, 'stats().stalledSince is set');
      assert.ok(stalled.errors >= 3, `stats().errors counts the FEED_ERRORs (${stalled.errors})`);
      const logged = await recorded.waitFor((line) => line['event'] === 'log:reader:stalled');
      assert.equal(logged['level'], 50, 'a stall longer than stallWarnMs is logged at error level');
      for (const e of errors.items) assert.equal(e.code, 'FEED_ERROR');

      await breaker.restore();
      await insertRules(raw, ['FE6']);
      const all = await logPositions(raw, '0');
      const expectLive = all.filter((p) => BigInt(p) > BigInt(first!));
      const positions = (items: readonly RuleChange[]): string[] => items.map((c) => c.position);
      await live.waitFor((items) => items.length >= expectLive.length, 15_000, 'the live subscriber to catch up');
      await late.waitFor((items) => items.length >= all.length, 15_000, 'the late subscriber to catch up');
      assert.deepEqual(positions(live.items), expectLive, 'the live subscriber got every change once, in order');
      assert.deepEqual(positions(late.items), all, 'the late subscriber got every change once, in order');
      assert.equal((await store.stats()).stalledSince, null, 'stalledSince is null again');
      live.stop();
      late.stop();
    });
  });
}

if (BACKENDS.includes('postgres-listen')) {
  describe('a replay that stalls while live changes arrive holds a bounded buffer (postgres)', () => {
    let fx: BackendFixture;
    let raw: RawDb;
    let breaker: Breaker | undefined;
    let store: RuleStore | undefined;
    after(async () => {
      await store?.close();
      await raw?.run('ALTER TABLE ttp_rule_event DISABLE ROW LEVEL SECURITY').catch(() => {});
      await breaker?.drop();
      await fx?.teardown();
    });

    test('live changes beyond pageSize are dropped from memory and read from the log instead, with no loss', async () => {
      fx = await createBackendFixture('postgres-listen', 'feed_overflow');
      raw = fx.raw();
      breaker = await breakerFor(fx, raw);
      const role = new URL(breaker.url).username;
      // A gate on old rows only: reading a position at or below `below` fails,
      // so a replay from 0 stalls while the live reader (above it) works. Index
      // scans only, so that the gate sees just the rows a query asks for.
      await raw.run('CREATE TABLE ttp_test_gate (below bigint NOT NULL)');
      await raw.run('INSERT INTO ttp_test_gate VALUES (0)');
      await raw.run(`GRANT SELECT ON ttp_test_gate TO ${role}`);
      await raw.run(`CREATE FUNCTION ttp_test_gate_open(p bigint) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
        BEGIN IF p <= (SELECT below FROM ttp_test_gate) THEN RAISE EXCEPTION 'gate closed at %', p; END IF; RETURN true; END $$`);
      await raw.run('ALTER TABLE ttp_rule_event ENABLE ROW LEVEL SECURITY');
      await raw.run(`CREATE POLICY ttp_test_gate ON ttp_rule_event FOR SELECT TO ${role} USING (ttp_test_gate_open(position))`);
      await raw.run(`ALTER ROLE ${role} SET enable_seqscan = off`);
      const recorded = recordingLogger('warn');
      const pageSize = 5;
      store = await openRuleStore({ url: breaker.url, logger: recorded.logger, pageSize, stallWarnMs: 60_000 });
      await insertRules(raw, ['OV1', 'OV2', 'OV3']);
      const before = await logPositions(raw, '0');
      await store.waitForPosition(before.at(-1)!);
      await raw.run('UPDATE ttp_test_gate SET below = $1', [before.at(-1)!]);

      const errors = collect<RuleStoreError>(store.errors$);
      const late = collect<RuleChange>(store.changesSince('0'));
      await errors.waitFor((all) => all.some((e) => e.code === 'FEED_ERROR' && /changesSince\(0\)/.test(e.message)), 15_000, 'the replay to fail');
      const live = collect<RuleChange>(store.changesSince(before.at(-1)!));
      const more = Array.from({ length: pageSize * 3 }, (_, i) => `OV${i + 10}`);
      await insertRules(raw, more);
      await live.waitForCount(more.length, 15_000);
      await recorded.waitFor((line) => line['event'] === 'log:replay:overflow');
      assert.equal(late.items.length, 0, 'the stalled replay delivered nothing yet');
      assert.ok((await store.stats()).stalledSince instanceof Date);

      await raw.run('UPDATE ttp_test_gate SET below = 0');
      await insertRules(raw, ['OV99']);
      const all = await logPositions(raw, '0');
      await late.waitFor((items) => items.length >= all.length, 15_000, 'the replay to catch up');
      assert.deepEqual(late.items.map((c) => c.position), all, 'every change once, in order, across the dropped buffer');
      assert.equal((await store.stats()).stalledSince, null);
      live.stop();
      late.stop();
    });
  });
}
