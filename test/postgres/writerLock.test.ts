import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { LockTimeoutError, RuleStoreError, diagnose, openRuleStore, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { PG_SERVER_URL, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { openIdleTransaction, type IdleSession } from '../helpers/idleSession.js';
import { ruleYaml } from '../helpers/rules.js';
import { cliEnv, runCli } from '../helpers/cli.js';

// The writers' lock (migration 0004) as an attacker and an unlucky operator meet it.
const ROLES_SQL = new URL('../../sql/roles.sql', import.meta.url).pathname;
const MIGRATION_0001 = new URL('../../migrations/0001_ttp_rule_store.sql', import.meta.url).pathname;
const ADVISORY_KEY = '4195823301453231666';
const suffix = randomBytes(3).toString('hex');
const nobody = `ttp_t_nobody_${suffix}`;
const operator = `ttp_t_lockop_${suffix}`;

let db: TestDatabase;
let server: postgres.Sql;
const cleanup: (() => Promise<unknown>)[] = [];

const urlAs = (user: string, url = db.url): string => {
  const u = new URL(url);
  u.username = user;
  return u.toString();
};
const track = <T extends { close(): Promise<unknown> } | IdleSession>(thing: T): T => {
  cleanup.push(() => ('close' in thing ? thing.close() : thing.end()));
  return thing;
};
const isLockTimeout = (e: unknown): e is LockTimeoutError => RuleStoreError.is(e) && e.code === 'LOCK_TIMEOUT';

before(async () => {
  db = await createTestDatabase('writer_lock');
  execFileSync('psql', [db.url, '-q', '-v', 'ON_ERROR_STOP=1', '-f', ROLES_SQL], { stdio: 'pipe' });
  server = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  await server.unsafe(`CREATE ROLE "${nobody}" LOGIN`);
  await server.unsafe(`CREATE ROLE "${operator}" LOGIN IN ROLE ttp_rules_operator`);
  const owner = await openRuleStore({ url: db.url });
  await owner.upsertRules([{ yaml: ruleYaml('LOCK1') }, { yaml: ruleYaml('LOCK2') }, { yaml: ruleYaml('LOCK3') }]);
  await owner.close();
});
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  await db.drop();
  await server.unsafe(`DROP ROLE IF EXISTS "${nobody}"`);
  await server.unsafe(`DROP ROLE IF EXISTS "${operator}"`);
  await server.end();
});

test('a role with no grants cannot take the writers\' lock: its advisory lock on the old key blocks nothing, and it cannot lock the table', async () => {
  const attacker = track(await openIdleTransaction(urlAs(nobody), [`SELECT pg_advisory_xact_lock(${ADVISORY_KEY})`], 'attacker'));
  const store = track(await openRuleStore({ url: db.url, lockTimeoutMs: 2000, revertExpired: false }));
  assert.equal((await store.setState('LOCK1', 'disabled', 'owner')).state, 'disabled');
  assert.equal((await store.upsertRule(ruleYaml('LOCK1', { version: 2 }))).changed, true);
  assert.equal(await store.clearState('LOCK1', 'owner'), true);
  const raw = postgres(urlAs(nobody), { max: 1, onnotice: () => {} });
  cleanup.push(() => raw.end());
  await assert.rejects(raw`SELECT 1 FROM ttp_rule_writer_lock FOR UPDATE`, /permission denied/);
  await assert.rejects(raw.begin((tx) => tx`LOCK TABLE ttp_rule_writer_lock IN EXCLUSIVE MODE`), /permission denied/);
  await assert.rejects(raw.begin((tx) => tx`LOCK TABLE ttp_rule_writer_lock IN ACCESS SHARE MODE`), /permission denied/);
  await assert.rejects(raw`SELECT * FROM ttp_rule_writer_lock_blockers()`, /permission denied/);
  const checks = await diagnose(db.url);
  assert.equal(checks.find((c) => c.name === 'writer-lock')?.status, 'ok', 'the attacker holds nothing doctor should name');
  await attacker.end();
});

