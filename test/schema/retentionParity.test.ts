import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { Backend } from '../../src/store/backend.js';
import { openPostgresBackend } from '../../src/store/postgres/postgresBackend.js';
import { openSqliteBackend } from '../../src/store/sqlite/sqliteBackend.js';
import { decodeEvent, EXPIRY_ACTOR } from '../../src/log/logEvent.js';
import { createBackendFixture, type BackendFixture, type RawDb } from '../helpers/backends.js';
import { ruleYaml } from '../helpers/rules.js';

// Revert and prune are written twice: plpgsql on Postgres (ttp_rule_revert_expired,
// migration 0005; ttp_rule_prune_log, 0006) and TypeScript over prepared statements
// on SQLite (sqliteBackend.ts). This test builds the same log on both through the
// Backend (library writes and hand edits, one multi-rule transaction among them),
// then prunes and reverts on both and holds them to the same result: the positions
// that remain (relative to where the log began), their commits (exact: the first
// position of the transaction, stored when the event was logged, even once prune
// deleted it: ttp_rule_event.commit_position, migration 0007, and
// ttp_rule_event_commit on SQLite), pruned_through and
// readable_from, and the revert events (who, and that they read as expired).

interface Side {
  readonly name: 'postgres' | 'sqlite';
  readonly backend: Backend;
  readonly raw: RawDb;
  /** The head before the script: positions are compared relative to it. */
  base: bigint;
  /** Who a hand delete is credited to: the login role on Postgres, 'sqlite' on SQLite (by design, see parity.test.ts). */
  handEditor: string;
}

const logger = pino({ level: 'silent' });
const PAST = new Date('2000-01-01T00:00:00.000Z');
const FUTURE = new Date('2999-01-01T00:00:00.000Z');
const PAGE = { limit: 1000, maxBytes: 16 * 1024 * 1024, maxRuleBytes: 1024 * 1024 };

let pgFixture: BackendFixture;
let liteFixture: BackendFixture;
let sides: Side[] = [];

before(async () => {
  pgFixture = await createBackendFixture('postgres-listen', 'retention_parity');
  liteFixture = await createBackendFixture('sqlite', 'retention_parity');
  const pg = await openPostgresBackend({ url: pgFixture.url, transport: 'poll', pollIntervalMs: 1000, safetyCheckMs: 30_000, migrate: true, logger, lockTimeoutMs: 5000 });
  const lite = await openSqliteBackend({ path: liteFixture.url.slice('sqlite:'.length), pollIntervalMs: 1000, lockTimeoutMs: 5000, migrate: true, logger });
  const pgRaw = pgFixture.raw();
  const [login] = await pgRaw.run('SELECT session_user::text AS login');
  sides = [
    { name: 'postgres', backend: pg, raw: pgRaw, base: 0n, handEditor: String(login!['login']) },
    { name: 'sqlite', backend: lite, raw: liteFixture.raw(), base: 0n, handEditor: 'sqlite' },
  ];
});
after(async () => {
  for (const side of sides) await side.backend.close().catch(() => {});
  await Promise.all([pgFixture?.teardown(), liteFixture?.teardown()]);
});

const rule = (ruleId: string, version = 1) => ({ ruleId, ruleVersion: version, sourcePath: `/rules/${ruleId}.yaml`, yamlContent: ruleYaml(ruleId, { version }) });
const state = (ruleId: string, name: string, setBy: string, expiresAt: Date | null, reason: string | null = null) => ({
  ruleId,
  state: name,
  confidenceMax: name === 'clipped' ? 0.5 : null,
  expiresAt,
  reason,
  setBy,
});

/** The same edits on one backend: library writes (one of them a three-rule transaction) and a hand edit. */
async function buildLog(side: Side): Promise<void> {
  const { backend, raw } = side;
  await backend.writeRules([rule('A1'), rule('A2'), rule('A3')], 'alice'); // one transaction, three events
  await backend.writeRules([rule('A1', 2)], 'bob');
  await backend.writeState(state('A1', 'clipped', 'carol', PAST));
  await backend.writeState(state('A2', 'disabled', 'dave', PAST));
  await backend.writeState(state('A3', 'enabled', 'erin', FUTURE));
  await raw.run(`UPDATE ttp_rule SET yaml_content = $1, rule_version = 3, updated_by = 'hand' WHERE rule_id = 'A1'`, [ruleYaml('A1', { version: 3 })]);
  await backend.writeState(state('A2', 'disabled', 'dave', PAST, 'again'));
  await backend.deleteRules(['A3'], 'frank');
  await backend.writeRules([rule('A4'), rule('A5')], 'gina');
  await backend.writeState(state('A5', 'disabled', 'gina', FUTURE));
}

