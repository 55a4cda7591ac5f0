import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { bridgeToNats, openRuleStore, type NatsBridge, type NatsBridgeEvent, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';
import { NATS_URL, connectShared, deleteStream, listen, readStream, uniqueBus } from './natsFixture.js';

let db: TestDatabase;
let store: RuleStore;
let nc: NatsConnection;
const streams: string[] = [];

before(async () => {
  db = await createTestDatabase('bridge_payloads');
  store = await openRuleStore({ url: db.url });
  nc = await connectShared();
});
after(async () => {
  for (const stream of streams) await deleteStream(nc, stream);
  await nc.close();
  await store.close();
  await db.drop();
});

/** The seed's fields of a payload (what DECNET subscribers read). */
const seed = (payload: Record<string, unknown>): Record<string, unknown> => {
  const { position: _p, prev_position: _pp, commit: _cm, last_in_commit: _l, change: _c, ...rest } = payload;
  return rest;
};

for (const mode of ['jetstream', 'core'] as const) {
  describe(`bridgeToNats (${mode} NATS)`, () => {
    let bridge: NatsBridge;
    let bus: { prefix: string; stream: string };

    before(async () => {
      bus = uniqueBus(`payloads${mode}`);
      streams.push(bus.stream);
      bridge = await bridgeToNats(store, {
        nats: NATS_URL,
        name: `bridge-${mode}`,
        subjectPrefix: bus.prefix,
        jetstream: mode === 'jetstream' ? { stream: bus.stream } : false,
        checkpointIntervalMs: 50,
      });
    });
    after(async () => bridge.stop());

    test('every change arrives once on its per-rule subject with the seed payload, position and prev_position', async () => {
      const received = await listen(nc, `${bus.prefix}.>`);
      const events = collect<NatsBridgeEvent>(bridge.events$);
      const from = BigInt(store.position());
      const rule = `P_${mode}`;
      await store.upsertRule(ruleYaml(rule, { version: 1 }));
      await store.upsertRule(ruleYaml(rule, { version: 2 }));
      await store.setState(rule, 'disabled', 'alice');
      await store.setState(rule, { state: 'clipped', confidenceMax: 0.3, reason: 'noisy' }, 'bob');
      await store.clearState(rule, 'carol');
      // Five rules in one transaction: five messages (per rule, never batched).
      await store.upsertRules([1, 2, 3, 4, 5].map((i) => ({ yaml: ruleYaml(`${rule}_b${i}`) })));
      await store.deleteRule(rule, { updatedBy: 'dave' });
      // An expiry reverted by the store when the time comes.
      await store.upsertRule(ruleYaml(`${rule}_x`));
      await store.setState(`${rule}_x`, { state: 'disabled', expiresAt: new Date(Date.now() + 300) }, 'erin');

      const expected = 14;
      await received.waitFor((items) => items.length >= expected && items.some((m) => m.payload['auto_revert'] === true), 20_000, `${expected} messages and the expiry revert`);
      const log = (await store.history({ limit: 100 })).filter((e) => BigInt(e.position) > from).reverse();
      assert.equal(log.length, expected);
      assert.equal(received.items.length, expected, 'exactly one message per change');
      // Same order, same positions, each on its subject.
      assert.deepEqual(
        received.items.map((m) => [m.payload['position'], m.subject]),
        log.map((e) => [e.position, `${bus.prefix}.${e.kind === 'state' ? 'state' : 'reloaded'}.${e.ruleId}`]),
      );
      // prev_position chains every message to the one before it.
      let prev = from.toString();
      for (const m of received.items) {
        assert.equal(m.payload['prev_position'], prev);
        prev = String(m.payload['position']);
      }
      const seeds = received.items.map((m) => seed(m.payload));
      assert.deepEqual(seeds.slice(0, 5), [
        { rule_id: rule, rule_version: 1 },
        { rule_id: rule, rule_version: 2 },
        { rule_id: rule, state: 'disabled', set_by: 'alice' },
        { rule_id: rule, state: 'clipped', set_by: 'bob' },
        { rule_id: rule, state: 'enabled', set_by: 'carol' },
      ]);
      assert.deepEqual(seeds.slice(5, 10), [1, 2, 3, 4, 5].map((i) => ({ rule_id: `${rule}_b${i}`, rule_version: 1 })));
      assert.deepEqual(seeds.slice(10), [
        { rule_id: rule, deleted: true },
        { rule_id: `${rule}_x`, rule_version: 1 },
        { rule_id: `${rule}_x`, state: 'disabled', set_by: 'erin' },
        { rule_id: `${rule}_x`, auto_revert: true },
      ]);
      // The whole change rides along for bus-fed engines.
      const clipped = received.items[3]!.payload['change'] as Record<string, unknown>;
      assert.equal(clipped['kind'], 'state');
      assert.deepEqual((clipped['state'] as Record<string, unknown>)['confidenceMax'], 0.3);
      const definition = received.items[1]!.payload['change'] as Record<string, Record<string, unknown>>;
      assert.equal(definition['rule']!['ruleVersion'], 2);
      assert.equal((received.items[13]!.payload['change'] as Record<string, unknown>)['expired'], true);

      // The bridge reported the same, and its checkpoint follows what was acknowledged.
      await events.waitFor((all) => all.filter((e) => e.type === 'published').length >= expected, 5000, 'published events');
      const consumer = await store.consumer(`bridge-${mode}`);
      await events.waitFor((all) => all.some((e) => e.type === 'checkpoint' && e.position === prev), 5000, 'the checkpoint of the last position');
      assert.equal(await consumer.position(), prev);
      if (mode === 'jetstream') {
        const stored = await readStream(nc, bus.stream);
        assert.equal(stored.length, expected);
        assert.deepEqual(
          stored.map((m) => m.header.get('Nats-Msg-Id')),
          log.map((e) => e.position),
          'the position is the message id',
        );
      }
      events.stop();
      received.stop();
    });
  });
}

test('a stored row that does not compile is not published; the chain of prev_position skips it', async () => {
  const bus = uniqueBus('badrow');
  streams.push(bus.stream);
  const bridge = await bridgeToNats(store, { nats: NATS_URL, name: 'bridge-badrow', subjectPrefix: bus.prefix, jetstream: { stream: bus.stream } });
  try {
    const received = await listen(nc, `${bus.prefix}.>`);
    const from = store.position();
    await store.upsertRule(ruleYaml('BAD1'));
    const raw = (await import('postgres')).default(db.url, { max: 1, onnotice: () => {} });
    await raw`UPDATE ttp_rule SET yaml_content = 'rule_id: [unclosed' WHERE rule_id = 'BAD1'`;
    await raw.end();
    await store.upsertRule(ruleYaml('BAD2'));
    await received.waitFor((items) => items.some((m) => m.payload['rule_id'] === 'BAD2'), 15_000, 'the change after the bad row');
    assert.deepEqual(
      received.items.map((m) => m.payload['rule_id']),
      ['BAD1', 'BAD2'],
    );
    assert.equal(received.items[0]!.payload['prev_position'], from);
    assert.equal(received.items[1]!.payload['prev_position'], received.items[0]!.payload['position']);
    assert.ok(BigInt(String(received.items[1]!.payload['position'])) - BigInt(String(received.items[0]!.payload['position'])) >= 2n, 'the bad row held a position in between');
    received.stop();
  } finally {
    await bridge.stop();
  }
});
