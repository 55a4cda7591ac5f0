import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import postgres from 'postgres';
import type { RuleListing, RuleStore } from '../../src/index.js';
import type { Backend } from '../../src/store/backend.js';
import { openPostgresBackend } from '../../src/store/postgres/postgresBackend.js';
import { openSqliteBackend } from '../../src/store/sqlite/sqliteBackend.js';
import { BACKENDS, createBackendFixture, type BackendFixture, type BackendName } from '../helpers/backends.js';
import { PG_SERVER_URL } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

// listRuleMetadata (the directory sync, `show`, `state`) reads the rows without
// their YAML: readMetadataSnapshot is readSnapshot minus yaml_content, consistent
// at one position, and on Postgres it is shown to never touch the column (a role
// that may not read it can list metadata, not rules).

const logger = pino({ level: 'silent' });
const BAD_YAML = 'rule_id: M_BAD\nrule_version: [oops\n';
const metadataOf = ({ yamlContent: _yaml, error: _error, ...rest }: RuleListing) => rest;

function openBackend(name: BackendName, url: string): Promise<Backend> {
  if (name === 'sqlite') return openSqliteBackend({ path: url.slice('sqlite:'.length), pollIntervalMs: 1000, lockTimeoutMs: 5000, migrate: false, logger });
  return openPostgresBackend({ url, transport: name === 'postgres-poll' ? 'poll' : 'listen', pollIntervalMs: 1000, safetyCheckMs: 30_000, migrate: false, logger, lockTimeoutMs: 5000 });
}

for (const name of BACKENDS) {
  describe(`readMetadataSnapshot (${name})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;
    let backend: Backend;

    before(async () => {
      fx = await createBackendFixture(name, 'metadata_snapshot');
      store = await fx.open();
      await store.upsertRules(
        ['M1', 'M2', 'M3'].map((id, i) => ({ yaml: ruleYaml(id, { version: i + 1 }), sourcePath: `/rules/${id}.yaml` })),
        { updatedBy: 'author' },
      );
      await store.setState('M2', { state: 'clipped', confidenceMax: 0.3, reason: 'noisy' }, 'operator');
      await store.setState('M_ORPHAN', 'disabled', 'operator'); // a state without its rule
      await fx.raw().run(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('M_BAD', 1, 'bad.yaml', $1, 'hand')`, [BAD_YAML]);
      backend = await openBackend(name, fx.url);
    });
    after(async () => {
      await backend?.close();
      await fx.teardown();
    });

    test('the rows of readSnapshot without their YAML, at the same position, in the same order', async () => {
      const full = await backend.readSnapshot();
      const meta = await backend.readMetadataSnapshot();
      assert.equal(meta.position, full.position);
      assert.deepEqual(meta.states, full.states);
      assert.deepEqual(
        meta.rules,
        full.rules.map(({ yamlContent: _yaml, ...rest }) => rest),
      );
      assert.deepEqual(meta.rules.map((r) => r.ruleId), ['M1', 'M2', 'M3', 'M_BAD']);
      assert.ok(meta.rules.every((r) => !('yamlContent' in r)), 'no rule body is handed over');
    });

    test('listRuleMetadata lists what listRules lists, minus the YAML and the compile, bad rows included', async () => {
      assert.deepEqual(await store.listRuleMetadata(), (await store.listRules()).map(metadataOf));
    });

    test('in the past: the newest events without their YAML, and listRuleMetadata({ at }) as listRules({ at }) lists', async () => {
      const at = await backend.readHead();
      await store.upsertRule(ruleYaml('M1', { version: 9 }), { sourcePath: '/rules/M1.yaml', updatedBy: 'later' });
      await store.deleteRule('M3', { updatedBy: 'later' });
      const byPosition = (a: { position: bigint }, b: { position: bigint }) => (a.position < b.position ? -1 : 1);
      const full = (await backend.readLatestEvents(at)).sort(byPosition);
      const meta = (await backend.readLatestMetadataEvents(at)).sort(byPosition);
      assert.deepEqual(
        meta,
        full.map((e) => ({ ...e, rule: e.rule && (({ yamlContent: _yaml, ...rest }) => rest)(e.rule) })),
      );
      assert.ok(meta.some((e) => e.rule !== null) && meta.every((e) => e.rule === null || !('yamlContent' in e.rule)), 'rule rows, none with a body');
      const listed = await store.listRuleMetadata({ at });
      assert.deepEqual(listed, (await store.listRules({ at })).map(metadataOf));
      assert.deepEqual(listed.map((r) => [r.ruleId, r.ruleVersion]), [['M1', 1], ['M2', 2], ['M3', 3], ['M_BAD', 1]], 'as they were at that position');
    });
  });
}

if (BACKENDS.includes('postgres-listen')) {
  describe('readMetadataSnapshot on Postgres never reads yaml_content', () => {
    const role = `ttp_t_nobody_${randomBytes(3).toString('hex')}`;
    let fx: BackendFixture;
    let server: postgres.Sql;
    let backend: Backend;

    before(async () => {
      fx = await createBackendFixture('postgres-listen', 'metadata_columns');
      const store = await fx.open();
      await store.upsertRule(ruleYaml('C1'), { sourcePath: '/rules/C1.yaml', updatedBy: 'author' });
      await store.setState('C1', 'disabled', 'operator');
      server = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
      await server.unsafe(`CREATE ROLE "${role}" LOGIN`);
      const raw = fx.raw();
      // Every column a metadata listing needs, and not the rule bodies.
      await raw.run(`GRANT SELECT ON pgmigrations, ttp_rule_event, ttp_rule_state, ttp_rule_log_meta TO "${role}"`);
      await raw.run(`GRANT SELECT (rule_id, rule_version, source_path, updated_at, updated_by) ON ttp_rule TO "${role}"`);
      const url = new URL(fx.url);
      url.username = role;
      backend = await openPostgresBackend({ url: url.toString(), transport: 'poll', pollIntervalMs: 1000, safetyCheckMs: 30_000, migrate: false, logger, lockTimeoutMs: 5000 });
    });
    after(async () => {
      await backend?.close();
      await fx.teardown();
      await server.unsafe(`DROP ROLE IF EXISTS "${role}"`);
      await server.end();
    });

    test('a role that may not read yaml_content lists the metadata; the full snapshot is refused', async () => {
      const meta = await backend.readMetadataSnapshot();
      assert.deepEqual(
        meta.rules.map((r) => [r.ruleId, r.sourcePath, r.updatedBy]),
        [['C1', '/rules/C1.yaml', 'author']],
      );
      assert.deepEqual(meta.states.map((s) => [s.ruleId, s.state]), [['C1', 'disabled']]);
      await assert.rejects(backend.readSnapshot(), (e: unknown) => /permission denied/.test(String((e as Error).message) + String((e as { cause?: Error }).cause?.message)));
    });
  });
}
