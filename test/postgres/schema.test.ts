import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { MigrationRequiredError, RuleStoreError, diagnose, migrate, openRuleStore } from '../../src/index.js';
import { knownMigrations } from '../../src/store/postgres/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function schemaOf(url: string): string {
  const dump = execFileSync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', url], { encoding: 'utf8' });
  // Only comments and the dump's own version banner may differ.
  return dump
    .split('\n')
    .filter((line) => !line.startsWith('--') && !line.startsWith('\\restrict') && !line.startsWith('\\unrestrict'))
    .join('\n')
    .trim();
}

let viaLibrary: TestDatabase;
let viaStockCli: TestDatabase;
let empty: TestDatabase;

before(async () => {
  viaLibrary = await createTestDatabase('schema_lib', { migrated: false });
  viaStockCli = await createTestDatabase('schema_cli', { migrated: false });
  empty = await createTestDatabase('schema_empty', { migrated: false });
});
after(async () => {
  await Promise.all([viaLibrary.drop(), viaStockCli.drop(), empty.drop()]);
});

test('stock `node-pg-migrate up` with DATABASE_URL produces the same schema as migrate()', async () => {
  assert.deepEqual(await migrate(viaLibrary.url), knownMigrations());
  assert.deepEqual(await migrate(viaLibrary.url), [], 'migrating twice is a no-op');
  execFileSync(process.execPath, ['node_modules/node-pg-migrate/bin/node-pg-migrate.js', 'up', '-m', 'migrations'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: viaStockCli.url },
    stdio: 'pipe',
  });
  const a = schemaOf(viaLibrary.url);
  assert.match(a, /CREATE TABLE public\.ttp_rule_event/);
  assert.equal(a, schemaOf(viaStockCli.url));
});

test('opening a store on a database without the schema says how to migrate', async () => {
  await assert.rejects(openRuleStore({ url: empty.url }), (e: unknown) => {
    assert.ok(e instanceof MigrationRequiredError);
    assert.equal(e.code, 'MIGRATION_REQUIRED');
    assert.match(e.message, /npx ttp-rules migrate/);
    return true;
  });
  const store = await openRuleStore({ url: empty.url, migrate: true });
  assert.equal((await store.snapshot()).position, '0');
  await store.close();
});

test('a database migrated by a newer ttp-rule-store is refused with SCHEMA_TOO_NEW, by open and by migrate', async () => {
  const newer = await createTestDatabase('schema_newer');
  try {
    const sql = postgres(newer.url, { max: 1, onnotice: () => {} });
    await sql`INSERT INTO pgmigrations (name, run_on) VALUES ('9999_from_the_future', now()), ('1700000000000_another_apps_table', now())`;
    await sql.end();
    const refused = (e: unknown): boolean => {
      assert.ok(RuleStoreError.is(e));
      assert.equal(e.code, 'SCHEMA_TOO_NEW');
      assert.match(e.message, /9999_from_the_future/);
      assert.match(e.message, /upgrade ttp-rule-store/);
      assert.doesNotMatch(e.message, /another_apps/, "another application's migrations are not ours");
      return true;
    };
    await assert.rejects(openRuleStore({ url: newer.url }), refused);
    await assert.rejects(openRuleStore({ url: newer.url, migrate: true }), refused);
    await assert.rejects(migrate(newer.url), refused);
    const schema = (await diagnose(newer.url)).find((c) => c.name === 'schema');
    assert.equal(schema?.status, 'fail', 'doctor fails the schema check too');
    assert.match(schema.detail, /9999_from_the_future.*upgrade ttp-rule-store/);
  } finally {
    await newer.drop();
  }
});
