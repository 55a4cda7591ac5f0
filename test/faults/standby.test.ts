import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migrate, openRuleStore, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';
import { FULL, auditDelivery, recordReliability } from './audit.js';
import { createPrimary, createStandby, onCluster, throwawayClustersUnavailable, type ThrowawayCluster } from './fixtures/throwawayCluster.js';

// A streaming replica of a throwaway cluster (ports 5447/5448): a store on the
// standby reads an expired state as the default without throwing, tries one
// revert, hears that the database is read only and stops (no retry storm), and
// still receives every change made on the primary (transport 'poll').
const PRIMARY_PORT = 5447;
const STANDBY_PORT = 5448;
const DATABASE = 'ttp_standby';
const CHANGES = FULL ? 500 : 100;
const unavailable = throwawayClustersUnavailable();

let primary: ThrowawayCluster | null = null;
let standby: ThrowawayCluster | null = null;
const closers: (() => Promise<unknown>)[] = [];

/** Waits for `check` to hold, re-checking every 50 ms, at most `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

before(() => {
  if (unavailable) return;
  primary = createPrimary('ttp_lock_primary', PRIMARY_PORT);
});
after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  standby?.drop();
  primary?.drop();
});

const T0 = performance.now();
const mark = (what: string): void => console.log(`${((performance.now() - T0) / 1000).toFixed(1)} s: ${what}`);

test('a store on a hot standby: expired state reads as the default, one revert attempt, every primary change delivered', { skip: unavailable ?? false }, async () => {
  await onCluster(primary!.url(), (sql) => sql.unsafe(`CREATE DATABASE ${DATABASE}`));
  await migrate(primary!.url(DATABASE));
  await onCluster(primary!.url(DATABASE), async (sql) => {
    await sql`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ('SB1', 1, ${ruleYaml('SB1')})`;
    await sql`INSERT INTO ttp_rule_state (rule_id, state, set_by, expires_at) VALUES ('SB1', 'disabled', 'op', now() - interval '1 second')`;
  });
  mark('primary ready');
  standby = createStandby(primary!, 'ttp_lock_standby', STANDBY_PORT);
  mark('standby created');
  await until(
    () => onCluster(standby!.url(DATABASE), async (sql) => (await sql`SELECT count(*)::int AS n FROM ttp_rule_state WHERE rule_id = 'SB1'`)[0]?.['n'] === 1).catch(() => false),
    60_000,
    'the standby to accept connections with the expired state replayed',
  );

  mark('standby replayed');
  const store: RuleStore = await openRuleStore({ url: standby!.url(DATABASE), transport: 'poll', pollIntervalMs: 100 });
  closers.push(() => store.close());
  const errors = collect(store.errors$);
  const state = await store.getState('SB1');
  assert.equal(state.state, 'enabled', 'an expired state reads as the default on a standby, without throwing');
  await until(async () => (await store.stats()).expiry.readOnly, 20_000, 'the store to notice the read-only database');

  // Changes from the primary arrive; each state carries an expiry that has passed
  // by the time it arrives, which would re-arm a revert timer on every event.
  mark('read only noticed');
  const start = await store.snapshot();
  const consumer = collect(store.changesSince(start.position));
  const writer = await openRuleStore({ url: primary!.url(DATABASE), transport: 'poll', revertExpired: false });
  closers.push(() => writer.close());
  const began = performance.now();
  let sb1ExpiresAt = 0;
  for (let i = 0; i < CHANGES; i++) {
    if (i % 2 === 0) await writer.upsertRule(ruleYaml(`SB${i % 20}`, { version: i + 2 }));
    else {
      const expiresAt = new Date(Date.now() + 50);
      if (i % 20 === 1) sb1ExpiresAt = expiresAt.getTime();
      await writer.setState(`SB${i % 20}`, { state: 'disabled', reason: `r${i}`, expiresAt }, 'op');
    }
  }
  const committed = await onCluster(primary!.url(DATABASE), async (sql) =>
    (await sql`SELECT position::text AS p FROM ttp_rule_event WHERE position > ${start.position}::bigint ORDER BY position`).map((r) => String(r['p'])),
  );
  await consumer.waitFor((items) => items.length > 0 && items.at(-1)!.position === committed.at(-1), 60_000, 'every primary change on the standby');
  mark('delivered');
  const deliveredMs = Math.round(performance.now() - began);
  // On a fast machine the last change arrives before SB1's last expiry has passed: wait for the clock.
  await until(async () => Date.now() > sb1ExpiresAt, 5_000, "SB1's last expiry to pass");
  assert.equal((await store.getState('SB1')).state, 'enabled');
  const stats = await store.stats();
  const audit = auditDelivery(consumer.items, committed);
  recordReliability({
    scenario: 'store on a hot standby (streaming replica, pg_basebackup -R), transport poll',
    faults: `read-only database, ${CHANGES} primary changes with expiries`,
    recoveryMs: null,
    note: `expired state read as the default; ${stats.expiry.failures} revert attempt, then stopped (read only), ${errors.items.length} error reported (before: getState threw WRITE_FAILED and the timer retried every second forever); all delivered ${deliveredMs} ms after the first write`,
    ...audit,
  });
  assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, outOfOrder: audit.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
  assert.equal(stats.expiry.failures, 1, 'one revert attempt, no retry storm');
  assert.equal(errors.items.length, 1, 'reported once');
  assert.match(errors.items[0]!.message, /read only/);
  consumer.stop();
  errors.stop();
});
