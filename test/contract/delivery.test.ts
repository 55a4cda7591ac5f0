import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { firstValueFrom } from 'rxjs';
import { RuleStoreError, type RuleChange, type RuleStore } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';
import { applyChange, normalise, viewFromSnapshot } from '../helpers/view.js';

function assertStrictlyIncreasing(changes: readonly RuleChange[]): void {
  for (let i = 1; i < changes.length; i++) {
    assert.ok(BigInt(changes[i]!.position) > BigInt(changes[i - 1]!.position), `position ${changes[i]!.position} after ${changes[i - 1]!.position}`);
  }
}

for (const backend of BACKENDS) {
  describe(`delivery: replay, seam and snapshot (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'delivery');
      store = await fx.open();
    });
    after(async () => fx.teardown());

    test('changesSince replays the log after a position, then goes live, with no gap or duplicate at the seam', async () => {
      for (let i = 0; i < 30; i++) await store.upsertRule(ruleYaml(`D${i % 7}`, { version: i }));
      const head = (await store.snapshot()).position;
      const all = collect(store.changesSince('0'));
      await all.waitFor((items) => items.length > 0 && items.at(-1)!.position === head, 10_000, 'the replay');
      const middle = all.items[11]!.position;
      const tail = collect(store.changesSince(middle));
      // Writes racing the replay: they must land exactly once, after the replayed part.
      const writes = (async () => {
        for (let i = 0; i < 20; i++) await store.setState(`D${i % 7}`, i % 2 ? 'disabled' : 'enabled', `live-${i}`);
      })();
      await writes;
      await all.waitFor((items) => items.some((c) => c.actor === 'live-19'), 10_000, 'the live writes');
      await tail.waitFor((items) => items.some((c) => c.actor === 'live-19'), 10_000, 'the live writes on the tail');
      assert.equal(all.items.length, 50);
      assertStrictlyIncreasing(all.items);
      assert.deepEqual(tail.items, all.items.slice(12), 'the tail is exactly the suffix after the position asked for');
      all.stop();
      tail.stop();
    });

    test('changesSince from a position beyond the head is refused (POSITION_INVALID), never a silent wait; bad positions are refused', async () => {
      assert.throws(() => store.changesSince('-1'), (e: unknown) => RuleStoreError.is(e) && e.code === 'POSITION_INVALID');
      assert.throws(() => store.changesSince('abc'), (e: unknown) => RuleStoreError.is(e) && e.code === 'POSITION_INVALID');
      const ahead = BigInt((await store.snapshot()).position) + 2n;
      const changes = collect(store.changesSince(ahead));
      await assert.rejects(
        changes.waitFor(() => false, 10_000, 'the stream to fail'),
        (e: unknown) => RuleStoreError.is(e) && e.code === 'POSITION_INVALID' && /beyond the head of the log/.test(e.message),
      );
      changes.stop();
    });

    test('an engine that takes a snapshot while writers run, then follows changesSince, ends equal to the database', async () => {
      let stop = false;
      const writer = await fx.open();
      const writing = (async () => {
        for (let i = 0; !stop; i++) {
          const id = `W${i % 13}`;
          if (i % 5 === 4) await writer.deleteRule(id, { updatedBy: 'writer' });
          else if (i % 3 === 0) await writer.setState(id, { state: 'clipped', confidenceMax: (i % 10) / 10 }, 'writer');
          else await writer.upsertRule(ruleYaml(id, { version: i }), { updatedBy: 'writer' });
        }
      })();
      // Let the writer get going: wait until it has produced a few changes.
      await firstValueFrom(store.changesSince((await store.snapshot()).position));
      const snapshot = await store.snapshot();
      const view = viewFromSnapshot(snapshot);
      const followed = collect(store.changesSince(snapshot.position));
      await followed.waitForCount(40, 20_000);
      stop = true;
      await writing;
      await writer.setState('W0', 'enabled', 'final');
      await followed.waitFor((items) => items.some((c) => c.actor === 'final'), 10_000, 'the final write');
      for (const change of followed.items) applyChange(view, change);
      const truth = viewFromSnapshot(await store.snapshot());
      assert.deepEqual(normalise(view), normalise(truth));
      assertStrictlyIncreasing(followed.items);
      followed.stop();
    });
  });
}
