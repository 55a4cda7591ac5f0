import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { changeJson } from '../../src/domain/changeJson.js';
import type { RuleChange, RuleStore } from '../../src/index.js';
import { BACKENDS } from '../helpers/backends.js';
import { openSse, type SseEvent } from './sseClient.js';
import { createServerFixture, type ServerFixture } from './serverFixture.js';

const isChange = (e: SseEvent): boolean => ['definition', 'deleted', 'state'].includes(e.event);

/** Makes `count` state changes through another store (another process's view), returns them once `served` has read them too. */
async function changeElsewhere(other: RuleStore, ruleIds: readonly string[], count: number, served?: RuleStore): Promise<RuleChange[]> {
  const seen: RuleChange[] = [];
  const sub = other.changes$.subscribe((c) => seen.push(c));
  for (let i = 0; i < count; i++) {
    const ruleId = ruleIds[i % ruleIds.length]!;
    await other.setState(ruleId, { state: i % 2 === 0 ? 'disabled' : 'enabled', reason: `change ${i}` }, 'elsewhere');
  }
  const head = (await other.stats()).head;
  await other.waitForPosition(head);
  await served?.waitForPosition(head);
  sub.unsubscribe();
  return seen;
}

for (const backend of BACKENDS) {
  describe(`SSE change stream (${backend})`, () => {
    let f: ServerFixture;
    let other: RuleStore;
    before(async () => {
      f = await createServerFixture(backend, 'server_sse', { replayBuffer: 20 });
      other = await f.backend.open();
    });
    after(() => f.teardown());

    it('401 without a token, 400 for a bad Last-Event-ID', async () => {
      const anonymous = await openSse(`${f.url}/api/v1/ttp/changes`);
      assert.equal(anonymous.status, 401);
      anonymous.close();
      const bad = await openSse(`${f.url}/api/v1/ttp/changes`, f.bearer('reader', { 'last-event-id': 'abc' }));
      assert.equal(bad.status, 400);
      bad.close();
      const badSince = await openSse(`${f.url}/api/v1/ttp/changes?since=-1`, f.bearer('reader'));
      assert.equal(badSince.status, 400);
      badSince.close();
    });

    it('ready once live, then each change as id: position, event: kind, data: the watch --json object; heartbeats', async () => {
      const client = await openSse(`${f.url}/api/v1/ttp/changes`, f.bearer('reader'));
      try {
        assert.equal(client.status, 200);
        assert.match(String(client.headers['content-type']), /^text\/event-stream/);
        assert.match(String(client.headers['content-security-policy']), /default-src 'none'/);
        const ready = await client.waitFor((e) => e.event === 'ready', 10_000, 'ready');
        assert.equal(JSON.parse(ready.data).kind, 'ready');
        const [change] = await changeElsewhere(other, f.ruleIds, 1);
        const event = await client.waitFor(isChange, 10_000, 'the change');
        assert.equal(event.id, change!.position);
        assert.equal(event.event, 'state');
        assert.deepEqual(JSON.parse(event.data), JSON.parse(JSON.stringify(changeJson(change!))));
        assert.ok(BigInt(event.id!) > BigInt(JSON.parse(ready.data).position));
        assert.equal(await client.waitForComment(5000), 'heartbeat');
      } finally {
        client.close();
      }
    });

    it('drop the connection, 50 changes elsewhere, reconnect with Last-Event-ID: exactly those 50, in order', async () => {
      const first = await openSse(`${f.url}/api/v1/ttp/changes`, f.bearer('reader'));
      await first.waitFor((e) => e.event === 'ready');
      await changeElsewhere(other, f.ruleIds, 1);
      const lastSeen = (await first.waitFor(isChange)).id!;
      first.close();
      const missed = await changeElsewhere(other, f.ruleIds, 50, f.store);
      assert.equal(missed.length, 50);
      // replayBuffer is 20: the resume runs on its own changesSince, then joins the shared stream.
      const again = await openSse(`${f.url}/api/v1/ttp/changes`, f.bearer('reader', { 'last-event-id': lastSeen }));
      try {
        const ready = await again.waitFor((e) => e.event === 'ready', 15_000, 'ready after the catch-up');
        const got = await again.waitForCount(isChange, 50, 15_000);
        assert.deepEqual(got.map((e) => e.id), missed.map((c) => c.position));
        assert.deepEqual(got.map((e) => JSON.parse(e.data)), JSON.parse(JSON.stringify(missed.map(changeJson))));
        assert.equal(JSON.parse(ready.data).position, missed.at(-1)!.position);
        // And it is live afterwards, on the shared stream.
        const [next] = await changeElsewhere(other, f.ruleIds, 1);
        const live = await again.waitFor((e) => e.id === next!.position, 10_000, 'the live change');
        assert.equal(live.event, 'state');
        assert.equal(again.events.filter(isChange).length, 51);
      } finally {
        again.close();
      }
      // A resume inside the buffer is served from memory: ?since= works the same.
      const recent = missed.at(-5)!.position;
      const fromBuffer = await openSse(`${f.url}/api/v1/ttp/changes?since=${recent}`, f.bearer('reader'));
      try {
        await fromBuffer.waitFor((e) => e.event === 'ready');
        assert.deepEqual(fromBuffer.events.filter(isChange).map((e) => e.id), [...missed.slice(-4).map((c) => c.position), (await f.store.stats()).head]);
      } finally {
        fromBuffer.close();
      }
    });

    it('many clients share one store subscription', async () => {
      const baseline = (await f.store.stats()).subscribers;
      const clients = await Promise.all(Array.from({ length: 25 }, () => openSse(`${f.url}/api/v1/ttp/changes`, f.bearer('reader'))));
      try {
        await Promise.all(clients.map((c) => c.waitFor((e) => e.event === 'ready')));
        assert.equal((await f.store.stats()).subscribers, baseline);
        const [change] = await changeElsewhere(other, f.ruleIds, 1);
        await Promise.all(clients.map((c) => c.waitFor((e) => e.id === change!.position)));
        const metrics = await (await fetch(`${f.url}/metrics`)).text();
        assert.match(metrics, /^ttp_rules_sse_clients 25$/m);
      } finally {
        for (const client of clients) client.close();
      }
    });

    if (backend === 'sqlite') {
      it('from below the retained log: a truncated event, then the compacted resync', async () => {
        await changeElsewhere(other, f.ruleIds, 10);
        const pruned = await f.store.prune({ keepCount: 1, force: true });
        assert.ok(pruned.deleted > 0);
        const client = await openSse(`${f.url}/api/v1/ttp/changes?since=0`, f.bearer('reader'));
        try {
          await client.waitFor((e) => e.event === 'ready', 15_000, 'ready');
          assert.equal(client.events[0]!.event, 'truncated');
          assert.equal(JSON.parse(client.events[0]!.data).code, 'LOG_TRUNCATED');
          const defs = client.events.filter((e) => e.event === 'definition').map((e) => JSON.parse(e.data).ruleId);
          assert.deepEqual([...new Set(defs)].sort(), f.ruleIds);
        } finally {
          client.close();
        }
      });
    }
  });
}
