import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import postgres from 'postgres';
import { watchRules, type RuleChange, type RuleIndex, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect, type Collector } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

/** The indexes after the first `from`, up to and including the first that holds `sentinel`. */
async function indexesUntil(indexes: Collector<RuleIndex>, from: number, sentinel: string): Promise<RuleIndex[]> {
  await indexes.waitFor((items) => items.some((i) => i.byId.has(sentinel)), 10_000, `an index with ${sentinel}`);
  const end = indexes.items.findIndex((i) => i.byId.has(sentinel));
  return indexes.items.slice(from, end + 1);
}

/** A swap from `old` to `next` is seen whole: every index after it has the new rule and not the old, and one index shows it. */
function assertOneSwap(seen: readonly RuleIndex[], old: string, next: string, sentinel: string): void {
  for (const index of seen) assert.ok(index.byId.has(next) && !index.byId.has(old), `index @${index.position} holds half the swap`);
  const before = seen.filter((i) => !i.byId.has(sentinel));
  assert.ok(before.length <= 1, `one index for the swap, got ${before.length}`);
}

for (const backend of BACKENDS) {
  describe(`whole transactions (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;
    let onePerPage: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'txn');
      // Small pages: a transaction spans several reads of the log (and with one
      // event per page, every read would make an index of its own).
      store = await fx.open({ pageSize: 7 });
      onePerPage = await fx.open({ pageSize: 1 });
    });
    after(async () => fx.teardown());

    test('every change carries commit and lastInCommit; a library batch is one commit', async () => {
      const changes = collect(store.changes$);
      await store.upsertRules([1, 2, 3].map((i) => ({ yaml: ruleYaml(`TC${i}`) })));
      await store.upsertRule(ruleYaml('TC4'));
      await changes.waitForCount(4);
      changes.stop();
      const [a, b, c, d] = changes.items as [RuleChange, RuleChange, RuleChange, RuleChange];
      assert.equal(a.commit, a.position, 'the commit is the first position of the transaction');
      assert.equal(b.commit, a.commit);
      assert.equal(c.commit, a.commit);
      assert.deepEqual([a, b, c].map((x) => x.lastInCommit), [false, false, true]);
      assert.ok(BigInt(d.commit) > BigInt(a.commit), 'commits increase in commit order');
      assert.equal(d.commit, d.position);
      assert.equal(d.lastInCommit, true);
      // A replay reads the same commits, from the middle of the transaction too.
      const replay = collect(store.changesSince(b.position));
      await replay.waitForCount(2);
      replay.stop();
      assert.deepEqual(replay.items.map((x) => [x.position, x.commit, x.lastInCommit]), [c, d].map((x) => [x.position, x.commit, x.lastInCommit]));
    });

    test('a library swap (upsertRules with pruneUnder) yields exactly one new index: the new rule, not the old', async () => {
      await store.upsertRules([{ yaml: ruleYaml('SW_OLD'), sourcePath: 'swap/old.yaml' }]);
      const indexes = collect(watchRules(onePerPage));
      await indexes.waitFor((items) => items.some((i) => i.byId.has('SW_OLD')), 10_000, 'the old rule');
      const from = indexes.items.length;
      // Upserts the new rule, then the prune deletes the old one: two events, one transaction.
      const result = await store.upsertRules([{ yaml: ruleYaml('SW_NEW'), sourcePath: 'swap/new.yaml' }], { pruneUnder: 'swap/' });
      assert.deepEqual(result.deleted, ['SW_OLD']);
      await store.upsertRule(ruleYaml('SW_SENTINEL'));
      const seen = await indexesUntil(indexes, from, 'SW_SENTINEL');
      indexes.stop();
      assertOneSwap(seen, 'SW_OLD', 'SW_NEW', 'SW_SENTINEL');
    });

    test('a 300-rule transaction read in pages of 7 is one new index', async () => {
      const indexes = collect(watchRules(store));
      await indexes.waitForCount(1);
      const ids = Array.from({ length: 300 }, (_, i) => `BIG${String(i).padStart(3, '0')}`);
      await store.upsertRules(ids.map((id) => ({ yaml: ruleYaml(id) })));
      await store.upsertRule(ruleYaml('BIG_SENTINEL'));
      const seen = await indexesUntil(indexes, 1, 'BIG_SENTINEL');
      indexes.stop();
      for (const index of seen) assert.ok(ids.every((id) => index.byId.has(id)), `index @${index.position} holds part of the transaction`);
      assert.ok(seen.filter((i) => !i.byId.has('BIG_SENTINEL')).length <= 1);
    });

    if (backend === 'sqlite') {
      test('a hand transaction in the sqlite3 shell is not grouped: each of its events is a commit of its own', async () => {
        const raw = fx.raw();
        await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('HS_OLD', 1, 'shell', $1, 'op')`, [ruleYaml('HS_OLD')]);
        const changes = collect(store.changes$);
        await raw.run('BEGIN');
        await raw.run(`DELETE FROM ttp_rule WHERE rule_id = 'HS_OLD'`);
        await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('HS_NEW', 1, 'shell', $1, 'op')`, [ruleYaml('HS_NEW')]);
        await raw.run('COMMIT');
        await changes.waitFor((items) => items.some((c) => c.ruleId === 'HS_NEW'), 10_000, 'the hand insert');
        changes.stop();
        const mine = changes.items.filter((c) => c.ruleId === 'HS_NEW' || (c.ruleId === 'HS_OLD' && c.kind === 'deleted'));
        assert.equal(mine.length, 2);
        for (const change of mine) {
          assert.equal(change.commit, change.position);
          assert.equal(change.lastInCommit, true);
        }
      });
    }

    if (backend !== 'sqlite') {
      test('a hand transaction (BEGIN … COMMIT in psql) that swaps two rules yields exactly one new index', async () => {
        const raw = fx.raw();
        await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('HX_OLD', 1, 'psql', $1, 'op')`, [ruleYaml('HX_OLD')]);
        const indexes = collect(watchRules(onePerPage));
        await indexes.waitFor((items) => items.some((i) => i.byId.has('HX_OLD')), 10_000, 'the old rule');
        const from = indexes.items.length;
        const changes = collect(store.changes$);
        const sql = postgres(fx.url, { max: 1, onnotice: () => {} });
        try {
          await sql.begin(async (tx) => {
            await tx`DELETE FROM ttp_rule WHERE rule_id = 'HX_OLD'`;
            await tx`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('HX_NEW', 1, 'psql', ${ruleYaml('HX_NEW')}, 'op')`;
          });
        } finally {
          await sql.end({ timeout: 1 });
        }
        await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('HX_SENTINEL', 1, 'psql', $1, 'op')`, [ruleYaml('HX_SENTINEL')]);
        const seen = await indexesUntil(indexes, from, 'HX_SENTINEL');
        indexes.stop();
        assertOneSwap(seen, 'HX_OLD', 'HX_NEW', 'HX_SENTINEL');
        await changes.waitFor((items) => items.some((c) => c.ruleId === 'HX_SENTINEL'), 10_000, 'the sentinel');
        changes.stop();
        const pick = (id: string, kind: RuleChange['kind']): RuleChange => changes.items.find((c) => c.ruleId === id && c.kind === kind)!;
        const [del, ins, sentinel] = [pick('HX_OLD', 'deleted'), pick('HX_NEW', 'definition'), pick('HX_SENTINEL', 'definition')];
        assert.equal(ins.commit, del.commit);
        assert.equal(del.commit, del.position);
        assert.deepEqual([del.lastInCommit, ins.lastInCommit, sentinel.lastInCommit], [false, true, true]);
      });
    }
  });
}