interface Retained {
  /** position, commit (both relative), lastInCommit, entity op rule, actor (deletes: the library's or 'hand'). */
  events: string[];
  prunedThrough: bigint;
  readableFrom: bigint;
}

const rel = (side: Side, position: bigint): bigint => (position === 0n ? 0n : position - side.base);
const actorOf = (side: Side, actor: string | null): string | null => (actor !== null && actor === side.handEditor ? 'the hand editor' : actor);

/** The log after `base` as comparable lines, commits exactly as each backend reports them. */
async function retained(side: Side): Promise<Retained> {
  const page = await side.backend.readEvents(side.base, PAGE);
  assert.equal(page.more, false, `${side.name}: the whole log fits one page`);
  return {
    events: page.events.map((e) => `${rel(side, e.position)} commit ${rel(side, e.commit)}${e.lastInCommit ? ' last' : ''}: ${e.entity} ${e.op} ${e.ruleId} by ${actorOf(side, e.actor)}`),
    prunedThrough: rel(side, await side.backend.readPrunedThrough()),
    readableFrom: rel(side, await side.backend.readReadableFrom()),
  };
}

/** Runs `fn` on both sides and asserts that they agree; returns the Postgres result. */
async function same<T>(what: string, fn: (side: Side) => Promise<T>): Promise<T> {
  const [onPg, onLite] = [await fn(sides[0]!), await fn(sides[1]!)];
  assert.deepEqual(onLite, onPg, `${what}: SQLite differs from Postgres`);
  return onPg;
}

