import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { bridgeToNats, openRuleStore, type NatsBridgeEvent, type RuleChange, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, readLogPositions, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';
import { createPrivateNats, eventually, readStream, type PrivateNats } from './natsFixture.js';

// The shared server must not be stopped (other test files use it): this file
// runs its own nats-server on a free port, in a temp dir, and stops it at will.
let db: TestDatabase;
let store: RuleStore;
let nats: PrivateNats;

before(async () => {
  db = await createTestDatabase('bridge_natsdown');
  store = await openRuleStore({ url: db.url });
  nats = await createPrivateNats('down');
});
after(async () => {
  await store.close();
  await nats.dispose();
  await db.drop();
});

const logPositions = (after: string): Promise<string[]> => readLogPositions(db.url, after);

test('NATS down at start and stopped mid-stream: the store keeps working, the bridge waits, then publishes everything exactly once', async () => {
  const bridge = await bridgeToNats(store, { nats: nats.url, name: 'down-bridge', jetstream: { stream: 'DOWN' }, retryMaxMs: 500, checkpointIntervalMs: 50, maxBuffered: 16 });
  const events = collect<NatsBridgeEvent>(bridge.events$);
  const others = collect<RuleChange>(store.changesSince(store.position()));
  const from = bridge.state().lastPublished;
  let client: NatsConnection | null = null;
  try {
    // 1. Nothing listens on the port: writes and other consumers go on; the bridge waits.
    for (let i = 0; i < 100; i++) await store.upsertRule(ruleYaml(`D${i % 20}`, { version: i + 1 }));
    await others.waitForCount(100, 10_000);
    assert.equal(bridge.state().status, 'connecting');
    assert.equal(bridge.state().published, 0);
    assert.equal(bridge.state().checkpoint, from, 'nothing checkpointed while nothing was published');
    assert.equal(bridge.state().queued, 16, 'the read-ahead stops at maxBuffered: the log is the buffer');

    // 2. NATS comes up: the bridge connects and catches up.
    await nats.start();
    const firstHundred = await logPositions(from);
    await events.waitFor((all) => all.some((e) => e.type === 'published' && e.position === firstHundred.at(-1)), 20_000, 'the backlog published');
    client = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    assert.equal((await readStream(client, 'DOWN')).length, 100);

    // 3. NATS stopped in the middle of a stream of writes, then started again.
    const publishedSoFar = (): number => events.items.filter((e) => e.type === 'published').length;
    const writing = (async () => {
      for (let i = 0; i < 300; i++) await store.upsertRule(ruleYaml(`E${i % 20}`, { version: i + 1 }));
    })();
    await events.waitFor(() => publishedSoFar() >= 150, 20_000, 'the stream under way');
    await nats.kill('SIGTERM');
    await events.waitFor((all) => all.some((e) => e.type === 'status' && e.status === 'disconnected'), 10_000, 'the bridge to notice');
    await writing; // the store never noticed
    await others.waitForCount(400, 10_000);
    assert.ok(publishedSoFar() < 400, 'changes were left to publish while NATS was down');
    await nats.start();
    const all = await logPositions(from);
    assert.equal(all.length, 400);
    await events.waitFor((items) => items.some((e) => e.type === 'published' && e.position === all.at(-1)), 30_000, 'everything published after the restart');
    await eventually(async () => (await readStream(client!, 'DOWN')).length >= 400, 10_000, '400 messages on the stream');
    const stored = await readStream(client, 'DOWN');
    assert.deepEqual(
      stored.map((m) => m.header.get('Nats-Msg-Id')),
      all,
      'every position once, in order: nothing skipped, nothing doubled',
    );
    // Publish failures were reported as the bridge's own errors, never thrown.
    assert.ok(events.items.some((e) => e.type === 'error' && e.error.code === 'FEED_ERROR') || events.items.some((e) => e.type === 'status' && e.status === 'disconnected'));
    await events.waitFor((items) => items.some((e) => e.type === 'checkpoint' && e.position === all.at(-1)), 10_000, 'the final checkpoint');
  } finally {
    events.stop();
    others.stop();
    await bridge.stop();
    await client?.close();
  }
});
