import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openRuleStore } from '../../src/index.js';
import { BAD_RULES } from '../corpus/badRules.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

/** Corpus file names must pass the directory allowlist: letters, digits, underscores. */
const fileName = (name: string): string => `${name.replace(/[^A-Za-z0-9]/g, '_')}.yaml`;

describe('the hostile corpus through ttp-rules validate and apply', () => {
  let db: TestDatabase;
  let dir: string;

  before(async () => {
    db = await createTestDatabase('cli_hostile');
    dir = mkdtempSync(join(tmpdir(), 'ttp-hostile-'));
    for (const bad of BAD_RULES) writeFileSync(join(dir, fileName(bad.name)), bad.bytes);
    writeFileSync(join(dir, 'GOOD_ONE.yaml'), ruleYaml('GOOD_ONE'));
    const store = await openRuleStore({ url: db.url });
    await store.upsertRule(ruleYaml('ALREADY_THERE'));
    await store.close();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  it('validate reports every bad file with the problem, exit 1, no stack trace', async () => {
    const run = await runCli(['validate', dir, '--json'], { timeoutMs: 60_000 });
    assert.equal(run.code, 1, run.stderr);
    const results = run.json<{ file: string; valid: boolean; issues: { path: string; message: string }[] }>();
    assert.equal(results.length, BAD_RULES.length + 1);
    for (const bad of BAD_RULES) {
      const result = results.find((r) => r.file.endsWith(fileName(bad.name)));
      assert.ok(result && !result.valid, `${bad.name} is reported invalid`);
      const text = result.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      assert.match(text, new RegExp(bad.expect.source.replace(/^[a-z_.0-9]+: /, ''), bad.expect.flags), `${bad.name}: ${text}`);
    }
    assert.ok(results.find((r) => r.file.endsWith('GOOD_ONE.yaml'))?.valid);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it('apply refuses the whole batch and changes nothing', async () => {
    const run = await runCli(['apply', dir, '--db', db.url], { timeoutMs: 60_000 });
    assert.equal(run.code, 1);
    const list = await runCli(['list', '--db', db.url, '--json']);
    assert.deepEqual(list.json<{ ruleId: string }>().map((r) => r.ruleId), ['ALREADY_THERE']);
  });
});
