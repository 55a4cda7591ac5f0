import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { RuleStoreError, openRuleStore, type RuleStore } from '../../src/index.js';
import { PG_SERVER_URL, createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

const ROLES_SQL = new URL('../../sql/roles.sql', import.meta.url).pathname;
const suffix = randomBytes(3).toString('hex');
const login = { reader: `ttp_t_reader_${suffix}`, operator: `ttp_t_operator_${suffix}`, author: `ttp_t_author_${suffix}` };

let db: TestDatabase;
let server: postgres.Sql;
const opened: { close(): Promise<unknown> }[] = [];

const urlAs = (user: string): string => {
  const url = new URL(db.url);
  url.username = user;
  return url.toString();
};
const storeAs = async (user: string): Promise<RuleStore> => {
  const store = await openRuleStore({ url: urlAs(user) });
  opened.push(store);
  return store;
};
const sqlAs = (user: string): postgres.Sql => {
  const sql = postgres(urlAs(user), { max: 1, onnotice: () => {} });
  opened.push({ close: () => sql.end() });
  return sql;
};
const denied = (e: unknown): boolean => /permission denied/.test(String((e as Error).message) + String((e as { cause?: Error }).cause?.message));

before(async () => {
  db = await createTestDatabase('roles');
  execFileSync('psql', [db.url, '-q', '-v', 'ON_ERROR_STOP=1', '-f', ROLES_SQL], { stdio: 'pipe' });
  execFileSync('psql', [db.url, '-q', '-v', 'ON_ERROR_STOP=1', '-f', ROLES_SQL], { stdio: 'pipe' }); // idempotent
  server = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  for (const [group, user] of Object.entries(login)) await server.unsafe(`CREATE ROLE "${user}" LOGIN IN ROLE "ttp_rules_${group}"`);
  const owner = await openRuleStore({ url: db.url });
  await owner.upsertRules([{ yaml: ruleYaml('ROLE1') }, { yaml: ruleYaml('ROLE2') }]);
  await owner.close();
});
after(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => {});
  await db.drop();
  for (const user of Object.values(login)) await server.unsafe(`DROP ROLE IF EXISTS "${user}"`);
  await server.end();
});

test('reader (engines): reads and follows the log, reverts what has expired, writes nothing', async () => {
  const store = await storeAs(login.reader);
  assert.equal((await store.snapshot()).rules.length, 2);
  await assert.rejects(store.setState('ROLE1', 'disabled', 'reader'), (e: unknown) => RuleStoreError.is(e) && e.code === 'WRITE_FAILED' && denied(e));
  await assert.rejects(store.upsertRule(ruleYaml('ROLE3')), (e: unknown) => RuleStoreError.is(e) && denied(e));
  const raw = sqlAs(login.reader);
  await assert.rejects(raw`INSERT INTO ttp_rule_event (position, rule_id, entity, op) VALUES (999, 'x', 'rule', 'delete')`, denied);
  await assert.rejects(raw`DELETE FROM ttp_rule_event`, denied);
  // An operator's state whose expiry has passed: the reader's read reverts it (and only that).
  const operator = sqlAs(login.operator);
  await operator`INSERT INTO ttp_rule_state (rule_id, state, set_by, expires_at) VALUES ('ROLE2', 'disabled', 'op', now() - interval '1 minute')`;
  assert.equal((await store.getState('ROLE2')).state, 'enabled');
  const rows = await raw`SELECT count(*)::int AS n FROM ttp_rule_state WHERE rule_id = 'ROLE2'`;
  assert.equal(rows[0]?.['n'], 0, 'the expired row was reverted by the reader');
});

test('operator: changes operational state only', async () => {
  const store = await storeAs(login.operator);
  const state = await store.setState('ROLE1', { state: 'clipped', confidenceMax: 0.2 }, 'operator');
  assert.equal(state.state, 'clipped');
  assert.equal(await store.clearState('ROLE1', 'operator'), true);
  await assert.rejects(store.upsertRule(ruleYaml('ROLE3')), (e: unknown) => RuleStoreError.is(e) && denied(e));
  await assert.rejects(store.deleteRule('ROLE1'), (e: unknown) => RuleStoreError.is(e) && denied(e));
  const raw = sqlAs(login.operator);
  await assert.rejects(raw`UPDATE ttp_rule_event SET actor = 'forged'`, denied);
});

