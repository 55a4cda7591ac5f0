import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { concatMap, delay, from, map, of } from 'rxjs';
import { type RuleChange, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { FULL, auditDelivery, recordReliability } from './audit.js';

const CHANGES = FULL ? 500 : 100;

for (const backend of BACKENDS.filter((b) => b !== 'postgres-poll')) {
  let fx: BackendFixture;
  let store: RuleStore;
  before(async () => {
    fx = await createBackendFixture(backend, 'faults_slow');
    store = await fx.open();
  });
  after(async () => fx.teardown());

  test(`a slow subscriber (10 ms per change) does not hold back a fast one, and neither loses anything (${backend})`, async () => {
    const start = store.position();
    const fast = collect(store.changesSince(start));
    // The slow one is held completely (each change waits on a gate) until the fast one has
    // everything: if a slow subscriber could hold back another, the fast one would never
    // finish. Then it runs at 10 ms per change, its backlog living in its own operator.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = collect(store.changesSince(start).pipe(concatMap((change: RuleChange) => from(gate).pipe(map(() => change), concatMap((c) => of(c).pipe(delay(10)))))));
    for (let i = 0; i < CHANGES; i++) await store.setState(`SLOW${i % 10}`, { state: 'disabled', reason: `r${i}` }, 'writer');
    await fast.waitForCount(CHANGES, 30_000);
    assert.equal(slow.items.length, 0, 'the slow subscriber is still held at its gate');
    release();
    await slow.waitForCount(CHANGES, 60_000);
    const committed = fast.items.map((c) => c.position);
    const audit = auditDelivery(slow.items, committed);
    recordReliability({ scenario: `slow subscriber (10 ms/change) beside a fast one, ${backend}`, faults: 'slow consumer', recoveryMs: null, ...audit });
    assert.deepEqual(slow.items.map((c) => c.position), committed);
    assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, outOfOrder: audit.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
    fast.stop();
    slow.stop();
  });
}
