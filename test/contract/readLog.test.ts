import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_MAX_RULE_BYTES } from '../../src/domain/compileRule.js';
import { RuleValidationError, type ReadLogResult, type RuleChange, type RuleStore, type RuleStoreError } from '../../src/index.js';
import { BACKENDS, createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

/** A valid rule of about `bytes` bytes (a YAML comment pads it). */
const paddedRule = (ruleId: string, bytes: number, version = 1): string => `${ruleYaml(ruleId, { version })}\n# ${'x'.repeat(bytes)}\n`;

/** Every page from `after` to the end (or `upTo`), as `store.readLog` hands them out. */
async function readPages(store: RuleStore, after: string, options: Parameters<RuleStore['readLog']>[1] = {}): Promise<ReadLogResult[]> {
  const pages: ReadLogResult[] = [];
  let from = after;
  for (let i = 0; i < 10_000; i++) {
    const page = await store.readLog(from, options);
    pages.push(page);
    assert.ok(BigInt(page.through) >= BigInt(from), 'through never moves backwards');
    if (!page.more) return pages;
    assert.ok(BigInt(page.through) > BigInt(from), 'a page with more to come moves through');
    from = page.through;
  }
  throw new Error('readLog did not reach the end');
}

/** The newest position in the log (a store's own position may not have caught up with its writes yet). */
const head = async (store: RuleStore): Promise<string> => (await store.stats()).head;

const positions = (changes: readonly { position: string }[]): string[] => changes.map((c) => c.position);

for (const backend of BACKENDS) {
  describe(`readLog: one page of the log, bounded by events and bytes (${backend})`, () => {
    let fx: BackendFixture;
    let store: RuleStore;

    before(async () => {
      fx = await createBackendFixture(backend, 'readlog');
      store = await fx.open();
    });
    after(async () => fx.teardown());

    test('pages by events: every change once, in order, at most maxEvents a page, `more` until the head', async () => {
      const start = await head(store);
      for (let i = 0; i < 7; i++) await store.upsertRule(ruleYaml(`EV${i}`));
      const last = await head(store);
      const pages = await readPages(store, start, { maxEvents: 3 });
      assert.deepEqual(pages.map((p) => p.changes.length), [3, 3, 1]);
      assert.deepEqual(pages.map((p) => p.more), [true, true, false]);
      const all = pages.flatMap((p) => p.changes);
      assert.deepEqual(all.map((c) => c.ruleId), ['EV0', 'EV1', 'EV2', 'EV3', 'EV4', 'EV5', 'EV6']);
      assert.equal(pages.at(-1)!.through, last, 'the last page reads through the head');
      for (const page of pages) assert.equal(page.through, page.changes.at(-1)!.position, 'through is the last position read');
      // The same as a replay.
      const replay = collect(store.changesSince(start));
      await replay.waitForCount(7);
      assert.deepEqual(positions(all), positions(replay.items));
      replay.stop();
      // At the head: nothing, through stays.
      const empty = await store.readLog(last);
      assert.deepEqual([empty.changes.length, empty.invalid.length, empty.through, empty.more], [0, 0, last, false]);
    });

    test('pages by bytes: a page stops at maxBytes, always holds one event, and the pages join up', async () => {
      const start = await head(store);
      for (let i = 0; i < 6; i++) await store.upsertRule(paddedRule(`BY${i}`, 10_000));
      const byBytes = await readPages(store, start, { maxBytes: 25_000 });
      for (const page of byBytes) assert.ok(page.changes.length >= 1 && page.changes.length <= 3, `a page of ${page.changes.length} rules of 10 kB within 25 kB (+ one)`);
      assert.ok(byBytes.length >= 2, `${byBytes.length} pages`);
      const oneByte = await readPages(store, start, { maxBytes: 1 });
      assert.deepEqual(oneByte.map((p) => p.changes.length), [1, 1, 1, 1, 1, 1], 'a page always holds one event');
      const all = byBytes.flatMap((p) => p.changes);
      assert.deepEqual(all.map((c) => c.ruleId), ['BY0', 'BY1', 'BY2', 'BY3', 'BY4', 'BY5']);
      assert.deepEqual(positions(all), positions(oneByte.flatMap((p) => p.changes)));
    });

    test('upTo: nothing above it, `more` false at it, and through reaches it across a hole', async () => {
      const start = await head(store);
      await store.upsertRules([{ yaml: ruleYaml('UP1') }]);
      await store.upsertRules([{ yaml: ruleYaml('UP2') }]);
      if (backend !== 'sqlite') {
        // A rolled-back write takes positions that never become events: a hole.
        const raw = fx.raw();
        await raw.run('BEGIN');
        await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ('ROLLEDBACK', 1, 'x', 'psql')`);
        await raw.run('ROLLBACK');
      }
      await store.upsertRules([{ yaml: ruleYaml('UP3') }]);
      const all = (await store.readLog(start)).changes;
      assert.equal(all.length, 3);
      const [first, second] = all;
      const page = await store.readLog(start, { upTo: second!.position });
      assert.deepEqual(page.changes.map((c) => c.ruleId), ['UP1', 'UP2']);
      assert.equal(page.more, false);
      assert.equal(page.through, second!.position);
      const paged = await store.readLog(start, { upTo: second!.position, maxEvents: 1 });
      assert.deepEqual([paged.changes.map((c) => c.ruleId), paged.more, paged.through], [['UP1'], true, first!.position]);
      // Between two events with a gap of positions, upTo in the gap: through is upTo (nothing more can appear there).
      const gapStart = BigInt(second!.position);
      const third = BigInt(all[2]!.position);
      if (backend !== 'sqlite') assert.ok(third - gapStart > 1n, 'the rollback left a hole');
      if (third - gapStart > 1n) {
        const inGap = await store.readLog(second!.position, { upTo: third - 1n });
        assert.deepEqual([inGap.changes.length, inGap.through, inGap.more], [0, second!.position, false]);
        const acrossGap = await store.readLog(first!.position, { upTo: third - 1n });
        assert.deepEqual([acrossGap.changes.map((c) => c.ruleId), acrossGap.through, acrossGap.more], [['UP2'], (third - 1n).toString(), false], 'through covers the hole up to upTo');
      }
      await assert.rejects(store.readLog('-1'), (e: RuleStoreError) => e.code === 'POSITION_INVALID');
      await assert.rejects(store.readLog(start, { maxEvents: 0 }), (e: RuleStoreError) => e.code === 'CONFIG_INVALID');
      await assert.rejects(store.readLog(start, { maxBytes: 1.5 }), (e: RuleStoreError) => e.code === 'CONFIG_INVALID');
    });

    test('through moves past holes (compacted events) and bad rows; a bad row is in invalid, naming rule and position', async () => {
      const start = await head(store);
      await store.upsertRule(ruleYaml('HOLE', { version: 1 }));
      await store.upsertRule(ruleYaml('HOLE', { version: 2 }));
      await store.upsertRule(ruleYaml('HOLE', { version: 3 }));
      const raw = fx.raw();
      await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ('BADROW', 1, 'rule_id: BADROW\nnot: [valid', 'psql')`);
      await store.upsertRule(ruleYaml('AFTERBAD'));
      const before = await store.readLog(start);
      assert.deepEqual(before.changes.map((c) => c.ruleId), ['HOLE', 'HOLE', 'HOLE', 'AFTERBAD']);
      assert.equal(before.invalid.length, 1);
      const bad = before.invalid[0]!;
      assert.ok(bad instanceof RuleValidationError);
      assert.equal(bad.code, 'RULE_INVALID');
      assert.equal(bad.ruleId, 'BADROW');
      assert.ok(BigInt(bad.position!) > BigInt(before.changes[2]!.position) && BigInt(bad.position!) < BigInt(before.changes[3]!.position));
      // A page that ends on the bad row still moves through past it.
      const toBad = await store.readLog(before.changes[2]!.position, { maxEvents: 1 });
      assert.deepEqual([toBad.changes.length, toBad.invalid.length, toBad.through, toBad.more], [0, 1, bad.position, true]);
      // Compaction deletes the superseded versions of HOLE: holes in the log.
      await store.prune({ keepCount: 0, force: true });
      const pages = await readPages(store, start, { maxEvents: 1 });
      const changes = pages.flatMap((p) => p.changes);
      assert.ok(changes.filter((c) => c.ruleId === 'HOLE').length < 3, 'compaction left holes');
      assert.ok(changes.some((c) => c.ruleId === 'AFTERBAD'));
      assert.equal(pages.flatMap((p) => p.invalid).length, 1);
      assert.equal(pages.at(-1)!.through, await head(store));
    });

    test('commit grouping: lastInCommit only on the last change of a transaction, however the pages cut it', async () => {
      const start = await head(store);
      await store.upsertRules([1, 2, 3, 4, 5].map((i) => ({ yaml: paddedRule(`TX${i}`, 2000) })));
      await store.upsertRule(ruleYaml('TXSOLO'));
      const whole = (await store.readLog(start)).changes;
      for (const options of [{ maxEvents: 2 }, { maxBytes: 3000 }, { maxEvents: 1 }, {}]) {
        const pages = await readPages(store, start, options);
        const changes = pages.flatMap((p) => p.changes);
        assert.deepEqual(changes.map((c) => c.ruleId), ['TX1', 'TX2', 'TX3', 'TX4', 'TX5', 'TXSOLO'], JSON.stringify(options));
        assert.deepEqual(changes.map((c) => c.lastInCommit), [false, false, false, false, true, true], JSON.stringify(options));
        assert.equal(new Set(changes.slice(0, 5).map((c) => c.commit)).size, 1, 'one commit for the batch');
        assert.notEqual(changes[5]!.commit, changes[0]!.commit);
        assert.deepEqual(changes, whole, 'pages decode the same changes');
      }
      const live = collect(store.changesSince(start));
      await live.waitForCount(6);
      assert.deepEqual(live.items.map((c) => [c.position, c.commit, c.lastInCommit]), whole.map((c) => [c.position, c.commit, c.lastInCommit]));
      live.stop();
    });

    test('an oversized row written by hand is RULE_TOO_LARGE (rule id, position), never loaded, and the changes after it still arrive: live, via changesSince and readLog', async () => {
      const engine = await fx.open();
      const start = await head(engine);
      const live = collect<RuleChange>(engine.changes$);
      const errors = collect<RuleStoreError>(engine.errors$);
      const raw = fx.raw();
      const big = paddedRule('TOOBIG', DEFAULT_MAX_RULE_BYTES * 4);
      await store.upsertRule(ruleYaml('BEFOREBIG'));
      await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES ('TOOBIG', 1, $1, 'psql')`, [big]);
      // A state row inflated by hand (random, so it does not compress): too large as well.
      await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by) VALUES ('HUGESTATE', 'disabled', $1, 'psql')`, [randomBytes(3 * 1024 * 1024).toString('base64')]);
      await store.upsertRule(ruleYaml('AFTERBIG'));
      await live.waitFor((items) => items.some((c) => c.ruleId === 'AFTERBIG'), 20_000, 'the change after the oversized rows, live');
      await errors.waitFor((items) => items.filter((e) => e.code === 'RULE_TOO_LARGE').length >= 2, 20_000, 'two RULE_TOO_LARGE errors');
      assert.deepEqual(live.items.map((c) => c.ruleId), ['BEFOREBIG', 'AFTERBIG']);
      const tooLarge = errors.items.filter((e): e is RuleValidationError => e.code === 'RULE_TOO_LARGE' && e instanceof RuleValidationError);
      assert.deepEqual(tooLarge.map((e) => e.ruleId), ['TOOBIG', 'HUGESTATE']);
      for (const e of tooLarge) {
        assert.ok(e.position !== null && BigInt(e.position) > BigInt(start));
        assert.match(e.message, new RegExp(`position ${e.position}\\b`), 'the message names the position');
        assert.match(e.message, /bytes; the limit is/);
        assert.ok(!e.message.includes('xxxxxxxx'), 'no rule body in the message');
      }
      // The same via changesSince from before them (on errors$, in order with the changes).
      const errorsAgain = collect<RuleStoreError>(engine.errors$);
      const replay = collect(engine.changesSince(start));
      await replay.waitFor((items) => items.some((c) => c.ruleId === 'AFTERBIG'), 20_000, 'the change after the oversized rows, replayed');
      assert.deepEqual(replay.items.map((c) => c.ruleId), ['BEFOREBIG', 'AFTERBIG']);
      await errorsAgain.waitFor((items) => items.filter((e) => e.code === 'RULE_TOO_LARGE').length >= 2, 20_000, 'RULE_TOO_LARGE from the replay');
      // And in readLog's invalid; through past both, and they cost nothing against maxBytes.
      const page = await engine.readLog(start, { maxBytes: 1, maxEvents: 100 });
      assert.deepEqual(page.changes.map((c) => c.ruleId), ['BEFOREBIG']);
      const pages = await readPages(engine, start, { maxBytes: 1 });
      assert.deepEqual(pages.flatMap((p) => p.invalid).map((e) => [e.code, e.ruleId, e.position]), tooLarge.map((e) => ['RULE_TOO_LARGE', e.ruleId, e.position]));
      assert.deepEqual(pages.flatMap((p) => p.changes).map((c) => c.ruleId), ['BEFOREBIG', 'AFTERBIG']);
      assert.equal(pages.at(-1)!.through, live.items.at(-1)!.position);
      // A snapshot still reports the stored row (the table, not the log): as too large.
      const snapshot = await engine.snapshot();
      assert.ok(snapshot.errors.some((e) => e.ruleId === 'TOOBIG' && e.code === 'RULE_TOO_LARGE'));
      for (const c of [live, errors, errorsAgain, replay]) c.stop();
    });
  });
}