test('the same log, pruned and reverted, leaves the same positions, retention marks and revert events on Postgres and SQLite', async () => {
  for (const side of sides) {
    side.base = await side.backend.readHead();
    await buildLog(side);
  }
  const built = await same('the log as built', retained);
  assert.equal(built.events.length, 13, 'one event per write (the transaction of three included)');
  assert.deepEqual([built.prunedThrough, built.readableFrom], [0n, 0n], 'never pruned');

  // 1. A prune through the middle of the log (position 7: the A3 state, which nothing supersedes).
  const deleted = await same('events deleted by prune(7)', (side) => side.backend.pruneLog(side.base + 7n));
  assert.equal(deleted, 4, 'every event at or below 7 that a later one supersedes: A1 at 1 and 4, A3 at 3, the A2 state at 6');
  const pruned = await same('the log after prune(7)', retained);
  assert.deepEqual(
    pruned.events,
    [
      '2 commit 1 last: rule upsert A2 by alice', // the rest of a transaction whose first (1) and last (3) events are gone: still its commit 1
      '5 commit 5 last: state upsert A1 by carol',
      '7 commit 7 last: state upsert A3 by erin', // a rule's delete leaves its state alone
      '8 commit 8 last: rule upsert A1 by hand',
      '9 commit 9 last: state upsert A2 by dave',
      '10 commit 10 last: rule delete A3 by frank',
      '11 commit 11: rule upsert A4 by gina',
      '12 commit 11 last: rule upsert A5 by gina',
      '13 commit 13 last: state upsert A5 by gina',
    ],
    'what prune(7) keeps',
  );
  assert.deepEqual([pruned.prunedThrough, pruned.readableFrom], [6n, 10n], 'pruned through the newest deleted event (6); exact from the highest successor of a deleted one (the A3 delete at 10)');

  // 2. Reverts: one rule's (not due, then due), then every due one, then nothing left.
  await same('revertExpired(A3): not expired', (side) => side.backend.revertExpired('A3'));
  assert.deepEqual(await same('revertExpired(A1)', (side) => side.backend.revertExpired('A1')), ['A1']);
  assert.deepEqual(await same('revertExpired()', async (side) => (await side.backend.revertExpired()).sort()), ['A2']);
  assert.deepEqual(await same('revertExpired() again', (side) => side.backend.revertExpired()), []);
  // A hand delete of a state that has not expired: not a revert.
  for (const side of sides) await side.raw.run(`DELETE FROM ttp_rule_state WHERE rule_id = 'A5'`);
  const reverts = await same('the revert events', async (side) => {
    const page = await side.backend.readEvents(side.base + 13n, PAGE);
    return page.events.map((event) => {
      const change = decodeEvent(event);
      assert.ok(!(change instanceof Error) && change.kind === 'state', `${side.name}: a state change`);
      return `${rel(side, event.position)}${event.lastInCommit ? ' last' : ''}: ${event.entity} ${event.op} ${event.ruleId} by ${actorOf(side, event.actor)}, expired ${change.expired}`;
    });
  });
  assert.deepEqual(reverts, [
    `14 last: state delete A1 by ${EXPIRY_ACTOR}, expired true`,
    `15 last: state delete A2 by ${EXPIRY_ACTOR}, expired true`,
    '16 last: state delete A5 by the hand editor, expired false',
  ]);

  // 3. A prune of everything: each rule and entity keeps its newest event, deletes and reverts included.
  assert.equal(await same('events deleted by prune(head)', async (side) => side.backend.pruneLog(await side.backend.readHead())), 3, 'the states the reverts and the hand delete superseded (5, 9, 13)');
  const compacted = await same('the log after prune(head)', retained);
  assert.deepEqual(
    compacted.events.map((e) => e.replace(/ by .*/, '')),
    ['2 commit 1 last: rule upsert A2', '7 commit 7 last: state upsert A3', '8 commit 8 last: rule upsert A1', '10 commit 10 last: rule delete A3', '11 commit 11: rule upsert A4', '12 commit 11 last: rule upsert A5', '14 commit 14 last: state delete A1', '15 commit 15 last: state delete A2', '16 commit 16 last: state delete A5'],
  );
  assert.deepEqual([compacted.prunedThrough, compacted.readableFrom], [13n, 16n], 'the marks only move up');

  // 4. Pruning again deletes nothing and moves neither mark.
  assert.equal(await same('events deleted by a repeated prune', async (side) => side.backend.pruneLog(await side.backend.readHead())), 0);
  assert.deepEqual(await same('the log after a repeated prune', retained), compacted);
});

// Events are immutable (SPEC §10.4): the change at a position reads the same
// whenever it is read, its commit included. Once compaction deletes the first event
// of a multi-event transaction, the changes of it that remain still report the
// original first position on both backends, although that position is no longer in
// the log (until migration 0007 Postgres reported the first retained one).
test('a change reads the same commit before and after prune deleted the first event of its transaction, on Postgres and SQLite', async () => {
  const page = { ...PAGE, limit: 10 };
  const lines = await same('the commits before and after prune', async (side) => {
    const base = await side.backend.readHead();
    await side.backend.writeRules([rule('C1'), rule('C2'), rule('C3')], 'hana'); // base+1..3, one transaction
    await side.backend.writeRules([rule('C1', 2)], 'ivan'); // base+4 supersedes the transaction's first event
    const show = async () =>
      (await side.backend.readEvents(base, page)).events.map((e) => `${e.position - base} commit ${e.commit - base}${e.lastInCommit ? ' last' : ''}: ${e.ruleId}`);
    const before = await show();
    // Reading from the middle of the transaction (after its first event) gives the same commit too.
    const fromMiddle = (await side.backend.readEvents(base + 1n, page)).events.map((e) => `${e.position - base} commit ${e.commit - base}`);
    assert.equal(await side.backend.pruneLog(base + 1n), 1, `${side.name}: prune deletes the transaction's first event`);
    const after = await show();
    return { before, fromMiddle, after };
  });
  assert.deepEqual(lines.before, ['1 commit 1: C1', '2 commit 1: C2', '3 commit 1 last: C3', '4 commit 4 last: C1']);
  assert.deepEqual(lines.fromMiddle, ['2 commit 1', '3 commit 1', '4 commit 4']);
  assert.deepEqual(lines.after, ['2 commit 1: C2', '3 commit 1 last: C3', '4 commit 4 last: C1'], 'the retained changes keep commit 1');
});
