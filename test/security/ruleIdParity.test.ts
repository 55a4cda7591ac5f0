import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { runner } from 'node-pg-migrate';
import postgres from 'postgres';
import { MIGRATIONS_DIR } from '../../src/store/postgres/migrate.js';
import { RULE_ID_PATTERN } from '../../src/domain/ruleSchema.js';
import { isValidRuleId, migrate, openRuleStore, RuleStoreError } from '../../src/index.js';
import { createTestDatabase, createTestSqliteFile, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

// One definition of a rule id: the library (RULE_ID_PATTERN), the Postgres CHECK
// (ttp_rule_id_valid, migration 0005) and the SQLite triggers (schema version 3)
// refuse exactly the same code points, checked over EVERY code point, and that set
// is '.', '*', '>' and JavaScript's \p{White_Space}, \p{Cc} and \p{Cf}.

const MAX = 0x10ffff;
const isSurrogate = (cp: number): boolean => cp >= 0xd800 && cp <= 0xdfff;
const expected: number[] = [];
const library: number[] = [];
for (let cp = 1; cp <= MAX; cp++) {
  if (isSurrogate(cp)) continue;
  const ch = String.fromCodePoint(cp);
  if (/[.*>\p{White_Space}\p{Cc}\p{Cf}]/u.test(ch)) expected.push(cp);
  if (!isValidRuleId(`A${ch}B`)) library.push(cp);
}

let db: TestDatabase;
let sqlite: ReturnType<typeof createTestSqliteFile>;
before(async () => {
  db = await createTestDatabase('ruleidparity');
  sqlite = createTestSqliteFile('ruleidparity');
  await migrate(sqlite.url);
});
after(async () => {
  await db?.drop();
  await sqlite?.drop();
});

test('the library refuses exactly . * > White_Space Cc Cf', () => {
  assert.deepEqual(library, expected);
  for (const cp of [0xa0, 0x2007, 0x202f, 0xfeff, 0x2028, 0x2029, 0x202e, 0x200b, 0x200c, 0x200d, 0x2060, 0x85]) {
    assert.ok(expected.includes(cp), `U+${cp.toString(16)} is refused`);
  }
  assert.ok(RULE_ID_PATTERN.test('R1-é_ü:0'));
});

test('Postgres refuses the same code points as the library, every one of them', async () => {
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`
      SELECT cp FROM generate_series(1, ${MAX}) cp
       WHERE cp NOT BETWEEN 55296 AND 57343 AND NOT ttp_rule_id_valid('A' || chr(cp) || 'B') ORDER BY cp`;
    assert.deepEqual(rows.map((r) => Number(r['cp'])), expected);
    // And the CHECK is what uses it.
    await assert.rejects(sql`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES (${'R1\u202e'}, 1, 'x')`, /ttp_rule_rule_id_format/);
    await assert.rejects(sql`INSERT INTO ttp_rule_state (rule_id, state) VALUES (${'R1\u00a0'}, 'disabled')`, /ttp_rule_state_rule_id_format/);
  } finally {
    await sql.end();
  }
});

test('SQLite refuses the same code points as the library, every one of them', async () => {
  const file = new Database(sqlite.path);
  try {
    const rows = file
      .prepare(
        `WITH RECURSIVE c(cp) AS (SELECT 1 UNION ALL SELECT cp + 1 FROM c WHERE cp < ${MAX})
         SELECT cp FROM c WHERE cp NOT BETWEEN 55296 AND 57343
            AND ('A' || char(cp) || 'B') GLOB (SELECT glob FROM ttp_rule_id_forbidden) ORDER BY cp`,
      )
      .all() as { cp: number }[];
    assert.deepEqual(rows.map((r) => r.cp), expected);
    assert.throws(() => file.prepare(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES (?, 1, 'x')`).run('R1\u200d'), /ttp_rule_rule_id_format/);
    assert.throws(() => file.prepare(`INSERT INTO ttp_rule_state (rule_id, state) VALUES (?, 'disabled')`).run('R1\u2007'), /ttp_rule_state_rule_id_format/);
    assert.throws(() => file.prepare(`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('R1', 'clipped')`).run(), /clipped_needs_ceiling/);
  } finally {
    file.close();
  }
});

test('a migration that meets rows it would refuse names them and stops (Postgres 0005, SQLite version 3)', async () => {
  // Postgres: a database at 0003 with a look-alike id and a clipped state without ceiling.
  const old = await createTestDatabase('ruleidold', { migrated: false });
  try {
    // The released migrations only, as a database of the previous version has them.
    await runner({ databaseUrl: old.url, dir: MIGRATIONS_DIR, direction: 'up', count: 3, schema: 'public', migrationsTable: 'pgmigrations', log: () => {} } as Parameters<typeof runner>[0]);
    const sql = postgres(old.url, { max: 1, onnotice: () => {} });
    try {
      await sql`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES (${'R1\u200d'}, 1, 'x')`;
      await sql`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('R2', 'clipped')`;
    } finally {
      await sql.end();
    }
    await assert.rejects(migrate(old.url), (e: unknown) => RuleStoreError.is(e) && /ttp_rule "R1.*" \(U\+200D\)/.test(e.message) && /clipped without a confidence_max: "R2"/.test(e.message));
  } finally {
    await old.drop();
  }
  // SQLite: a file at version 2 with the same rows.
  const file = createTestSqliteFile('ruleidold');
  try {
    const raw = new Database(file.path);
    const { readFileSync } = await import('node:fs');
    for (const v of ['0001', '0002']) raw.exec(readFileSync(new URL(`../../sql/sqlite/${v}.sql`, import.meta.url), 'utf8'));
    raw.pragma('application_id = 1414811730');
    raw.pragma('user_version = 2');
    raw.prepare(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES (?, 1, 'x')`).run('R1\u200d');
    raw.prepare(`INSERT INTO ttp_rule_state (rule_id, state) VALUES ('R2', 'clipped')`).run();
    raw.close();
    await assert.rejects(migrate(file.url), (e: unknown) => RuleStoreError.is(e) && /\(U\+200D\)/.test(e.message) && /"R2"/.test(e.message) && /clipped/.test(e.message));
    const after = new Database(file.path);
    assert.equal(after.pragma('user_version', { simple: true }), 2, 'nothing applied');
    after.close();
  } finally {
    await file.drop();
  }
  // A store refuses such an id before it reaches the database, with the same rule.
  const store = await openRuleStore({ url: sqlite.url });
  try {
    await assert.rejects(store.upsertRule(ruleYaml('R1\u2060')), (e: unknown) => RuleStoreError.is(e) && e.code === 'RULE_INVALID');
  } finally {
    await store.close();
  }
});