test('author: changes rules and state; the event log stays append-only for everyone but the owner', async () => {
  const store = await storeAs(login.author);
  assert.equal((await store.upsertRule(ruleYaml('ROLE3'), { updatedBy: 'author' })).changed, true);
  assert.equal(await store.deleteRule('ROLE3', { updatedBy: 'author' }), true);
  await store.setState('ROLE1', 'disabled', 'author');
  const raw = sqlAs(login.author);
  await assert.rejects(raw`UPDATE ttp_rule_event SET actor = 'forged'`, denied);
  await assert.rejects(raw`DELETE FROM ttp_rule_event`, denied);
  await assert.rejects(raw`TRUNCATE ttp_rule_event`, denied);
  const history = await store.history({ ruleId: 'ROLE3' });
  assert.deepEqual(history.map((h) => [h.kind, h.actor]), [['deleted', 'author'], ['definition', 'author']]);
});

test('no role but the owner can terminate a backend, touch a trigger or a constraint, prune, or revert what has not expired', async () => {
  const operator = sqlAs(login.operator);
  const [{ pid } = { pid: 0 }] = await operator<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  for (const user of [login.reader, login.author]) {
    const raw = sqlAs(user);
    // pg_terminate_backend / pg_cancel_backend need membership in the target's role (or pg_signal_backend).
    await assert.rejects(raw`SELECT pg_terminate_backend(${pid})`, /permission denied|must be a member/);
    await assert.rejects(raw`SELECT pg_cancel_backend(${pid})`, /permission denied|must be a member/);
  }
  const author = sqlAs(login.author);
  await assert.rejects(author`ALTER TABLE ttp_rule DISABLE TRIGGER ttp_rule_20_log`, /must be owner/);
  await assert.rejects(author`ALTER TABLE ttp_rule_state DISABLE TRIGGER ALL`, /must be owner/);
  await assert.rejects(author`ALTER TABLE ttp_rule DROP CONSTRAINT ttp_rule_rule_id_format`, /must be owner/);
  await assert.rejects(author`DROP TRIGGER ttp_rule_20_log ON ttp_rule`, /must be owner/);
  await assert.rejects(author`CREATE OR REPLACE FUNCTION ttp_rule_log_rule() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`, /must be owner|permission denied/);
  // Skipping triggers for a session needs a superuser.
  await assert.rejects(author`SET session_replication_role = replica`, /permission denied/);
  await assert.rejects(author`SELECT ttp_rule_prune_log(1000)`, denied);
  // The revert function deletes only states whose expiry has passed, whoever calls it.
  await operator`INSERT INTO ttp_rule_state (rule_id, state, set_by, expires_at) VALUES ('ROLE1', 'disabled', 'op', now() + interval '1 hour')
                 ON CONFLICT (rule_id) DO UPDATE SET state = 'disabled', expires_at = now() + interval '1 hour'`;
  const reader = sqlAs(login.reader);
  assert.equal((await reader`SELECT ttp_rule_revert_expired('ROLE1') AS id`).length, 0);
  assert.equal((await reader`SELECT ttp_rule_revert_expired() AS id`).length, 0);
  const [row] = await reader`SELECT state FROM ttp_rule_state WHERE rule_id = 'ROLE1'`;
  assert.equal(row?.['state'], 'disabled');
  await operator`DELETE FROM ttp_rule_state WHERE rule_id = 'ROLE1'`;
});

test('the documented connection limit holds for a login', async () => {
  const limited = `ttp_t_limited_${suffix}`;
  await server.unsafe(`CREATE ROLE "${limited}" LOGIN CONNECTION LIMIT 1 IN ROLE ttp_rules_reader`);
  try {
    const first = postgres(urlAs(limited), { max: 1, onnotice: () => {} });
    const second = postgres(urlAs(limited), { max: 1, onnotice: () => {} });
    try {
      await first`SELECT 1`;
      await assert.rejects(second`SELECT 1`, /too many connections for role/);
    } finally {
      await first.end();
      await second.end();
    }
  } finally {
    await server.unsafe(`DROP ROLE IF EXISTS "${limited}"`);
  }
});
