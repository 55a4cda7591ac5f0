import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { bridgeToNats, openRuleStore, type NatsBridgeEvent, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { createTestDatabase, readLogPositions, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';
import { NATS_URL, connectShared, deleteStream, eventually, listen, readStream, uniqueBus } from './natsFixture.js';

let db: TestDatabase;
let store: RuleStore;
let nc: NatsConnection;
const streams: string[] = [];

before(async () => {
  db = await createTestDatabase('bridge_restart');
  store = await openRuleStore({ url: db.url });
  nc = await connectShared();
});
after(async () => {
  for (const stream of streams) await deleteStream(nc, stream);
  await nc.close();
  await store.close();
  await db.drop();
});

interface Published {
  kind: string;
  position: string;
  duplicate: boolean;
}

const publishedLines = (proc: CliProcess): Published[] =>
  proc.lines.map((line) => JSON.parse(line) as Published).filter((value) => value.kind === 'published');

const logPositions = (after: string): Promise<string[]> => readLogPositions(db.url, after);

async function logHead(): Promise<string> {
  const raw = (await import('postgres')).default(db.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await raw`SELECT coalesce(max(position), 0)::text AS p FROM ttp_rule_event`;
    return String(row!['p']);
  } finally {
    await raw.end();
  }
}

test('ttp-rules bridge killed (SIGKILL) and restarted mid-stream: no loss, no duplicate on JetStream', async () => {
  const bus = uniqueBus('restart');
  streams.push(bus.stream);
  const name = 'killed-bridge';
  // Register the consumer first, so every bridge run resumes from a checkpoint and nothing written is skipped.
  const consumer = await store.consumer(name);
  const from = (await consumer.position())!;
  const spawned: CliProcess[] = [];
  const bridgeCli = (extra: string[]): CliProcess => {
    const proc = spawnCli(args(...extra));
    spawned.push(proc);
    return proc;
  };
  const args = (...extra: string[]): string[] => ['bridge', '--db', db.url, '--nats', NATS_URL, '--name', name, '--stream', bus.stream, '--subject-prefix', bus.prefix, '--json', ...extra];
  const core = await listen(nc, `${bus.prefix}.>`);

  // The writer keeps writing through both kills and restarts: every kill lands mid-stream.
  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      await store.upsertRule(ruleYaml(`K${written % 40}`, { version: written + 1 }));
      written++;
    }
  })();

  try {
    // Run 1 never stores a checkpoint: its kill lands between publish and checkpoint for everything it sent.
    const first = bridgeCli(['--checkpoint-every', '1000000', '--checkpoint-interval', '3600000']);
    await first.waitForJson((v: Published) => v.kind === 'published' && publishedLines(first).length >= 100, 30_000, '100 publishes of run 1');
    first.child.kill('SIGKILL');
    const killed1 = await first.exited;
    assert.equal(killed1.signal, 'SIGKILL');
    const sentByFirst = publishedLines(first);
    assert.equal(await consumer.position(), from, 'run 1 stored no checkpoint');
    const writtenAtKill1 = written;

    // Run 2 republishes what run 1 sent (JetStream drops the duplicates by message id), and is killed mid-stream too.
    const second = bridgeCli(['--checkpoint-every', '50']);
    await second.waitForJson((v: Published) => v.kind === 'published' && publishedLines(second).length >= sentByFirst.length + 100 && written > writtenAtKill1, 30_000, 'run 2 past run 1');
    second.child.kill('SIGKILL');
    await second.exited;
    const sentBySecond = publishedLines(second);
    // Run 1 may have published a few more than it printed before the kill: those are duplicates too.
    const duplicates = sentBySecond.filter((p) => p.duplicate).map((p) => p.position);
    assert.ok(duplicates.length >= sentByFirst.length);
    assert.deepEqual(duplicates.slice(0, sentByFirst.length), sentByFirst.map((p) => p.position), 'everything run 1 sent was republished and recognised as a duplicate');
    assert.deepEqual(sentBySecond.slice(0, duplicates.length).map((p) => p.position), duplicates, 'the duplicates are exactly the republished head of run 2');
    // (Printed lines may lag: stdout to a pipe is asynchronous, and a SIGKILL drops what is buffered.)
    const checkpointAtKill2 = BigInt((await consumer.position())!);
    const onStream = (await readStream(nc, bus.stream)).map((m) => BigInt(m.header.get('Nats-Msg-Id')));
    assert.ok(checkpointAtKill2 === BigInt(from) || onStream.includes(checkpointAtKill2), 'the checkpoint never runs ahead of what the stream acknowledged');

    // Run 3 resumes from run 2's checkpoint, finishes the job and stops cleanly.
    const third = bridgeCli([]);
    const lastOfSecond = BigInt(sentBySecond.at(-1)!.position);
    await third.waitForJson((v: Published) => v.kind === 'published' && BigInt(v.position) > lastOfSecond && !v.duplicate, 30_000, 'run 3 past run 2');
    writing = false;
    await writer;
    const positions = await logPositions(from);
    assert.equal(positions.length, written);
    assert.ok(written > sentBySecond.length + 100, `writes went on through the kills (${written} written)`);
    const last = positions.at(-1)!;
    await third.waitForJson((v: Published) => v.kind === 'published' && v.position === last, 60_000, 'the last position from run 3');
    const stopped = await third.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(await consumer.position(), last, 'a clean stop stores the checkpoint');

    const stored = await readStream(nc, bus.stream);
    assert.equal(stored.length, positions.length, 'one stream message per change');
    assert.deepEqual(
      stored.map((m) => m.header.get('Nats-Msg-Id')),
      positions,
      'every position once, in log order',
    );
    // Core subscribers may see a republished message twice, never miss one.
    await core.waitFor((items) => items.some((m) => m.payload['position'] === last), 10_000, 'the last message on the core subscription');
    assert.deepEqual([...new Set(core.items.map((m) => String(m.payload['position'])))].sort((a, b) => Number(a) - Number(b)), positions);
  } finally {
    writing = false;
    await writer.catch(() => {});
    for (const proc of spawned) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    core.stop();
  }
});

