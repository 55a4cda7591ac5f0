import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type postgres from 'postgres';
import { openRuleStore, type RuleChange, type RuleStore } from '../../src/index.js';
import { collect, type Collector } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';
import { createSecurityFixture, type SecurityFixture } from './securityFixture.js';

// The temp-table trick (issue 12): a session creates its own ttp_rule_event (and a
// sequence and actor function beside it) in pg_temp, hoping that the SECURITY
// DEFINER log triggers append there instead of to the real log. For every write
// path, as the least role that may take it, the event must land in the real log
// with the right login, the shadow table must stay empty, and a live subscriber
// must hear of the change.

let fx: SecurityFixture;
let watcher: RuleStore;
let changes: Collector<RuleChange>;

before(async () => {
  fx = await createSecurityFixture('shadowing');
  const owner = await openRuleStore({ url: fx.db.url });
  await owner.upsertRules(['SH1', 'SH2', 'SH3', 'SH4', 'SH5'].map((id) => ({ yaml: ruleYaml(id) })), { updatedBy: 'seed' });
  await owner.close();
  watcher = await openRuleStore({ url: fx.db.url, revertExpired: false }); // the reader's call must do the revert
  changes = collect(watcher.changes$);
});
after(async () => {
  changes?.stop();
  await watcher?.close();
  await fx?.close();
});

/** A session of `user` with every name the log triggers use shadowed in pg_temp. */
async function shadowedSession(user: string): Promise<postgres.Sql> {
  const sql = fx.sqlAs(user);
  await sql.unsafe(`
    CREATE TEMP TABLE ttp_rule_event (LIKE public.ttp_rule_event INCLUDING DEFAULTS);
    CREATE TEMP SEQUENCE ttp_rule_event_position_seq;
    CREATE TEMP TABLE ttp_rule_state (LIKE public.ttp_rule_state);
    CREATE FUNCTION pg_temp.ttp_rule_store_actor() RETURNS text LANGUAGE sql AS $$ SELECT 'forged' $$;
    CREATE FUNCTION pg_temp.ttp_rule_store_library_actor() RETURNS text LANGUAGE sql AS $$ SELECT 'forged' $$;
  `);
  return sql;
}

async function realEvents(ruleId: string, since: bigint): Promise<{ op: string; entity: string; login_role: string | null; actor: string | null }[]> {
  return (await fx.owner`SELECT op, entity, login_role, actor FROM ttp_rule_event WHERE rule_id = ${ruleId} AND position > ${since.toString()}::bigint ORDER BY position`) as never;
}

async function head(): Promise<bigint> {
  const [row] = await fx.owner`SELECT coalesce(max(position), 0)::text AS p FROM ttp_rule_event`;
  return BigInt(String(row!['p']));
}

async function assertLogged(sql: postgres.Sql, ruleId: string, since: bigint, expect: { entity: string; op: string; login: string }, heard: (c: RuleChange) => boolean): Promise<void> {
  const events = await realEvents(ruleId, since);
  assert.ok(
    events.some((e) => e.entity === expect.entity && e.op === expect.op && e.login_role === expect.login),
    `the ${expect.entity} ${expect.op} of ${ruleId} is in the real log under ${expect.login}: ${JSON.stringify(events)}`,
  );
  assert.ok(events.every((e) => e.actor !== 'forged'), 'the shadow actor function was not used');
  const [shadow] = await sql`SELECT count(*)::int AS n FROM pg_temp.ttp_rule_event`;
  assert.equal(shadow!['n'], 0, 'nothing went to the shadow table');
  await changes.waitFor((items) => items.some((c) => c.ruleId === ruleId && Number(c.position) > Number(since) && heard(c)), 10_000, `a live subscriber hears the change of ${ruleId}`);
}

