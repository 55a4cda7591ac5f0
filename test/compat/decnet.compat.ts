/*
 * Compatibility with the 59 real DECNET rules (`npm run test:decnet`, run by
 * .ci/run). They are not part of the project (AGPL, never copied in): they are
 * read from ../shared/fixtures/decnet-rules/ beside the checkout, as CI lays it
 * out, or from TTP_FIXTURES_DIR. Named *.compat.ts so `npm test`'s glob never
 * picks it up: a user's clone has no ../shared. When the rules are absent this
 * FAILS (exit 1) and says why; it never passes by skipping.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_RULE_STATE, compileRule, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { fixtureFiles } from '../helpers/rules.js';

const DECNET_DIR = process.env['TTP_FIXTURES_DIR'] ?? fileURLToPath(new URL('../../../shared/fixtures/decnet-rules/', import.meta.url));
const DECNET_COUNT = 59;

if (!existsSync(DECNET_DIR)) {
  test('the DECNET rules are present', () => {
    assert.fail(
      `the DECNET compatibility rules are not at ${DECNET_DIR}: clone the project beside ../shared ` +
        '(../shared/fixtures/decnet-rules/) or set TTP_FIXTURES_DIR. This is a failure, not a skip: compatibility was not checked.',
    );
  });
} else {
  const files = fixtureFiles(DECNET_DIR);

  test(`all ${DECNET_COUNT} DECNET rules are there`, () => {
    assert.equal(files.length, DECNET_COUNT, `${DECNET_DIR} holds ${files.length} rule files`);
  });

  test('every DECNET rule compiles to a frozen CompiledRule', () => {
    for (const file of files) {
      const rule = compileRule(readFileSync(file), DEFAULT_RULE_STATE, { source: file });
      assert.ok(Object.isFrozen(rule) && Object.isFrozen(rule.match) && Object.isFrozen(rule.appliesTo));
      assert.ok(rule.emits.length > 0);
      assert.deepEqual(rule.state, DEFAULT_RULE_STATE);
    }
  });

  test('ttp-rules validate accepts the directory', async () => {
    const run = await runCli(['validate', DECNET_DIR]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, new RegExp(`${DECNET_COUNT} rule file\\(s\\) valid`));
  });

  for (const backend of BACKENDS) {
    describe(`the DECNET rules round-trip through the store (${backend})`, () => {
      let fx: BackendFixture;
      let store: RuleStore;
      before(async () => {
        fx = await createBackendFixture(backend, 'decnet');
        store = await fx.open();
      });
      after(async () => fx.teardown());

      test('they load in one batch, compile, come back frozen; an identical batch changes nothing; prune deletes by source path', async () => {
        const documents = files.map((path) => ({ yaml: readFileSync(path), sourcePath: `decnet/${path.split('/').at(-1)}` }));
        const result = await store.upsertRules(documents, { updatedBy: 'decnet' });
        assert.equal(result.upserted.length, DECNET_COUNT);
        const snapshot = await store.snapshot();
        assert.equal(snapshot.rules.length, DECNET_COUNT);
        assert.equal(snapshot.errors.length, 0);
        const rule = snapshot.rules.find((r) => r.ruleId === 'R0001');
        assert.ok(rule);
        assert.equal(rule.name, 'generic_auth_brute');
        assert.deepEqual(rule.appliesTo, ['auth_attempt']);
        assert.deepEqual(rule.emits, [{ techniqueId: 'T1110', subTechniqueId: null, tactic: 'TA0006', confidence: 0.85 }]);
        assert.ok(Object.isFrozen(rule) && Object.isFrozen(rule.emits) && Object.isFrozen(rule.emits[0]) && Object.isFrozen(rule.match) && Object.isFrozen(rule.state));
        // Each stored rule is the rule its file compiles to.
        for (const path of files) {
          const compiled = compileRule(readFileSync(path));
          assert.deepEqual(snapshot.rules.find((r) => r.ruleId === compiled.ruleId), compiled, path);
        }

        const again = await store.upsertRules(documents, { updatedBy: 'decnet' });
        assert.deepEqual([again.upserted.length, again.unchanged.length], [0, DECNET_COUNT]);
        assert.equal((await store.snapshot()).position, snapshot.position, 'identical content appends no event');

        const pruned = await store.upsertRules(documents.slice(0, 50), { updatedBy: 'decnet', pruneUnder: 'decnet/' });
        assert.equal(pruned.deleted.length, 9);
        assert.equal((await store.snapshot()).rules.length, 50);
      });
    });
  }

  describe('ttp-rules apply / list / show on the DECNET rules (Postgres)', () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase('decnet_cli');
    });
    after(async () => db.drop());

    test('apply stores them with absolute source paths; list and show give them back', async () => {
      const apply = await runCli(['apply', DECNET_DIR, '--db', db.url, '--by', 'ci@test', '--json']);
      assert.equal(apply.code, 0, apply.stderr);
      assert.equal(apply.json<{ upserted: string[] }>()[0]!.upserted.length, DECNET_COUNT);
      const list = await runCli(['list', '--db', db.url, '--json']);
      assert.equal(list.code, 0, list.stderr);
      const rules = list.json<{ ruleId: string; sourcePath: string; error: unknown }>();
      assert.equal(rules.length, DECNET_COUNT);
      const real = realpathSync(DECNET_DIR);
      for (const rule of rules) {
        assert.equal(rule.sourcePath, join(real, `${rule.ruleId}.yaml`));
        assert.equal(rule.error, null);
      }
      const show = await runCli(['show', 'R0001', '--db', db.url, '--json']);
      assert.equal(show.json<{ yaml: string }>()[0]!.yaml, readFileSync(files[0]!, 'utf8'));
    });
  });
}
