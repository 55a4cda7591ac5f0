import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { openRuleStore, type RuleChange, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

let db: TestDatabase;
let store: RuleStore;
let sql: postgres.Sql;

before(async () => {
  db = await createTestDatabase('doccache');
  store = await openRuleStore({ url: db.url });
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
});
after(async () => {
  await store.close();
  await sql.end();
  await db.drop();
});

const definition = (c: RuleChange): c is Extract<RuleChange, { kind: 'definition' }> => c.kind === 'definition';

test('the library caches the validated document beside the YAML, keyed by its SHA-256', async () => {
  const yaml = ruleYaml('DC1', { confidence: 0.7 });
  await store.upsertRule(yaml);
  const [row] = await sql`SELECT doc FROM ttp_rule WHERE rule_id = 'DC1'`;
  const doc = row!['doc'] as { sha256: string; rule: { rule_id: string; emits: { confidence: number }[] } };
  assert.equal(doc.sha256, createHash('sha256').update(yaml).digest('hex'));
  assert.equal(doc.rule.rule_id, 'DC1');
  assert.equal(doc.rule.emits[0]?.confidence, 0.7);
});

test('a psql edit of the YAML leaves a stale cache, and readers follow the YAML', async () => {
  const changes = collect(store.changes$);
  await sql`UPDATE ttp_rule SET yaml_content = replace(yaml_content, 'confidence: 0.7', 'confidence: 0.2') WHERE rule_id = 'DC1'`;
  await changes.waitFor((items) => items.some(definition), 10_000, 'the hand edit');
  assert.equal(changes.items.filter(definition)[0]!.rule.emits[0]?.confidence, 0.2);
  assert.equal((await store.snapshot()).rules.find((r) => r.ruleId === 'DC1')?.emits[0]?.confidence, 0.2);
  changes.stop();
});

test('a forged cache that does not validate is ignored', async () => {
  const [row] = await sql`SELECT yaml_content FROM ttp_rule WHERE rule_id = 'DC1'`;
  const sha256 = createHash('sha256').update(String(row!['yaml_content'])).digest('hex');
  const changes = collect(store.changes$);
  await sql`UPDATE ttp_rule SET doc = ${sql.json({ sha256, rule: { rule_id: 'DC1', emits: [] } })}, rule_version = 9 WHERE rule_id = 'DC1'`;
  await changes.waitFor((items) => items.some(definition), 10_000, 'the forged edit');
  assert.equal(changes.items.filter(definition)[0]!.rule.emits[0]?.confidence, 0.2, 'compiled from the YAML');
  changes.stop();
});