test('the old schema (0001\'s advisory lock) would have blocked every writer behind that same role', async () => {
  const old = await createTestDatabase('writer_lock_old');
  try {
    // 0001's trigger function, as released: whoever holds the advisory key freezes all writes.
    const original = /CREATE FUNCTION ttp_rule_store_lock\(\)[\s\S]*?\$\$;/.exec(readFileSync(MIGRATION_0001, 'utf8'))![0];
    const admin = postgres(old.url, { max: 1, onnotice: () => {} });
    // CREATE OR REPLACE takes every property from the text: SECURITY INVOKER, no SET.
    await admin.unsafe(original.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
    await admin.end();
    const attacker = await openIdleTransaction(urlAs(nobody, old.url), [`SELECT pg_advisory_xact_lock(${ADVISORY_KEY})`], 'attacker');
    const store = await openRuleStore({ url: old.url, lockTimeoutMs: 300 });
    try {
      await assert.rejects(store.setState('OLD1', 'disabled', 'owner'), (e: unknown) => isLockTimeout(e));
    } finally {
      await store.close();
      await attacker.end();
    }
  } finally {
    await old.drop();
  }
});

test("an operator's forgotten BEGIN; UPDATE ttp_rule_state …: writes fail with LOCK_TIMEOUT naming it, reads still answer", async () => {
  const forgotten = track(await openIdleTransaction(urlAs(operator), ["UPDATE ttp_rule_state SET reason = 'oops' WHERE rule_id = 'none'"]));
  const lockTimeoutMs = 1500;
  const store = track(await openRuleStore({ url: db.url, lockTimeoutMs, revertExpired: false }));
  // More writes than the write pool has connections: the queued ones are bounded too.
  const started = performance.now();
  const writes = ['LOCK1', 'LOCK2', 'LOCK3', 'LOCK1'].map((id) => store.setState(id, 'disabled', 'owner').then(
    () => ({ ok: true as const, ms: performance.now() - started }),
    (error: unknown) => ({ ok: false as const, error, ms: performance.now() - started }),
  ));
  let settled = false;
  const all = Promise.all(writes).finally(() => (settled = true));
  // Reads do not queue behind the blocked writes.
  const snap = await store.snapshot();
  const stats = await store.stats();
  const state = await store.getState('LOCK2');
  const history = await store.history({ limit: 5 });
  assert.equal(settled, false, 'every read answered while the writes were still waiting');
  assert.equal(snap.rules.length, 3);
  assert.equal(stats.head, snap.position);
  assert.equal(state.state, 'enabled');
  assert.ok(history.length > 0);
  const results = await all;
  for (const r of results) {
    assert.equal(r.ok, false, 'no write got through the held lock');
    if (r.ok) continue;
    assert.ok(isLockTimeout(r.error), `LOCK_TIMEOUT, got ${String(r.error)}`);
    assert.ok(r.ms >= lockTimeoutMs - 5, `waited lockTimeoutMs (${r.ms.toFixed(0)} ms)`);
    assert.match(r.error.message, new RegExp(`pid ${forgotten.pid} \\(role ${operator}, application "forgotten-psql", idle in transaction since `));
    assert.deepEqual(r.error.blockers.map((b) => [b.pid, b.role, b.holds]), [[forgotten.pid, operator, true]]);
  }
  console.log(`LOCK_TIMEOUT after ${results.map((r) => r.ms.toFixed(0)).join(', ')} ms (lockTimeoutMs ${lockTimeoutMs})`);
  await forgotten.end();
  assert.equal((await store.setState('LOCK2', 'disabled', 'owner')).state, 'disabled', 'writes go through once the holder is gone');
  await store.clearState('LOCK2', 'owner');
});

test('an expiry revert that cannot get the lock is reported, retried, and done once the holder goes', async () => {
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  cleanup.push(() => admin.end());
  await admin`INSERT INTO ttp_rule_state (rule_id, state, set_by, expires_at) VALUES ('LOCK3', 'disabled', 'op', now() - interval '1 second')`;
  const holder = track(await openIdleTransaction(urlAs(operator), ["UPDATE ttp_rule_state SET reason = 'oops' WHERE rule_id = 'none'"]));
  const store = track(await openRuleStore({ url: db.url, lockTimeoutMs: 300, revertExpired: true }));
  const errors = collect(store.errors$);
  const changes = collect(store.changes$);
  await errors.waitFor((items) => items.some((e) => e.code === 'LOCK_TIMEOUT' && e.message.includes(`pid ${holder.pid}`)), 20_000, 'the revert to report LOCK_TIMEOUT');
  const during = await store.stats();
  assert.equal(during.expiry.retrying, true);
  assert.ok(during.expiry.failures >= 1);
  assert.equal((await store.getState('LOCK3')).state, 'enabled', 'an expired state reads as the default meanwhile');
  await holder.end();
  await changes.waitFor((items) => items.some((c) => c.kind === 'state' && c.ruleId === 'LOCK3' && c.expired), 30_000, 'the revert after the holder left');
  const afterwards = await store.stats();
  assert.equal(afterwards.expiry.retrying, false);
  const [row] = await admin`SELECT count(*)::int AS n FROM ttp_rule_state WHERE rule_id = 'LOCK3'`;
  assert.equal(row?.['n'], 0);
  errors.stop();
  changes.stop();
});

test('doctor fails and names a session that holds the writers\' lock idle in transaction past the threshold', async () => {
  const holder = track(await openIdleTransaction(urlAs(operator), ["UPDATE ttp_rule_state SET reason = 'oops' WHERE rule_id = 'none'"]));
  const relaxed = await diagnose(db.url, { lockThresholdMs: 3_600_000 });
  const calm = relaxed.find((c) => c.name === 'writer-lock');
  assert.equal(calm?.status, 'ok');
  assert.match(calm!.detail, new RegExp(`pid ${holder.pid}`));
  // A threshold of 1 ms: wait (on the condition, not a clock) until the idle time passes it.
  let check;
  for (let attempt = 0; attempt < 50; attempt++) {
    check = (await diagnose(db.url, { lockThresholdMs: 1 })).find((c) => c.name === 'writer-lock');
    if (check?.status === 'fail') break;
  }
  assert.equal(check?.status, 'fail');
  assert.match(check!.detail, new RegExp(`pid ${holder.pid} \\(role ${operator}, application "forgotten-psql", idle in transaction since`));
  await holder.end();
  assert.equal((await diagnose(db.url, { lockThresholdMs: 1 })).find((c) => c.name === 'writer-lock')?.status, 'ok');
});

test('an operator session can read who holds the lock (EXECUTE granted to ttp_rules_reader by sql/roles.sql)', async () => {
  const holder = track(await openIdleTransaction(db.url, ["UPDATE ttp_rule_state SET reason = 'oops' WHERE rule_id = 'none'"], 'owner-psql'));
  const store = track(await openRuleStore({ url: urlAs(operator), lockTimeoutMs: 200, revertExpired: false }));
  await assert.rejects(store.setState('LOCK1', 'disabled', 'op'), (e: unknown) => isLockTimeout(e) && e.blockers.some((b) => b.pid === holder.pid && b.applicationName === 'owner-psql'));
  await holder.end();
});

test('CLI: --lock-timeout (and TTP_RULES_LOCK_TIMEOUT) bound a write; doctor --lock-threshold exits 1 naming the holder', async () => {
  const holder = track(await openIdleTransaction(urlAs(operator), ["UPDATE ttp_rule_state SET reason = 'oops' WHERE rule_id = 'none'"]));
  const flag = await runCli(['state', 'LOCK1', 'disable', '--by', 'cli@test', '--db', db.url, '--lock-timeout', '300']);
  assert.equal(flag.code, 1, flag.stderr);
  assert.match(flag.stderr, new RegExp(`waited 300 ms \\(lockTimeoutMs\\) for the writers' lock.*pid ${holder.pid}.*\\[LOCK_TIMEOUT\\]`));
  const env = await runCli(['state', 'LOCK1', 'disable', '--by', 'cli@test', '--db', db.url], { env: cliEnv({ TTP_RULES_LOCK_TIMEOUT: '200' }) });
  assert.equal(env.code, 1, env.stderr);
  assert.match(env.stderr, /waited 200 ms \(lockTimeoutMs\).*\[LOCK_TIMEOUT\]/);
  const bad = await runCli(['state', 'LOCK1', 'disable', '--by', 'cli@test', '--db', db.url, '--lock-timeout', 'soon']);
  assert.equal(bad.code, 2, bad.stderr);
  let doctor;
  for (let attempt = 0; attempt < 20; attempt++) {
    doctor = await runCli(['doctor', '--db', db.url, '--lock-threshold', '1', '--json']);
    if (doctor.code === 1) break;
  }
  assert.equal(doctor!.code, 1, doctor!.stdout);
  const check = doctor!.json<{ name: string; status: string; detail: string }>().find((c) => c.name === 'writer-lock');
  assert.equal(check?.status, 'fail');
  assert.match(check!.detail, new RegExp(`pid ${holder.pid}`));
  await holder.end();
});
