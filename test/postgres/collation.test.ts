import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { migrate, openRuleStore, type RuleStore } from '../../src/index.js';
import { createTestDatabase, createTestSqliteFile, PG_SERVER_URL, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

// Ids whose order differs between an ICU (en-US) collation, the C collation and
// JavaScript's UTF-16 sort: case, punctuation, accents, digits, a BMP private-use
// character (U+E000) and an astral one (U+1F600, a surrogate pair in UTF-16).
const IDS = ['b', 'B', 'a', '_x', 'Z9', 'z10', 'é', 'e', '-dash', 'R0010', 'R002', '\u{E000}x', '\u{1F600}x'];

/** Code-point order: what `ORDER BY … COLLATE "C"` and SQLite's BINARY give on UTF-8. */
function codePointOrder(ids: readonly string[]): string[] {
  return [...ids].sort((a, b) => {
    const x = [...a].map((c) => c.codePointAt(0)!);
    const y = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  });
}

describe('listings are in code-point order of rule_id on every backend and collation', () => {
  let db: TestDatabase;
  let icuUrl: string;
  const sqlite = createTestSqliteFile('collation');
  const stores: RuleStore[] = [];

  before(async () => {
    db = await createTestDatabase('collation_icu', { migrated: false });
    // A database whose default collation is ICU en-US (needs template0 to change the locale).
    const admin = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`DROP DATABASE "${db.name}"`);
      await admin.unsafe(`CREATE DATABASE "${db.name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    } finally {
      await admin.end();
    }
    icuUrl = db.url;
    await migrate(icuUrl);
  });

  after(async () => {
    for (const s of stores) await s.close();
    await db.drop();
    await sqlite.drop();
  });

  it('the ICU database really sorts differently from code points (the premise)', async () => {
    const sql = postgres(icuUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT id FROM unnest(${IDS}::text[]) AS id ORDER BY id`;
      assert.notDeepEqual(rows.map((r) => r['id']), codePointOrder(IDS));
    } finally {
      await sql.end();
    }
    assert.notDeepEqual([...IDS].sort(), codePointOrder(IDS), 'UTF-16 order differs from code-point order for astral ids');
  });

  for (const [name, url] of [
    ['postgres (ICU en-US)', () => icuUrl],
    ['sqlite', () => sqlite.url],
  ] as const) {
    it(`${name}: snapshot(), listRules() and loadCompiled() list ids in code-point order`, async () => {
      const store = await openRuleStore({ url: url() });
      stores.push(store);
      for (const id of IDS) await store.upsertRule(ruleYaml(id));
      const expected = codePointOrder(IDS);
      assert.deepEqual((await store.snapshot()).rules.map((r) => r.ruleId), expected);
      assert.deepEqual((await store.listRules()).map((r) => r.ruleId), expected);
      assert.deepEqual((await store.loadCompiled()).map((r) => r.ruleId), expected);
    });
  }
});
