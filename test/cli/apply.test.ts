import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { FIXTURES_DIR, FIXTURE_COUNT, fixtureFiles, ruleYaml } from '../helpers/rules.js';

interface ListedRule {
  ruleId: string;
  ruleVersion: number;
  sourcePath: string;
  updatedBy: string;
  state: { state: string };
  error: unknown;
}

describe('ttp-rules apply / list / show (Postgres)', () => {
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase('cli_apply');
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'ttp-cli-apply-')));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  it('applies the fixture corpus and lists them back, source paths absolute', async () => {
    const apply = await runCli(['apply', FIXTURES_DIR, '--db', db.url, '--by', 'ci@test', '--json']);
    assert.equal(apply.code, 0, apply.stderr);
    const [summary] = apply.json<{ upserted: string[]; unchanged: string[]; deleted: string[] }>();
    assert.equal(summary!.upserted.length, FIXTURE_COUNT);
    assert.deepEqual(summary!.deleted, []);

    const list = await runCli(['list', '--db', db.url, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rules = list.json<ListedRule>();
    const files = fixtureFiles();
    assert.equal(rules.length, files.length);
    const fixturesReal = realpathSync(FIXTURES_DIR);
    for (const rule of rules) {
      assert.equal(rule.sourcePath, join(fixturesReal, `${rule.ruleId}.yaml`));
      assert.equal(rule.updatedBy, 'ci@test');
      assert.equal(rule.state.state, 'enabled');
      assert.equal(rule.error, null);
    }

    const again = await runCli(['apply', FIXTURES_DIR, '--db', db.url, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.json<{ unchanged: string[] }>()[0]!.unchanged.length, FIXTURE_COUNT);
  });

  it('prints a readable table by default', async () => {
    const list = await runCli(['list', '--db', db.url]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.lines[0]!, /^RULE_ID\s+VERSION\s+STATE\s+EXPIRES\s+UPDATED_BY\s+SOURCE$/);
    assert.match(list.lines[1]!, /^R0001\s+3\s+enabled\s+-\s+ci@test\s+\S+R0001\.yaml$/);
    assert.equal(list.lines.length, FIXTURE_COUNT + 1);
  });

  it('show prints the stored YAML and the state; --json carries both', async () => {
    const file = fixtureFiles()[0]!;
    const text = await runCli(['show', 'R0001', '--db', db.url]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^state: +enabled$/m);
    assert.ok(text.stdout.endsWith(readFileSync(file, 'utf8')), text.stdout);

    const json = await runCli(['show', 'R0001', '--db', db.url, '--json']);
    const [shown] = json.json<ListedRule & { yaml: string }>();
    assert.equal(shown!.yaml, readFileSync(file, 'utf8'));
    assert.equal(shown!.state.state, 'enabled');

    const missing = await runCli(['show', 'NOT_STORED', '--db', db.url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ttp-rules: error: rule NOT_STORED is not stored\n$/);
  });

  it('is all or nothing: one invalid file and nothing is written', async () => {
    writeFileSync(join(dir, 'ALL_1.yaml'), ruleYaml('ALL_1'));
    writeFileSync(join(dir, 'ALL_2.yaml'), ruleYaml('ALL_2', { confidence: 7 }));
    const run = await runCli(['apply', dir, '--db', db.url]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /ALL_2\.yaml: ALL_2: emits\.0\.confidence: must be in \[0, 1\]/);
    assert.match(run.stderr, /nothing was applied/);
    const show = await runCli(['show', 'ALL_1', '--db', db.url]);
    assert.equal(show.code, 1, 'ALL_1 must not have been written');
    unlinkSync(join(dir, 'ALL_2.yaml'));
    unlinkSync(join(dir, 'ALL_1.yaml'));
  });

  it('--prune deletes the rules whose file is gone from the directory, and only those', async () => {
    for (const id of ['PRUNE_A', 'PRUNE_B', 'PRUNE_C']) writeFileSync(join(dir, `${id}.yaml`), ruleYaml(id));
    const first = await runCli(['apply', '--prune', dir, '--db', db.url, '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.json<{ upserted: string[] }>()[0]!.upserted.sort(), ['PRUNE_A', 'PRUNE_B', 'PRUNE_C']);

    unlinkSync(join(dir, 'PRUNE_B.yaml'));
    writeFileSync(join(dir, 'PRUNE_C.yaml'), ruleYaml('PRUNE_C', { version: 2 }));
    const second = await runCli(['apply', '--prune', dir, '--db', db.url, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(second.json()[0], { upserted: ['PRUNE_C'], unchanged: ['PRUNE_A'], deleted: ['PRUNE_B'] });

    const rules = (await runCli(['list', '--db', db.url, '--json'])).json<ListedRule>();
    assert.equal(rules.length, FIXTURE_COUNT + 2, 'the fixtures (another directory) are untouched');
    assert.equal(rules.find((r) => r.ruleId === 'PRUNE_C')!.ruleVersion, 2);
    assert.equal(rules.find((r) => r.ruleId === 'PRUNE_A')!.sourcePath, join(dir, 'PRUNE_A.yaml'));
  });

  it('--prune without exactly one directory is a usage error', async () => {
    const run = await runCli(['apply', '--prune', fixtureFiles()[0]!, '--db', db.url]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--prune needs exactly one directory/);
  });

  it('check reports a row broken by a hand edit and exits 1', async () => {
    const postgres = (await import('postgres')).default;
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`UPDATE ttp_rule SET yaml_content = ${'rule_id: PRUNE_A\nrule_version: 1\n'} WHERE rule_id = 'PRUNE_A'`;
    } finally {
      await sql.end();
    }
    const run = await runCli(['check', '--db', db.url]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^PRUNE_A: name: /m);
    assert.match(run.stderr, new RegExp(`1 of ${FIXTURE_COUNT + 2} stored rule\\(s\\) do not compile`));
    const json = await runCli(['check', '--db', db.url, '--json']);
    const bad = json.json<{ ruleId: string; valid: boolean }>().filter((r) => !r.valid);
    assert.deepEqual(bad.map((r) => r.ruleId), ['PRUNE_A']);
  });

  it('history lists the log newest first, of one rule with a limit', async () => {
    const run = await runCli(['history', 'PRUNE_C', '--limit', '2', '--db', db.url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const entries = run.json<{ ruleId: string; kind: string; ruleVersion: number; position: string }>();
    assert.deepEqual(entries.map((e) => [e.ruleId, e.kind, e.ruleVersion]), [
      ['PRUNE_C', 'definition', 2],
      ['PRUNE_C', 'definition', 1],
    ]);
    assert.ok(BigInt(entries[0]!.position) > BigInt(entries[1]!.position));
    const text = await runCli(['history', '--limit', '3', '--db', db.url]);
    assert.equal(text.lines.length, 4);
    assert.match(text.lines[0]!, /^POSITION\s+AT\s+ACTOR\s+RULE_ID\s+KIND\s+DETAIL$/);
  });
});
