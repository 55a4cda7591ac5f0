import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import postgres from 'postgres';
import type { NatsConnection } from 'nats';
import {
  bridgeToNats,
  createRuleIndex,
  createSharedStoreSource,
  openRuleStore,
  ruleIndexFromJson,
  ruleIndexToJson,
  watchRules,
  watchRulesFromNats,
  type BusEngineEvent,
  type NatsBridge,
  type RuleIndex,
  type RulePredicate,
  type RuleStore,
  RuleValidationError,
} from '../../src/index.js';
import { collect, type Collector } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';
import { NATS_URL, connectShared, createPrivateNats, deleteStream, eventually, uniqueBus, type PrivateNats } from './natsFixture.js';

let db: TestDatabase;
let store: RuleStore;
let nc: NatsConnection;
let admin: postgres.Sql;
const streams: string[] = [];

/** What a bus-fed worker passes: a store opened per read, polling (no LISTEN), closed right after. */
const openForRead = (): Promise<RuleStore> => openRuleStore({ url: db.url, transport: 'poll', revertExpired: false });

before(async () => {
  db = await createTestDatabase('bus_engine');
  store = await openRuleStore({ url: db.url });
  nc = await connectShared();
  admin = postgres(db.url, { max: 1, onnotice: () => {} });
  await store.upsertRules(Array.from({ length: 30 }, (_, i) => ({ yaml: ruleYaml(`R${i}`, { appliesTo: KINDS[i % KINDS.length]! }) })));
  await store.setState('R1', 'disabled', 'seed');
  await store.setState('R2', { state: 'clipped', confidenceMax: 0.2 }, 'seed');
});
after(async () => {
  for (const stream of streams) await deleteStream(nc, stream);
  await nc.close();
  await admin.end();
  await store.close();
  await db.drop();
});

const KINDS = [['command'], ['http_request'], ['command', 'auth_attempt'], ['auth_attempt']];
const all: RulePredicate = () => true;
const commandOnly: RulePredicate = (r) => r.appliesTo.includes('command');

/** An index as comparable JSON: rules (with state) by id, and ids by kind. */
const normalise = (index: RuleIndex): unknown =>
  JSON.parse(
    JSON.stringify({
      rules: [...index.byId.values()].sort((a, b) => a.ruleId.localeCompare(b.ruleId)),
      kinds: [...index.byKind].sort(([a], [b]) => a.localeCompare(b)).map(([k, rules]) => [k, rules.map((r) => r.ruleId)]),
    }),
  );
const expected = async (predicate: RulePredicate): Promise<unknown> => {
  const snapshot = await store.snapshot();
  return normalise(createRuleIndex(snapshot.position, snapshot.rules, predicate));
};
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
async function converges(indexes: Collector<RuleIndex>, predicate: RulePredicate, what: string): Promise<void> {
  await eventually(async () => indexes.items.length > 0 && same(normalise(indexes.items.at(-1)!), await expected(predicate)), 20_000, what);
}