test('operator: state insert, update and delete reach the real log and subscribers', async () => {
  const sql = await shadowedSession(fx.login.operator);
  let since = await head();
  await sql`INSERT INTO public.ttp_rule_state (rule_id, state, set_by) VALUES ('SH1', 'disabled', 'op')`;
  await assertLogged(sql, 'SH1', since, { entity: 'state', op: 'upsert', login: fx.login.operator }, (c) => c.kind === 'state' && c.state.state === 'disabled');
  since = await head();
  await sql`UPDATE public.ttp_rule_state SET state = 'clipped', confidence_max = 0.01 WHERE rule_id = 'SH1'`;
  await assertLogged(sql, 'SH1', since, { entity: 'state', op: 'upsert', login: fx.login.operator }, (c) => c.kind === 'state' && c.state.state === 'clipped');
  since = await head();
  await sql`DELETE FROM public.ttp_rule_state WHERE rule_id = 'SH1'`;
  await assertLogged(sql, 'SH1', since, { entity: 'state', op: 'delete', login: fx.login.operator }, (c) => c.kind === 'state' && c.state.state === 'enabled');
  // Unqualified names resolve to the session's shadows in its own statements (that is
  // only the session fooling itself); the real tables' triggers still log to the real log.
});

test('author: rule insert, update and delete reach the real log and subscribers', async () => {
  const sql = await shadowedSession(fx.login.author);
  let since = await head();
  await sql`INSERT INTO public.ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ('SH9', 1, ${ruleYaml('SH9')}, 'author')`;
  await assertLogged(sql, 'SH9', since, { entity: 'rule', op: 'upsert', login: fx.login.author }, (c) => c.kind === 'definition');
  since = await head();
  await sql`UPDATE public.ttp_rule SET yaml_content = ${ruleYaml('SH2', { confidence: 0.01 })} WHERE rule_id = 'SH2'`;
  await assertLogged(sql, 'SH2', since, { entity: 'rule', op: 'upsert', login: fx.login.author }, (c) => c.kind === 'definition' && c.rule.emits[0]?.confidence === 0.01);
  since = await head();
  await sql`DELETE FROM public.ttp_rule WHERE rule_id = 'SH3'`;
  await assertLogged(sql, 'SH3', since, { entity: 'rule', op: 'delete', login: fx.login.author }, (c) => c.kind === 'deleted');
});

test('a role granted TRUNCATE: truncating either table reaches the real log and subscribers', async () => {
  const sql = await shadowedSession(fx.login.truncater);
  await fx.owner`INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES ('SH4', 'disabled', 'op')`;
  await changes.waitFor((items) => items.some((c) => c.ruleId === 'SH4' && c.kind === 'state'), 10_000, 'the seed state');
  let since = await head();
  await sql`TRUNCATE public.ttp_rule_state`;
  await assertLogged(sql, 'SH4', since, { entity: 'state', op: 'delete', login: fx.login.truncater }, (c) => c.kind === 'state' && c.state.state === 'enabled');
  since = await head();
  await sql`TRUNCATE public.ttp_rule`;
  await assertLogged(sql, 'SH5', since, { entity: 'rule', op: 'delete', login: fx.login.truncater }, (c) => c.kind === 'deleted');
});

test('reader: reverting an expired state reaches the real log and subscribers', async () => {
  const owner = await openRuleStore({ url: fx.db.url });
  await owner.upsertRule(ruleYaml('SH6'), { updatedBy: 'seed' });
  await owner.close();
  await fx.owner`INSERT INTO ttp_rule_state (rule_id, state, set_by, expires_at) VALUES ('SH6', 'disabled', 'op', now() - interval '1 minute')`;
  const sql = await shadowedSession(fx.login.reader);
  const since = await head();
  const reverted = await sql`SELECT public.ttp_rule_revert_expired('SH6') AS id`;
  assert.deepEqual(reverted.map((r) => r['id']), ['SH6']);
  await assertLogged(sql, 'SH6', since, { entity: 'state', op: 'delete', login: fx.login.reader }, (c) => c.kind === 'state' && c.expired);
});
