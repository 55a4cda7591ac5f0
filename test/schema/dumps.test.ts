import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pgDumpMajor, regenerateSchemaDumps, SCHEMA_DUMP_FILES } from '../helpers/schemaDump.js';

// The committed dumps are the reviewed schema: a migration that changes it must
// come with the regenerated dump, so the diff shows what the migration did.
const HOW = 'the schema no longer matches the committed dump: run `npm run schema:dump` and commit sql/schema/';

test('sql/schema/postgres.sql and sql/schema/sqlite.sql match freshly migrated databases', async (t) => {
  const fresh = await regenerateSchemaDumps();
  const committed = { postgres: readFileSync(SCHEMA_DUMP_FILES.postgres, 'utf8'), sqlite: readFileSync(SCHEMA_DUMP_FILES.sqlite, 'utf8') };
  assert.equal(fresh.sqlite, committed.sqlite, `SQLite: ${HOW}`);
  const versions = /^-- PostgreSQL \d+, pg_dump \d+$/m;
  const committedVersions = versions.exec(committed.postgres)?.[0];
  if (committedVersions !== versions.exec(fresh.postgres)?.[0]) {
    // pg_dump spells some things differently across major versions: the diff
    // would be noise. The dump is checked where the versions match (CI).
    t.skip(`the committed Postgres dump was made with "${committedVersions}", this machine has pg_dump ${pgDumpMajor()}`);
    return;
  }
  assert.equal(fresh.postgres, committed.postgres, `Postgres: ${HOW}`);
});