/** A small deterministic PRNG, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

async function randomEdits(count: number, seed: number): Promise<void> {
  const next = random(seed);
  const pick = (n: number): number => Math.floor(next() * n);
  const versions = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const id = `R${pick(40)}`;
    const roll = next();
    if (roll < 0.35) {
      const version = (versions.get(id) ?? 1) + 1;
      versions.set(id, version);
      await store.upsertRule(ruleYaml(id, { version, appliesTo: KINDS[pick(KINDS.length)]! }));
    } else if (roll < 0.45) {
      await store.deleteRule(id);
    } else if (roll < 0.7) {
      await store.setState(id, pick(2) ? 'disabled' : { state: 'clipped', confidenceMax: Math.round(next() * 100) / 100, reason: `r${i}` }, `op${i}`);
    } else if (roll < 0.8) {
      await store.clearState(id, `op${i}`);
    } else if (roll < 0.9) {
      const ids = [pick(40), pick(40), pick(40)].map((n) => `R${n}`).filter((v, j, a) => a.indexOf(v) === j);
      await store.upsertRules(ids.map((rid) => ({ yaml: ruleYaml(rid, { version: (versions.get(rid) ?? 1) + 100 + i, appliesTo: KINDS[pick(KINDS.length)]! }) })));
    } else {
      // Reverted on time by the bridge's store, and published as auto_revert.
      await store.setState(id, { state: 'disabled', expiresAt: new Date(Date.now() + 50 + pick(300)) }, `op${i}`);
    }
  }
}

describe('a bus-fed engine on the shared NATS', () => {
  let bridge: NatsBridge;
  let bus: { prefix: string; stream: string };

  before(async () => {
    bus = uniqueBus('engine');
    streams.push(bus.stream);
    bridge = await bridgeToNats(store, { nats: NATS_URL, name: 'engine-bridge', subjectPrefix: bus.prefix, jetstream: { stream: bus.stream } });
  });
  after(async () => bridge.stop());

  test('converges to the database after random edits, like watchRules, with no LISTEN and no connection held', async () => {
    const connections = async (): Promise<number> => Number((await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name}`)[0]!['n']);
    // Fill the test's own store pools first (4 read and 2 write connections), so any connection above the baseline is an engine's.
    await Promise.all(Array.from({ length: 12 }, () => store.snapshot()));
    await Promise.all(Array.from({ length: 6 }, (_, i) => store.setState(`POOLFILL${i}`, 'disabled', 'test')));
    const baseline = await connections();
    const events: BusEngineEvent[] = [];
    const engines = [all, commandOnly, all].map((predicate) => collect(watchRulesFromNats(openForRead, { nats: NATS_URL, subjectPrefix: bus.prefix, predicate, onEvent: (e) => events.push(e) })));
    const direct = collect(watchRules(store));
    try {
      for (const engine of engines) await engine.waitForCount(1, 15_000);
      await direct.waitForCount(1);

      await randomEdits(300, 7);
      await converges(engines[0]!, all, 'engine 1 to converge');
      await converges(engines[1]!, commandOnly, 'engine 2 (command rules) to converge');
      await converges(engines[2]!, all, 'engine 3 to converge');
      await eventually(async () => same(normalise(direct.items.at(-1)!), normalise(engines[0]!.items.at(-1)!)), 10_000, 'watchRules and the bus-fed engine to agree');
      assert.ok(engines.every((e) => e.items.every((index) => Object.isFrozen(index))));
      assert.deepEqual(
        events.filter((e) => e.type === 'catch-up' && e.target !== null),
        [],
        'no gap on a healthy bus: every change came from NATS',
      );
      // One LISTEN connection in all: the bridge's store. The engines hold none between reads.
      const listening = await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name} AND application_name = 'ttp-rule-store:listen'`;
      assert.equal(listening[0]!['n'], 1);
      await eventually(async () => (await connections()) === baseline, 10_000, `the engines to hold no database connection (baseline ${baseline})`);
    } finally {
      for (const engine of engines) engine.stop();
      direct.stop();
    }
  });

  test('a transaction reaches a bus-fed engine whole: a psql swap and a 200-rule batch are one index each', async () => {
    const engine = collect(watchRulesFromNats(openForRead, { nats: NATS_URL, subjectPrefix: bus.prefix }));
    try {
      await store.upsertRule(ruleYaml('BX_OLD'));
      await engine.waitFor((items) => items.some((i) => i.byId.has('BX_OLD')), 15_000, 'the old rule');
      const from = engine.items.length;
      await admin.begin(async (tx) => {
        await tx`DELETE FROM ttp_rule WHERE rule_id = 'BX_OLD'`;
        await tx`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('BX_NEW', 1, 'psql', ${ruleYaml('BX_NEW')}, 'op')`;
      });
      const ids = Array.from({ length: 200 }, (_, i) => `BXB${i}`);
      await store.upsertRules(ids.map((id) => ({ yaml: ruleYaml(id) })));
      await store.upsertRule(ruleYaml('BX_SENTINEL'));
      await engine.waitFor((items) => items.some((i) => i.byId.has('BX_SENTINEL')), 15_000, 'the sentinel');
      const seen = engine.items.slice(from);
      for (const index of seen) {
        assert.ok(index.byId.has('BX_NEW') && !index.byId.has('BX_OLD'), `index @${index.position} holds half the swap`);
        const held = ids.filter((id) => index.byId.has(id)).length;
        assert.ok(held === 0 || held === ids.length, `index @${index.position} holds ${held} of the 200-rule transaction`);
      }
    } finally {
      engine.stop();
    }
  });

  test('engines in one process share one store for their reads (createSharedStoreSource)', async () => {
    let opened = 0;
    let open = 0;
    let peak = 0;
    const source = createSharedStoreSource(async () => {
      opened++;
      peak = Math.max(peak, ++open);
      const s = await openForRead();
      return new Proxy(s, { get: (t, k) => (k === 'close' ? async () => (open--, t.close()) : Reflect.get(t, k)) });
    }, { idleMs: 0 });
    const engines = Array.from({ length: 20 }, () => collect(watchRulesFromNats(source, { nats: NATS_URL, subjectPrefix: bus.prefix })));
    try {
      for (const engine of engines) await engine.waitForCount(1, 15_000);
      await randomEdits(20, 5);
      for (const engine of engines) await converges(engine, all, 'every sharing engine to converge');
      assert.equal(peak, 1, 'one store at a time for 20 engines');
      assert.ok(opened <= 2, `stores opened: ${opened}`);
      await eventually(async () => open === 0, 5000, 'the shared store to close once idle');
    } finally {
      for (const engine of engines) engine.stop();
    }
  });

  test('warm restart from a saved index: catches up what changed while it was down', async () => {
    const first = collect(watchRulesFromNats(openForRead, { nats: NATS_URL, subjectPrefix: bus.prefix }));
    let saved: Parameters<typeof ruleIndexFromJson>[0];
    try {
      await first.waitForCount(1, 15_000);
      saved = JSON.parse(JSON.stringify(ruleIndexToJson(first.items.at(-1)!)));
    } finally {
      first.stop();
    }
    await randomEdits(40, 11);
    const events: BusEngineEvent[] = [];
    const resumed = collect(watchRulesFromNats(openForRead, { nats: NATS_URL, subjectPrefix: bus.prefix, from: ruleIndexFromJson(saved), onEvent: (e) => events.push(e) }));
    try {
      await converges(resumed, all, 'the resumed engine to converge');
      assert.ok(events.some((e) => e.type === 'caught-up' && e.changes > 0), 'the changes made while it was down came from the database');
    } finally {
      resumed.stop();
    }
  });

  test('a store kept open is a source as is; a catch-up reads the log page by page and publishes a transaction larger than a page whole', async () => {
    const ids = Array.from({ length: 1200 }, (_, i) => `BIG${i}`);
    await store.upsertRules(ids.map((id) => ({ yaml: ruleYaml(id) })));
    const kept = await openRuleStore({ url: db.url, transport: 'poll', revertExpired: false });
    const events: BusEngineEvent[] = [];
    // From an empty index at 0: the whole log comes from the database, at most 1,000 events a page.
    const engine = collect(watchRulesFromNats(kept, { nats: NATS_URL, subjectPrefix: bus.prefix, from: createRuleIndex('0', []), onEvent: (e) => events.push(e) }));
    try {
      await converges(engine, all, 'the engine fed by a kept store to converge');
      for (const index of engine.items) {
        const held = ids.filter((id) => index.byId.has(id)).length;
        assert.ok(held === 0 || held === ids.length, `index @${index.position} holds ${held} of the 1,200-rule transaction`);
      }
      assert.ok(events.some((e) => e.type === 'caught-up' && e.changes > ids.length), 'the log came from the database');
      await randomEdits(10, 17);
      await converges(engine, all, 'the engine fed by a kept store to follow the bus');
    } finally {
      engine.stop();
    }
    assert.ok((await kept.snapshot()).rules.length > ids.length, 'the engine leaves the store it was given open');
    await kept.close();
    await store.deleteRules(ids);
  });

  test('a catch-up reports an event of the log that does not decode as an error event, and goes on', async () => {
    const before = await store.snapshot();
    await admin`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ('BADROW1', 1, 'psql', 'rule_id: [unclosed', 'op')`;
    await store.upsertRule(ruleYaml('AFTERBAD1'));
    const events: BusEngineEvent[] = [];
    // Resumed from before the bad row: the catch-up reads it from the log (the bridge never publishes it).
    const engine = collect(watchRulesFromNats(openForRead, { nats: NATS_URL, subjectPrefix: bus.prefix, from: createRuleIndex(before.position, before.rules), onEvent: (e) => events.push(e) }));
    try {
      await converges(engine, all, 'the engine to converge past the bad row');
      assert.ok(engine.items.at(-1)!.byId.has('AFTERBAD1') && !engine.items.at(-1)!.byId.has('BADROW1'));
      const reported = events.flatMap((e) => (e.type === 'error' ? [e.error] : []));
      assert.deepEqual(
        reported.map((error) => [error.code, (error as { ruleId?: string }).ruleId]),
        [['RULE_INVALID', 'BADROW1']],
      );
      const error = reported[0];
      assert.ok(error instanceof RuleValidationError && error.position !== null && BigInt(error.position) > BigInt(before.position), 'the error names the position of the bad row');
    } finally {
      engine.stop();
      await admin`DELETE FROM ttp_rule WHERE rule_id = 'BADROW1'`;
    }
  });
});

describe('the gap check', () => {
  test('a dropped message is read from the database; old, duplicate and forged messages change nothing', async () => {
    const upstream = uniqueBus('relayin');
    const downstream = uniqueBus('relayout');
    streams.push(upstream.stream);
    const bridge = await bridgeToNats(store, { nats: NATS_URL, name: 'relay-bridge', subjectPrefix: upstream.prefix, jetstream: false });
    // A relay between the bridge and the engine that can lose a message on purpose.
    let drop: ((payload: Record<string, unknown>) => boolean) | null = null;
    const seen: { subject: string; data: Uint8Array; payload: Record<string, unknown> }[] = [];
    const relay = nc.subscribe(`${upstream.prefix}.>`, {
      callback: (_error, msg) => {
        const payload = JSON.parse(new TextDecoder().decode(msg.data)) as Record<string, unknown>;
        const subject = downstream.prefix + msg.subject.slice(upstream.prefix.length);
        seen.push({ subject, data: msg.data, payload });
        if (drop?.(payload)) {
          drop = null;
          return;
        }
        nc.publish(subject, msg.data);
      },
    });
    await nc.flush();
    const events: BusEngineEvent[] = [];
    const engine = collect(watchRulesFromNats(openForRead, { nats: NATS_URL, subjectPrefix: downstream.prefix, onEvent: (e) => events.push(e) }));
    try {
      await engine.waitForCount(1, 15_000);
      const latest = (): RuleIndex => engine.items.at(-1)!;
      const barrier = async (id: string): Promise<void> => {
        await store.upsertRule(ruleYaml(id, { version: Date.now() % 1_000_000 }));
        await engine.waitFor(() => latest().byId.has(id), 15_000, `the engine to see ${id}`);
      };

      // 1. The state change on G1 never reaches the engine; the next message exposes the gap.
      await store.upsertRule(ruleYaml('G1', { version: 2 }));
      drop = (payload) => payload['rule_id'] === 'G1' && payload['state'] === 'disabled';
      await store.setState('G1', 'disabled', 'op');
      await store.upsertRule(ruleYaml('G2', { version: 2 }));
      await engine.waitFor(() => latest().byId.get('G2')?.ruleVersion === 2, 15_000, 'G2 v2');
      assert.equal(latest().byId.get('G1')?.state.state, 'disabled', 'the dropped change was read from the database');
      const dropped = seen.find((m) => m.payload['rule_id'] === 'G1' && m.payload['state'] === 'disabled')!;
      const gaps = events.filter((e) => e.type === 'catch-up' && e.target !== null);
      assert.equal(gaps.length, 1);
      assert.equal((gaps[0] as { target: string }).target, String(dropped.payload['position']), 'the next message pointed at the dropped one');
      const caughtUp = events[events.indexOf(gaps[0]!) + 1];
      assert.deepEqual(caughtUp, { type: 'caught-up', position: String(dropped.payload['position']), changes: 1 }, 'the catch-up read the log up to the dropped message, no further');
      await converges(engine, all, 'the engine to converge after the gap');

      // 2. Old messages and duplicates (the snapshot and the index are past them) are dropped.
      const before = events.length;
      for (const old of seen.slice(0, 3)) nc.publish(old.subject, old.data);
      await barrier('G3');
      assert.deepEqual(events.slice(before).filter((e) => e.type === 'catch-up'), [], 'no catch-up for old messages');

      // 3. A forged message (well-formed, but its prev_position is beyond the log) is not applied.
      const head = BigInt(latest().position);
      const forged = { rule_id: 'G2', state: 'disabled', set_by: 'mallory', position: String(head + 1000n), prev_position: String(head + 999n), change: { kind: 'state', ruleId: 'G2', position: String(head + 1000n), actor: 'mallory', at: new Date().toISOString(), expired: false, state: { state: 'disabled', confidenceMax: null, expiresAt: null, reason: null, setBy: 'mallory', setAt: null } } };
      nc.publish(`${downstream.prefix}.state.G2`, JSON.stringify(forged));
      // 4. A change on another rule's subject is refused too.
      nc.publish(`${downstream.prefix}.state.G1`, JSON.stringify({ ...forged, position: String(head + 2000n), prev_position: String(head + 1999n) }));
      await eventually(async () => events.filter((e) => e.type === 'error' && /beyond the log/.test(e.error.message)).length === 2, 15_000, 'both forged messages dropped');
      await barrier('G4');
      assert.equal(latest().byId.get('G2')?.state.state, 'enabled');
      await converges(engine, all, 'the engine to converge after the forgeries');
    } finally {
      engine.stop();
      relay.unsubscribe();
      await bridge.stop();
    }
  });
});

describe('NATS restarted under a bus-fed engine', () => {
  let nats: PrivateNats;
  before(async () => {
    nats = await createPrivateNats('engine');
    await nats.start();
  });
  after(async () => nats.dispose());

  test('messages lost while NATS was down are read from the database after the reconnect', async () => {
    const bridge = await bridgeToNats(store, { nats: nats.url, name: 'restart-bridge', jetstream: { stream: 'ENGINE' }, retryMaxMs: 500 });
    const events: BusEngineEvent[] = [];
    const engine = collect(watchRulesFromNats(openForRead, { nats: nats.url, onEvent: (e) => events.push(e), retryMaxMs: 500 }));
    try {
      await engine.waitForCount(1, 15_000);
      await randomEdits(30, 21);
      await converges(engine, all, 'the engine before the restart');
      await nats.kill('SIGTERM');
      await eventually(async () => events.some((e) => e.type === 'disconnected'), 10_000, 'the engine to notice');
      const reconnectsBefore = events.filter((e) => e.type === 'catch-up' && e.target === null).length;
      await randomEdits(60, 22);
      await nats.start();
      await converges(engine, all, 'the engine after the restart');
      await eventually(async () => events.filter((e) => e.type === 'catch-up' && e.target === null).length > reconnectsBefore, 10_000, 'a catch-up after the reconnect');
    } finally {
      engine.stop();
      await bridge.stop();
    }
  });
});
