import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RuleStoreError, openRuleStore, type LockTimeoutError, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, readLogPositions, type TestDatabase } from '../helpers/database.js';
import { openIdleTransaction } from '../helpers/idleSession.js';
import { FULL, auditDelivery, recordReliability } from './audit.js';

// A forgotten `BEGIN; UPDATE ttp_rule_state …` holds the writers' lock while a
// writer keeps writing and an engine keeps reading: every write fails with
// LOCK_TIMEOUT after lockTimeoutMs naming the holder, reads keep being served,
// and once the holder goes writes resume and every committed change is delivered
// exactly once. (Before 0004 and lockTimeoutMs: writes waited as long as the
// holder idled, and the pool filled so that reads hung too.)
const LOCK_TIMEOUT_MS = FULL ? 5000 : 1000;
const BLOCKED_WRITES = FULL ? 3 : 2;
const WRITES_EACH_SIDE = FULL ? 200 : 50;

let db: TestDatabase;
let writer: RuleStore;
let engine: RuleStore;

before(async () => {
  db = await createTestDatabase('faults_writer_lock');
  writer = await openRuleStore({ url: db.url, lockTimeoutMs: LOCK_TIMEOUT_MS, revertExpired: false });
  engine = await openRuleStore({ url: db.url, revertExpired: false });
});
after(async () => {
  await engine.close();
  await writer.close();
  await db.drop();
});

const percentile = (values: number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? 0;

test(`writers' lock held by an idle transaction: LOCK_TIMEOUT after ${LOCK_TIMEOUT_MS} ms naming it, reads served meanwhile, nothing lost after`, async () => {
  const start = await engine.snapshot();
  const consumer = collect(engine.changesSince(start.position));
  for (let i = 0; i < WRITES_EACH_SIDE; i++) await writer.setState(`WL${i % 10}`, { state: 'disabled', reason: `before ${i}` }, 'writer');

  // An attacker's advisory lock on the old key, beside the real holder: it changes nothing.
  const attacker = await openIdleTransaction(db.url, ['SELECT pg_advisory_xact_lock(4195823301453231666)'], 'attacker');
  const holder = await openIdleTransaction(db.url, ["UPDATE ttp_rule_state SET reason = 'forgotten' WHERE rule_id = 'none'"], 'forgotten-psql');
  let blocked = true;
  const readLatencies: number[] = [];
  const reads = (async () => {
    for (let i = 0; blocked; i++) {
      const t = performance.now();
      if (i % 3 === 0) await writer.snapshot();
      else if (i % 3 === 1) await writer.stats();
      else await writer.getState(`WL${i % 10}`);
      if (blocked) readLatencies.push(performance.now() - t);
    }
  })();
  const timeouts: number[] = [];
  for (let i = 0; i < BLOCKED_WRITES; i++) {
    const t = performance.now();
    const error = await writer.setState(`WL${i}`, { state: 'disabled', reason: `blocked ${i}` }, 'writer').then(() => null, (e: unknown) => e);
    timeouts.push(performance.now() - t);
    assert.ok(RuleStoreError.is(error) && error.code === 'LOCK_TIMEOUT', `LOCK_TIMEOUT, got ${String(error)}`);
    assert.ok((error as LockTimeoutError).blockers.some((b) => b.pid === holder.pid && b.applicationName === 'forgotten-psql'), error.message);
    assert.ok(!(error as LockTimeoutError).blockers.some((b) => b.pid === attacker.pid), 'the advisory lock holder is not a blocker');
  }
  blocked = false;
  await reads;
  await holder.end();
  const released = performance.now();
  await writer.setState('WL0', { state: 'disabled', reason: 'after 0' }, 'writer');
  const recoveryMs = Math.round(performance.now() - released);
  for (let i = 1; i < WRITES_EACH_SIDE; i++) await writer.setState(`WL${i % 10}`, { state: 'disabled', reason: `after ${i}` }, 'writer');
  await attacker.end();

  const committed = await readLogPositions(db.url, start.position);
  await consumer.waitFor((items) => items.length > 0 && items.at(-1)!.position === committed.at(-1), 30_000, 'every commit');
  consumer.stop();
  const audit = auditDelivery(consumer.items, committed);
  const blockedMs = timeouts.reduce((a, b) => a + b, 0);
  const note =
    `LOCK_TIMEOUT after ${timeouts.map((t) => Math.round(t)).join(', ')} ms (lockTimeoutMs ${LOCK_TIMEOUT_MS}), naming the holder's pid; ` +
    `${readLatencies.length} reads (snapshot, stats, getState) served on the same store while writes were blocked (${Math.round(blockedMs)} ms), p50 ${percentile(readLatencies, 0.5).toFixed(1)} ms, max ${Math.max(...readLatencies).toFixed(1)} ms; ` +
    'an advisory lock on the old key beside it blocked nothing (before: every write waited as long as the holder idled and reads queued behind them)';
  recordReliability({
    scenario: "writers' lock held by an idle transaction (a forgotten psql BEGIN; UPDATE ttp_rule_state)",
    faults: `1 holder for ${BLOCKED_WRITES} × lockTimeoutMs, 1 advisory-lock attacker`,
    recoveryMs,
    note,
    ...audit,
  });
  assert.equal(audit.committed, WRITES_EACH_SIDE * 2, 'no blocked write was stored');
  assert.ok(readLatencies.length > 0, 'reads were served while writes were blocked');
  assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, outOfOrder: audit.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
});
