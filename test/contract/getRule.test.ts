import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_RULE_STATE, RuleStoreError, RuleValidationError, type RuleListing, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture, type RawDb } from '../helpers/backends.js';
import { ruleYaml } from '../helpers/rules.js';

/** What `listRuleMetadata` should say of a `listRules` row: the same, minus the YAML and the compile. */
const metadataOf = ({ yamlContent: _yaml, error: _error, ...rest }: RuleListing) => rest;

/** A getRule result without its compiled rule, comparable with a `listRules` row. */
const listingOf = (found: Awaited<ReturnType<RuleStore['getRule']>>) => {
  if (found === null) return null;
  const { rule: _rule, ...rest } = found;
  return rest;
};

const BAD_YAML = 'rule_id: G_BAD\nrule_version: [oops\n';

for (const backend of BACKENDS) {
  describe(`getRule and listRuleMetadata (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;
    let raw: RawDb;

    before(async () => {
      fx = await createBackendFixture(backend, 'getrule');
      store = await fx.open();
      raw = fx.raw();
    });
    after(async () => fx.teardown());

    test('a stored rule: its row, YAML, default state and the rule compiled, all frozen', async () => {
      const yaml = ruleYaml('G1', { version: 3, name: 'get me' });
      await store.upsertRule(yaml, { sourcePath: '/rules/G1.yaml', updatedBy: 'author' });
      const found = await store.getRule('G1');
      assert.ok(found);
      assert.equal(found.ruleId, 'G1');
      assert.equal(found.ruleVersion, 3);
      assert.equal(found.sourcePath, '/rules/G1.yaml');
      assert.equal(found.updatedBy, 'author');
      assert.ok(found.updatedAt instanceof Date && !Number.isNaN(found.updatedAt.getTime()));
      assert.equal(found.yamlContent, yaml);
      assert.deepEqual(found.state, DEFAULT_RULE_STATE);
      assert.equal(found.error, null);
      assert.ok(found.rule);
      assert.equal(found.rule.ruleId, 'G1');
      assert.equal(found.rule.name, 'get me');
      assert.equal(found.rule.ruleVersion, 3);
      assert.ok(Object.isFrozen(found) && Object.isFrozen(found.rule));
      // The same row listRules lists.
      assert.deepEqual(listingOf(found), (await store.listRules()).find((r) => r.ruleId === 'G1'));
    });

    test('not stored: null, for an unknown id, a deleted rule, and an id that can never be stored', async () => {
      assert.equal(await store.getRule('G_NEVER'), null);
      await store.upsertRule(ruleYaml('G_GONE'));
      assert.ok(await store.getRule('G_GONE'));
      await store.deleteRule('G_GONE');
      assert.equal(await store.getRule('G_GONE'), null);
      assert.equal(await store.getRule('not.valid id'), null);
      assert.equal(await store.getRule(''), null);
      // A state alone (set with --force) is not a stored rule.
      await store.setState('G_STATE_ONLY', 'disabled', 'op');
      assert.equal(await store.getRule('G_STATE_ONLY'), null);
    });

    test('the state is included, stamped on the compiled rule too; an expired one reads as the default', async () => {
      await store.upsertRule(ruleYaml('G2'));
      await store.setState('G2', { state: 'clipped', confidenceMax: 0.25, reason: 'noisy', expiresAt: new Date(Date.now() + 3_600_000) }, 'op');
      const found = await store.getRule('G2');
      assert.ok(found?.rule);
      assert.equal(found.state.state, 'clipped');
      assert.equal(found.state.confidenceMax, 0.25);
      assert.equal(found.state.reason, 'noisy');
      assert.equal(found.state.setBy, 'op');
      assert.deepEqual(found.rule.state, found.state);
      assert.deepEqual(found.state, await store.getState('G2'));

      // A hand edit already past its expiry: the default, as listRules says.
      await raw.run(`DELETE FROM ttp_rule_state WHERE rule_id = 'G2'`);
      await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, expires_at, set_by) VALUES ('G2', 'disabled', $1, 'psql')`, [new Date(Date.now() - 60_000)]);
      const expired = await store.getRule('G2');
      assert.deepEqual(expired?.state, DEFAULT_RULE_STATE);
      assert.deepEqual(expired?.rule?.state, DEFAULT_RULE_STATE);
    });

    test('a stored row whose YAML does not compile: the row, its YAML and the compile error, no rule', async () => {
      await store.upsertRule(ruleYaml('G_BAD'), { sourcePath: '/rules/G_BAD.yaml' });
      await store.setState('G_BAD', 'disabled', 'op');
      await raw.run(`UPDATE ttp_rule SET yaml_content = $1 WHERE rule_id = 'G_BAD'`, [BAD_YAML]);
      const found = await store.getRule('G_BAD');
      assert.ok(found);
      assert.equal(found.rule, null);
      assert.ok(found.error instanceof RuleValidationError);
      assert.equal(found.error.ruleId, 'G_BAD');
      assert.equal(found.yamlContent, BAD_YAML);
      assert.equal(found.sourcePath, '/rules/G_BAD.yaml');
      assert.equal(found.state.state, 'disabled');
      // The same error listRules reports for the row.
      const listed = (await store.listRules()).find((r) => r.ruleId === 'G_BAD');
      assert.equal(found.error.message, listed?.error?.message);
      assert.deepEqual(found.error.issues, listed?.error?.issues);
    });

    test('listRuleMetadata: every row as listRules lists it, minus YAML and compile; a bad row is listed like any other', async () => {
      const metadata = await store.listRuleMetadata();
      const listing = await store.listRules();
      assert.deepEqual(metadata, listing.map(metadataOf));
      assert.deepEqual(metadata.map((r) => r.ruleId), [...metadata.map((r) => r.ruleId)].sort());
      const bad = metadata.find((r) => r.ruleId === 'G_BAD');
      assert.ok(bad);
      assert.equal(bad.sourcePath, '/rules/G_BAD.yaml');
      assert.equal(bad.state.state, 'disabled');
      assert.ok(!('yamlContent' in bad) && !('error' in bad));
      assert.ok(Object.isFrozen(bad));
      assert.ok(!metadata.some((r) => r.ruleId === 'G_STATE_ONLY'), 'a state alone is not a rule');
    });

    test('with `at`: what listRules({ at }) lists for the rule, at every position of its history', async () => {
      const positions: string[] = [(await store.snapshot()).position];
      const step = async (write: () => Promise<unknown>): Promise<void> => {
        await write();
        positions.push((await store.snapshot()).position);
      };
      await step(() => store.upsertRule(ruleYaml('G_PAST', { version: 1 }), { sourcePath: '/rules/G_PAST.yaml' }));
      await step(() => store.upsertRule(ruleYaml('G_OTHER')));
      await step(() => store.setState('G_PAST', { state: 'disabled', reason: 'first' }, 'op'));
      await step(() => store.upsertRule(ruleYaml('G_PAST', { version: 2, name: 'second' }), { sourcePath: '/rules/G_PAST.yaml' }));
      await step(() => raw.run(`UPDATE ttp_rule SET yaml_content = $1 WHERE rule_id = 'G_PAST'`, ['rule_id: G_PAST\nrule_version: [oops\n']));
      await step(() => store.upsertRule(ruleYaml('G_PAST', { version: 4 }), { sourcePath: '/rules/G_PAST.yaml' }));
      await step(() => store.clearState('G_PAST', 'op'));
      await step(() => store.deleteRule('G_PAST'));
      await step(() => store.setState('G_OTHER', 'disabled', 'op'));
      const seen = new Set<string>();
      for (const at of positions) {
        const found = await store.getRule('G_PAST', { at });
        const listed = (await store.listRules({ at })).find((r) => r.ruleId === 'G_PAST') ?? null;
        assert.deepEqual(listingOf(found), listed, `at ${at}`);
        if (found?.error) assert.equal(found.rule, null);
        else if (found) assert.equal(found.rule?.ruleVersion, found.ruleVersion);
        assert.deepEqual(
          await store.listRuleMetadata({ at }),
          (await store.listRules({ at })).map(metadataOf),
          `metadata at ${at}`,
        );
        seen.add(found === null ? 'absent' : found.error ? 'bad' : `v${found.ruleVersion}/${found.state.state}`);
      }
      assert.deepEqual([...seen].sort(), ['absent', 'bad', 'v1/disabled', 'v1/enabled', 'v2/disabled', 'v4/disabled', 'v4/enabled']);
      // A bigint and an instant name the same point; a position beyond the head is refused.
      const head = positions.at(-1)!;
      assert.deepEqual(listingOf(await store.getRule('G_OTHER', { at: BigInt(head) })), listingOf(await store.getRule('G_OTHER', { at: new Date() })));
      assert.equal((await store.getRule('G_OTHER', { at: head }))?.state.state, 'disabled');
      await assert.rejects(store.getRule('G_OTHER', { at: (BigInt(head) + 1000n).toString() }), (e: unknown) => RuleStoreError.is(e) && e.code === 'POSITION_INVALID');
    });

    test('with `at`, an expiry is judged at the time of the point (of the whole log), as listRules({ at }) judges it', async () => {
      // No store reverts here, so the rule's own newest event stays the state write:
      // only the time of the log's newest event at the point says that it has expired.
      const quiet = await createBackendFixture(backend, 'getrule_expiry');
      try {
        const s = await quiet.open({ revertExpired: false });
        await s.upsertRule(ruleYaml('G_EXP'));
        await s.setState('G_EXP', { state: 'disabled', expiresAt: new Date(Date.now() + 150) }, 'op');
        const during = (await s.snapshot()).position;
        const stateAt = async (at: string) => (await s.listRules({ at })).find((r) => r.ruleId === 'G_EXP')?.state.state;
        // Other rules' writes move the log's time on until one lands after the expiry.
        let past = during;
        const deadline = Date.now() + 10_000;
        for (let tick = 0; (await stateAt(past)) === 'disabled'; tick++) {
          assert.ok(Date.now() < deadline, 'no write landed after the expiry within 10 s');
          await s.upsertRule(ruleYaml('G_TICK', { version: tick + 1 }));
          past = (await s.snapshot()).position;
        }
        for (const at of [during, past]) {
          const listed = (await s.listRules({ at })).find((r) => r.ruleId === 'G_EXP');
          assert.deepEqual(listingOf(await s.getRule('G_EXP', { at })), listed, `at ${at}`);
        }
        assert.equal((await s.getRule('G_EXP', { at: during }))?.state.state, 'disabled');
        assert.equal((await s.getRule('G_EXP', { at: past }))?.state.state, 'enabled');
      } finally {
        await quiet.teardown();
      }
    });
  });
}
