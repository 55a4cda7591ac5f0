import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RuleStoreError, type RuleChange, type RuleSnapshot, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture, type RawDb } from '../helpers/backends.js';
import { collect, type Collector } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

/** A deterministic pseudo-random sequence (the same log on every run). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/** What a snapshot says, comparable with deepEqual. */
const view = (s: RuleSnapshot) => ({ position: s.position, rules: s.rules, errors: s.errors.map((e) => [e.ruleId, e.message]) });

for (const backend of BACKENDS) {
  describe(`reads of the past (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;
    let raw: RawDb;
    let changes: Collector<RuleChange>;
    /** The snapshot taken live at each position. */
    const live = new Map<string, ReturnType<typeof view>>();

    before(async () => {
      fx = await createBackendFixture(backend, 'past');
      store = await fx.open();
      raw = fx.raw();
      changes = collect(store.changes$);
    });
    after(async () => {
      changes.stop();
      await fx.teardown();
    });

    const record = async (): Promise<void> => {
      const snap = await store.snapshot();
      live.set(snap.position, view(snap));
    };
    const waitForRevert = async (ruleId: string, count: number): Promise<void> => {
      await changes.waitFor((items) => items.filter((c) => c.ruleId === ruleId && c.kind === 'state' && c.expired).length >= count, 10_000, `the revert of ${ruleId}`);
    };

    test('snapshot({ at }) equals the snapshot taken live there, at 50 random positions of a mixed log', async () => {
      const next = random(14);
      const ids = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6'];
      const versions = new Map<string, number>();
      const reverts = new Map<string, number>();
      await record();
      for (let step = 0; step < 90; step++) {
        const id = ids[Math.floor(next() * ids.length)]!;
        const roll = next();
        if (roll < 0.35) {
          const version = (versions.get(id) ?? 0) + 1;
          versions.set(id, version);
          await store.upsertRule(ruleYaml(id, { version, confidence: Math.round(next() * 100) / 100 }));
        } else if (roll < 0.45) {
          await store.deleteRule(id);
        } else if (roll < 0.6) {
          await store.setState(id, { state: next() < 0.5 ? 'disabled' : 'clipped', confidenceMax: 0.3, reason: `step ${step}`, expiresAt: new Date(Date.now() + 3_600_000) }, 'op');
        } else if (roll < 0.67) {
          await store.clearState(id, 'op');
        } else if (roll < 0.74) {
          // An expiry that passes during the test: recorded while it holds, then after its revert.
          await store.setState(id, { state: 'disabled', expiresAt: new Date(Date.now() + 150) }, 'op');
          await record();
          reverts.set(id, (reverts.get(id) ?? 0) + 1);
          await waitForRevert(id, reverts.get(id)!);
        } else if (roll < 0.8) {
          // A hand edit that is already expired: the default then and now, reverted at once.
          await raw.run(`DELETE FROM ttp_rule_state WHERE rule_id = $1`, [id]);
          await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, expires_at, set_by) VALUES ($1, 'disabled', $2, 'psql')`, [id, new Date(Date.now() - 60_000)]);
          await record();
          reverts.set(id, (reverts.get(id) ?? 0) + 1);
          await waitForRevert(id, reverts.get(id)!);
        } else if (roll < 0.88) {
          // A bad row from psql: reported, the last good version stays in force.
          await raw.run(`UPDATE ttp_rule SET yaml_content = $2 WHERE rule_id = $1`, [id, `rule_id: ${id}\nrule_version: [oops\n`]);
        } else {
          await store.upsertRules([{ yaml: ruleYaml(`${id}_b`, { version: step }) }, { yaml: ruleYaml(`${id}_c`, { version: step }) }]);
        }
        await record();
      }
      const positions = [...live.keys()];
      assert.ok(positions.length >= 50, `only ${positions.length} distinct positions`);
      const pick = random(41);
      for (let i = 0; i < 50; i++) {
        const position = positions[Math.floor(pick() * positions.length)]!;
        assert.deepEqual(view(await store.snapshot({ at: position })), live.get(position), `at ${position}`);
      }
      // A bigint, an instant, and now.
      const head = positions.at(-1)!;
      assert.deepEqual(view(await store.snapshot({ at: BigInt(head) })), live.get(head));
      assert.deepEqual(view(await store.snapshot({ at: new Date() })), live.get(head));
      const listing = await store.listRules({ at: positions[Math.floor(positions.length / 2)]! });
      assert.deepEqual(listing.map((r) => r.ruleId), [...listing.map((r) => r.ruleId)].sort());
      await assert.rejects(store.snapshot({ at: (BigInt(head) + 1000n).toString() }), (e: unknown) => RuleStoreError.is(e) && e.code === 'POSITION_INVALID');
    });

    test('an `at` in the pruned range fails with LOG_TRUNCATED naming the oldest readable point', async () => {
      const head = BigInt((await store.snapshot()).position);
      await store.prune({ keepCount: 10, force: true });
      await assert.rejects(store.snapshot({ at: '1' }), (e: unknown) => RuleStoreError.is(e) && e.code === 'LOG_TRUNCATED' && /oldest readable point is position \d+/.test(e.message));
      await assert.rejects(store.snapshot({ at: new Date(0) }), (e: unknown) => RuleStoreError.is(e) && e.code === 'LOG_TRUNCATED');
      const oldest = BigInt(/position (\d+)/.exec(((await store.snapshot({ at: '1' }).catch((e: Error) => e)) as Error).message.split('oldest readable point is ')[1]!)![1]!);
      assert.ok(oldest <= head);
      // From the oldest readable point on, the fold is exact. (A bad row's last good
      // version comes from the retained log, for snapshot() too: compaction may have
      // taken it, so rules with a bad row are left out of this comparison.)
      const withoutBad = (v: ReturnType<typeof view>) => ({ ...v, rules: v.rules.filter((r) => !v.errors.some(([id]) => id === r.ruleId)) });
      let compared = 0;
      for (const [position, expected] of live) {
        if (BigInt(position) < oldest) continue;
        assert.deepEqual(withoutBad(view(await store.snapshot({ at: position }))), withoutBad(expected), `at ${position} after prune`);
        compared++;
      }
      assert.ok(compared > 0);
    });
  });
}
