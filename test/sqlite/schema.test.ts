import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { MigrationRequiredError, RuleStoreError, StoreUnavailableError, isValidRuleId, migrate, openRuleStore } from '../../src/index.js';
import { SQLITE_APPLICATION_ID, SQLITE_SQL_DIR, knownSqliteVersions } from '../../src/store/sqlite/migrate.js';
import { mapSqliteError } from '../../src/store/sqlite/sqliteErrors.js';
import { createTestSqliteFile } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

const file = createTestSqliteFile('sqlite-schema');
const folder = dirname(file.path);
let counter = 0;
/** A fresh file name in this test file's temp folder. */
const fresh = (): { path: string; url: string } => {
  const path = join(folder, `db-${++counter}.db`);
  return { path, url: `sqlite:${path}` };
};
const hasCode = (code: string) => (e: unknown) => RuleStoreError.is(e) && e.code === code;
/** Runs `fn` on a raw connection, as an operator with the sqlite3 shell would. */
const withRaw = <T>(path: string, fn: (db: Database.Database) => T): T => {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
};

describe('SQLite schema (sql/sqlite)', () => {
  after(() => file.drop());

  test('opening a fresh file applies the schema: version, application id, WAL, tables and triggers', async () => {
    const { path, url } = fresh();
    const store = await openRuleStore({ url });
    await store.close();
    const latest = knownSqliteVersions().length;
    assert.ok(latest >= 1);
    withRaw(path, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), latest);
      assert.equal(db.pragma('application_id', { simple: true }), SQLITE_APPLICATION_ID);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const objects = db.prepare(`SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE 'ttp%'`).all() as { type: string; name: string }[];
      const tables = objects.filter((o) => o.type === 'table').map((o) => o.name).sort();
      assert.deepEqual(tables, ['ttp_rule', 'ttp_rule_consumer', 'ttp_rule_event', 'ttp_rule_event_commit', 'ttp_rule_log_meta', 'ttp_rule_state', 'ttp_rule_store_actor', 'ttp_rule_txn_mark']);
      assert.ok(objects.filter((o) => o.type === 'trigger').length >= 8, 'insert/update/delete triggers on both tables');
    });
    assert.deepEqual(await migrate(url), [], 'an up-to-date file needs nothing');
  });

  test('a file whose schema is newer than this code is refused with SCHEMA_TOO_NEW, by open and by migrate', async () => {
    const { path, url } = fresh();
    assert.deepEqual(await migrate(url), knownSqliteVersions().map((v) => v.name));
    withRaw(path, (db) => db.pragma('user_version = 99'));
    for (const attempt of [() => openRuleStore({ url }), () => openRuleStore({ url, migrate: false }), () => migrate(url)]) {
      await assert.rejects(attempt(), (e: unknown) => hasCode('SCHEMA_TOO_NEW')(e) && /version 99/.test((e as Error).message) && /upgrade ttp-rule-store/.test((e as Error).message));
    }
    withRaw(path, (db) => assert.equal(db.pragma('user_version', { simple: true }), 99, 'never downgraded'));
  });

  test('a file one version ahead of this code (latest + 1) is refused with SCHEMA_TOO_NEW too', async () => {
    const { path, url } = fresh();
    await migrate(url);
    const ahead = knownSqliteVersions().length + 1;
    withRaw(path, (db) => db.pragma(`user_version = ${ahead}`));
    await assert.rejects(openRuleStore({ url }), (e: unknown) => hasCode('SCHEMA_TOO_NEW')(e) && new RegExp(`version ${ahead}`).test((e as Error).message));
    await assert.rejects(migrate(url), hasCode('SCHEMA_TOO_NEW'));
    withRaw(path, (db) => assert.equal(db.pragma('user_version', { simple: true }), ahead, 'never downgraded'));
  });

  /** A file at schema version 4, as ttp-rule-store wrote it before version 5, with `seed` run on it. */
  const versionFour = (seed: string): { path: string; url: string } => {
    const made = fresh();
    withRaw(made.path, (db) => {
      for (const v of ['0001', '0002', '0003', '0004']) db.exec(readFileSync(join(SQLITE_SQL_DIR, `${v}.sql`), 'utf8'));
      db.pragma(`application_id = ${SQLITE_APPLICATION_ID}`);
      db.pragma('user_version = 4');
      db.exec(seed);
    });
    return made;
  };

  test('a schema-4 file migrates to 5 in place: consumers kept, their name NOT NULL, hand updates no longer credited to the previous author', async () => {
    const { path, url } = versionFour(`
      INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ('M1', 1, 'x', 'erin');
      INSERT INTO ttp_rule_state (rule_id, state, set_by) VALUES ('M1', 'disabled', 'frank');
      INSERT INTO ttp_rule_consumer (name, position, updated_at) VALUES ('engine-1', 2, '2024-05-01T12:00:00.000Z'), ('engine-2', 0, '2024-05-02T12:00:00.000Z');`);
    assert.deepEqual(await migrate(url), ['0005']);
    withRaw(path, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), 5);
      assert.deepEqual(db.prepare('SELECT name, position, updated_at FROM ttp_rule_consumer ORDER BY name').all(), [
        { name: 'engine-1', position: 2, updated_at: '2024-05-01T12:00:00.000Z' },
        { name: 'engine-2', position: 0, updated_at: '2024-05-02T12:00:00.000Z' },
      ]);
      const name = (db.prepare(`SELECT "notnull" AS nn FROM pragma_table_info('ttp_rule_consumer') WHERE name = 'name'`).get() as { nn: number }).nn;
      assert.equal(name, 1, 'ttp_rule_consumer.name is NOT NULL');
      assert.throws(() => db.exec(`INSERT INTO ttp_rule_consumer (name) VALUES (NULL)`), /NOT NULL constraint failed: ttp_rule_consumer\.name/);
      assert.equal((db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'ttp_rule_consumer_v4'`).get() as { n: number }).n, 0);
      db.exec(`UPDATE ttp_rule_state SET state = 'enabled' WHERE rule_id = 'M1'`);
      db.exec(`UPDATE ttp_rule SET yaml_content = 'y' WHERE rule_id = 'M1'`);
      const events = db.prepare(`SELECT entity, actor FROM ttp_rule_event WHERE position > 2 ORDER BY position`).all();
      assert.deepEqual(events, [{ entity: 'state', actor: 'sqlite' }, { entity: 'rule', actor: 'sqlite' }]);
    });
    const store = await openRuleStore({ url, migrate: false });
    try {
      assert.deepEqual((await store.consumers()).map((c) => c.name), ['engine-1', 'engine-2']);
    } finally {
      await store.close();
    }
  });

  test('a schema-4 file with a consumer without a name is not migrated; the message says which column', async () => {
    const { path, url } = versionFour(`INSERT INTO ttp_rule_consumer (name, position) VALUES (NULL, 1), ('engine-1', 0);`);
    await assert.rejects(migrate(url), (e: unknown) => RuleStoreError.is(e) && /NOT NULL constraint failed: ttp_rule_consumer\.name/.test(e.message));
    withRaw(path, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), 4, 'nothing applied');
      assert.equal((db.prepare('SELECT count(*) AS n FROM ttp_rule_consumer').get() as { n: number }).n, 2, 'the rows are where they were');
      db.exec('DELETE FROM ttp_rule_consumer WHERE name IS NULL');
    });
    assert.deepEqual(await migrate(url), ['0005'], 'once the row is gone, the file migrates');
  });

  test('library writes keep the author they name, even the previous one (they are marked, not taken for hand edits)', async () => {
    const { path, url } = fresh();
    const store = await openRuleStore({ url });
    try {
      await store.upsertRule(ruleYaml('LW'), { updatedBy: 'alice' });
      await store.upsertRule(ruleYaml('LW', { version: 2 }), { updatedBy: 'alice' });
      await store.setState('LW', 'disabled', 'bob');
      await store.setState('LW', 'enabled', 'bob');
    } finally {
      await store.close();
    }
    withRaw(path, (db) => {
      assert.deepEqual(db.prepare(`SELECT entity, actor FROM ttp_rule_event ORDER BY position`).all(), [
        { entity: 'rule', actor: 'alice' },
        { entity: 'rule', actor: 'alice' },
        { entity: 'state', actor: 'bob' },
        { entity: 'state', actor: 'bob' },
      ]);
      assert.equal((db.prepare('SELECT count(*) AS n FROM ttp_rule_store_actor').get() as { n: number }).n, 0, 'the mark never outlives its transaction');
    });
  });

  test('with migrate: false, a missing or unmigrated file is refused with a MigrationRequiredError that says how to migrate', async () => {
    const { path, url } = fresh();
    const says = (e: unknown) => e instanceof MigrationRequiredError && e.code === 'MIGRATION_REQUIRED' && e.message.includes(`npx ttp-rules migrate --db sqlite:${path}`);
    await assert.rejects(openRuleStore({ url, migrate: false }), says);
    assert.equal(existsSync(path), false, 'refusing does not create the file');
    withRaw(path, () => {}); // an empty database file
    await assert.rejects(openRuleStore({ url, migrate: false }), says);
    await migrate(url);
    const store = await openRuleStore({ url, migrate: false });
    await store.close();
  });

  test('a missing folder fails clearly and is not created', async () => {
    const path = join(folder, 'no-such-folder', 'rules.db');
    for (const attempt of [() => openRuleStore({ url: `sqlite:${path}` }), () => migrate(`sqlite:${path}`)]) {
      await assert.rejects(attempt(), (e: unknown) => e instanceof StoreUnavailableError && /folder .*no-such-folder does not exist/.test(e.message));
    }
    assert.equal(existsSync(dirname(path)), false);
  });

  test("another application's SQLite file is refused, not migrated", async () => {
    const { path, url } = fresh();
    withRaw(path, (db) => {
      db.exec('CREATE TABLE notes (body TEXT)');
      db.pragma('application_id = 1234');
    });
    await assert.rejects(openRuleStore({ url }), (e: unknown) => hasCode('CONFIG_INVALID')(e) && /not a ttp-rule-store database/.test((e as Error).message));
    withRaw(path, (db) => {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'delete', 'not even switched to WAL');
      assert.equal(db.pragma('user_version', { simple: true }), 0);
    });
  });

  test('the schema folder resolves from src/ and, once built, from dist/', async () => {
    assert.ok(readdirSync(SQLITE_SQL_DIR).includes('0001.sql'));
    const built = new URL('../../dist/store/sqlite/migrate.js', import.meta.url);
    if (existsSync(built)) {
      const dist = (await import(built.href)) as { SQLITE_SQL_DIR: string };
      assert.equal(dist.SQLITE_SQL_DIR, SQLITE_SQL_DIR);
    }
  });

  test('the rule_id CHECK accepts exactly what RULE_ID_PATTERN accepts', async () => {
    const { path, url } = fresh();
    await migrate(url);
    const jsSpaces = [0x1680, 0x2000, 0x2005, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff];
    const codePoints = [...Array.from({ length: 0xa2 }, (_, i) => i), ...jsSpaces, 0x200b, 0xe9, 0x1f600];
    const ids = [...codePoints.map((cp) => `a${String.fromCodePoint(cp)}b`), '', 'x'.repeat(128), 'x'.repeat(129), 'é'.repeat(128), 'R_0001-x:y/z'];
    withRaw(path, (db) => {
      const insert = db.prepare(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES (?, 1, 'x')`);
      for (const id of ids) {
        let accepted = true;
        try {
          insert.run(id);
        } catch (error) {
          assert.match((error as Error).message, /ttp_rule_rule_id_format/);
          accepted = false;
        }
        assert.equal(accepted, isValidRuleId(id), `rule id ${JSON.stringify(id)}`);
      }
    });
  });

  test('the other CHECK constraints mirror Postgres', async () => {
    const { path, url } = fresh();
    await migrate(url);
    withRaw(path, (db) => {
      const refused = (sql: string, constraint: string) => assert.throws(() => db.exec(sql), new RegExp(`CHECK constraint failed: ${constraint}`), sql);
      refused(`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('A', 'paused')`, 'ttp_rule_state_state_valid');
      refused(`INSERT INTO ttp_rule_state (rule_id, state, confidence_max) VALUES ('A', 'clipped', 1.5)`, 'ttp_rule_state_confidence_max_range');
      refused(`INSERT INTO ttp_rule_state (rule_id, state, confidence_max) VALUES ('A', 'clipped', -0.1)`, 'ttp_rule_state_confidence_max_range');
      refused(`INSERT INTO ttp_rule_state (rule_id, state, expires_at) VALUES ('A', 'disabled', datetime('now'))`, 'ttp_rule_state_expires_at_format');
      refused(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ('A', 1, x'6869')`, 'ttp_rule_yaml_content_text');
      refused(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ('A', 1.5, 'x')`, 'ttp_rule_rule_version_integer');
      db.exec(`INSERT INTO ttp_rule_state (rule_id, state, confidence_max, expires_at) VALUES ('A', 'clipped', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 hour'))`);
      db.exec(`UPDATE ttp_rule_state SET confidence_max = 1 WHERE rule_id = 'A'`);
      assert.throws(() => db.exec(`UPDATE ttp_rule_event SET actor = 'forged'`), /ttp_rule_event is append-only/);
    });
  });

  test('database errors map to the library codes, keeping the original as cause', async () => {
    const { path, url } = fresh();
    const store = await openRuleStore({ url });
    try {
      await store.upsertRule(ruleYaml('M1'));
      // Outside what the schema can store (years 0000-9999): refused by the library before any SQL.
      await assert.rejects(store.setState('M1', { state: 'disabled', expiresAt: new Date('+010000-01-01T00:00:00Z') }, 'op'), (e: unknown) => {
        assert.ok(hasCode('STATE_INVALID')(e), String(e));
        assert.match((e as Error).message, /expiresAt: is after 9999-12-31T23:59:59.999Z/);
        assert.equal((e as Error).cause, undefined);
        return true;
      });
    } finally {
      await store.close();
    }
    // Another writer holds the lock and this one will not wait: SQLITE_BUSY means "unavailable".
    const holder = new Database(path);
    const impatient = new Database(path, { timeout: 0 });
    try {
      holder.exec('BEGIN IMMEDIATE');
      let busy: unknown = null;
      try {
        impatient.exec(`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('M1', 'disabled')`);
      } catch (error) {
        busy = error;
      }
      const mapped = mapSqliteError(busy, 'set a state');
      assert.ok(mapped instanceof StoreUnavailableError && mapped.code === 'STORE_UNAVAILABLE', String(mapped));
      assert.equal(mapped.cause, busy);
      holder.exec('ROLLBACK');
      let check: unknown = null;
      try {
        impatient.exec(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ('a.b', 1, 'x')`);
      } catch (error) {
        check = error;
      }
      assert.equal(mapSqliteError(check, 'write').code, 'RULE_INVALID');
      let stateCheck: unknown = null;
      try {
        impatient.exec(`INSERT INTO ttp_rule_state (rule_id, state, expires_at) VALUES ('M1', 'disabled', '+010000-01-01T00:00:00.000Z')`);
      } catch (error) {
        stateCheck = error;
      }
      const mappedCheck = mapSqliteError(stateCheck, 'set a state');
      assert.equal(mappedCheck.code, 'STATE_INVALID');
      assert.match(mappedCheck.message, /ttp_rule_state_expires_at_format/);
      assert.equal((mappedCheck.cause as { code?: string }).code, 'SQLITE_CONSTRAINT_CHECK');
      assert.equal(mapSqliteError(new Error('disk on fire'), 'write').code, 'WRITE_FAILED');
      // A write that cannot be stored says why; a read that fails is never WRITE_FAILED.
      const driver = (code: string): Error => Object.assign(new Error('driver message'), { code });
      for (const [code, reason] of [['SQLITE_FULL', /the disk is full/], ['SQLITE_IOERR_WRITE', /I\/O error/], ['SQLITE_READONLY', /read only/], ['SQLITE_READONLY_DBMOVED', /read only/]] as const) {
        const mapped = mapSqliteError(driver(code), 'set the state of M1');
        assert.equal(mapped.code, 'WRITE_FAILED', code);
        assert.match(mapped.message, reason);
        assert.match(mapped.message, /^set the state of M1: .*rolled back/);
      }
      assert.equal(mapSqliteError(driver('SQLITE_IOERR_READ'), 'read a rule state', 'read').code, 'STORE_UNAVAILABLE');
      assert.equal(mapSqliteError(new Error('disk on fire'), 'read a rule state', 'read').code, 'STORE_UNAVAILABLE');
    } finally {
      holder.close();
      impatient.close();
    }
  });
});