test('two bridges on the same stream (an HA pair): JetStream stores each position once', async () => {
  const bus = uniqueBus('hapair');
  streams.push(bus.stream);
  const options = { nats: NATS_URL, subjectPrefix: bus.prefix, jetstream: { stream: bus.stream } };
  const a = await bridgeToNats(store, { ...options, name: 'pair-a' });
  const b = await bridgeToNats(store, { ...options, name: 'pair-b' });
  const eventsA = collect<NatsBridgeEvent>(a.events$);
  const eventsB = collect<NatsBridgeEvent>(b.events$);
  try {
    const from = await logHead();
    for (let i = 0; i < 50; i++) await store.setState(`HA${i % 5}`, i % 2 ? 'disabled' : 'enabled', `op${i}`);
    const positions = await logPositions(from);
    const last = positions.at(-1)!;
    const publishedUpTo = (all: readonly NatsBridgeEvent[]): boolean => all.some((e) => e.type === 'published' && e.position === last);
    await eventsA.waitFor(publishedUpTo, 15_000, 'bridge A done');
    await eventsB.waitFor(publishedUpTo, 15_000, 'bridge B done');
    const mine = new Set(positions);
    const dupes = [...eventsA.items, ...eventsB.items].filter((e) => e.type === 'published' && e.duplicate && mine.has(e.position)).length;
    assert.equal(dupes, 50, 'each position was published twice and stored once');
    await eventually(async () => (await readStream(nc, bus.stream)).length >= 50, 5000, 'the stream');
    assert.deepEqual(
      (await readStream(nc, bus.stream)).map((m) => m.header.get('Nats-Msg-Id')),
      positions,
    );
  } finally {
    eventsA.stop();
    eventsB.stop();
    await a.stop();
    await b.stop();
  }
});
