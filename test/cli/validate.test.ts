import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { FIXTURES_DIR, FIXTURE_COUNT, fixtureFiles, ruleYaml } from '../helpers/rules.js';

describe('ttp-rules validate', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ttp-cli-validate-'));
    writeFileSync(join(dir, 'good_one.yaml'), ruleYaml('GOOD_1'));
    writeFileSync(join(dir, 'no_emits.yaml'), ruleYaml('NO_EMITS').replace(/emits:\n(?: {2}.*\n)+/, 'emits: []\n'));
    writeFileSync(join(dir, 'too_confident.yml'), ruleYaml('TOO_CONFIDENT', { confidence: 1.5 }));
    writeFileSync(join(dir, 'bad_id.yaml'), ruleYaml('bad.id'));
    writeFileSync(join(dir, 'a_list.yaml'), '- just\n- a list\n');
    writeFileSync(join(dir, 'broken_yaml.yaml'), 'rule_id: [\n');
    writeFileSync(join(dir, 'dup_a.yaml'), ruleYaml('DUP'));
    writeFileSync(join(dir, 'dup_b.yaml'), ruleYaml('DUP', { version: 2 }));
    // Not rule files by name: ignored without a word.
    writeFileSync(join(dir, 'editor_swap.yaml~'), 'garbage: [');
    writeFileSync(join(dir, '.hidden.yaml'), 'garbage: [');
    writeFileSync(join(dir, '4913'), '');
    writeFileSync(join(dir, 'notes.txt'), 'garbage: [');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts every fixture rule (directory argument), printing nothing on stdout', async () => {
    const run = await runCli(['validate', FIXTURES_DIR]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, new RegExp(`${FIXTURE_COUNT} rule file\\(s\\) valid`));
  });

  it('accepts fixture files named one by one, one JSON object per file with --json', async () => {
    const files = fixtureFiles().slice(0, 3);
    const run = await runCli(['validate', '--json', ...files]);
    assert.equal(run.code, 0, run.stderr);
    const results = run.json<{ file: string; valid: boolean; ruleId: string; issues: unknown[] }>();
    assert.deepEqual(
      results.map((r) => [r.file, r.valid, r.issues.length]),
      files.map((f) => [f, true, 0]),
    );
    assert.equal(results[0]!.ruleId, 'R0001');
  });

  it('reports every problem as "file: rule_id: field: reason" and exits 1', async () => {
    const run = await runCli(['validate', dir]);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(!hasStackTrace(run.stderr));
    const lines = run.lines;
    const expect = (pattern: RegExp): void => assert.ok(lines.some((l) => pattern.test(l)), `no line matches ${pattern}:\n${lines.join('\n')}`);
    expect(/^.*no_emits\.yaml: NO_EMITS: emits: .*at least one technique/);
    expect(/^.*too_confident\.yml: TOO_CONFIDENT: emits\.0\.confidence: must be in \[0, 1\]$/);
    expect(/^.*bad_id\.yaml: bad\.id: rule_id: must be one bus-topic segment/);
    expect(/^.*a_list\.yaml: -: -: top-level YAML must be a mapping$/);
    expect(/^.*broken_yaml\.yaml: -: -: YAML: /);
    expect(/^.*dup_b\.yaml: DUP: rule_id: duplicate: also defined in .*dup_a\.yaml$/);
    for (const line of lines) assert.match(line, /^[^:]+: [^:]+: [^:]+: .+/);
    assert.ok(!lines.some((l) => /good_one|editor_swap|hidden|4913|notes/.test(l)), lines.join('\n'));
    assert.match(run.stderr, /6 of 8 rule file\(s\) invalid/);
  });

  it('--json marks the invalid files with their issues', async () => {
    const run = await runCli(['validate', '--json', dir]);
    assert.equal(run.code, 1);
    const results = run.json<{ file: string; valid: boolean; issues: { path: string; message: string }[] }>();
    assert.equal(results.length, 8);
    const confident = results.find((r) => r.file.endsWith('too_confident.yml'))!;
    assert.equal(confident.valid, false);
    assert.deepEqual(confident.issues.map((i) => i.path), ['emits.0.confidence']);
    assert.equal(results.find((r) => r.file.endsWith('good_one.yaml'))!.valid, true);
  });

  it('--strict refuses unknown top-level keys that are otherwise ignored', async () => {
    const file = join(dir, 'extra_key.yaml');
    writeFileSync(file, `${ruleYaml('EXTRA')}severity: high\n`);
    try {
      assert.equal((await runCli(['validate', file])).code, 0);
      const strict = await runCli(['validate', '--strict', file]);
      assert.equal(strict.code, 1);
      // The field is the unknown key's name, not '-'.
      assert.match(strict.stdout, /^\S*extra_key\.yaml: EXTRA: severity: unknown key/m);
    } finally {
      rmSync(file);
    }
  });

  it('a missing file is a usage error (exit 2, one line, no stack)', async () => {
    const run = await runCli(['validate', join(dir, 'nope.yaml')]);
    assert.equal(run.code, 2);
    assert.equal(run.stderr.trim().split('\n').length, 1);
    assert.match(run.stderr, /nope\.yaml: no such file or directory/);
  });
});
