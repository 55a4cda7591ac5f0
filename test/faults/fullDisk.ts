import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, fstatSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate, openRuleStore, RuleStoreError, type RuleStore } from '../../src/index.js';
import { ruleYaml } from '../helpers/rules.js';

/**
 * The full-disk scenario, shared by `npm test` (test/sqlite/fullDisk.test.ts) and
 * `npm run test:faults` (test/faults/fullDisk.test.ts): a SQLite store on a small
 * tmpfs, every write method hammered until the disk is full, then what the
 * library acknowledged compared with what a fresh connection finds stored.
 */

/** Size of the tmpfs: small enough to fill in a few hundred writes. */
export const TMPFS_SIZE = '1m';

/** A mounted tmpfs, or the reason there is none (not root, no mount(8), a container without CAP_SYS_ADMIN). */
export type Tmpfs = { readonly dir: string; unmount(): void } | { readonly dir: null; readonly reason: string };

/** Mounts a fresh tmpfs of {@link TMPFS_SIZE} on a temp folder; never throws. */
export function mountTmpfs(): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'ttp-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    return { dir: null, reason: `cannot mount a tmpfs here (${stderr || (error as Error).message}); the full-disk test needs root or CAP_SYS_ADMIN` };
  }
  return {
    dir,
    unmount() {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        // Still busy (a failed test left a file open): detach it now, freed when the last file closes.
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What one write method did on the full disk. */
export interface FullDiskFigures {
  readonly method: string;
  /** Calls that returned (resolved) with "done". */
  readonly acknowledged: number;
  /** Of the acknowledged, how many a fresh connection finds stored. */
  readonly stored: number;
  /** Acknowledged but not stored (must be 0). */
  readonly lost: number;
  /** Refused, but stored all the same (must be 0). */
  readonly storedThoughRefused: number;
  /** Calls that raised. */
  readonly refused: number;
  /** Codes of the refusals, with counts. */
  readonly codes: Readonly<Record<string, number>>;
  /** The first refusal's message, for a person. */
  readonly firstMessage: string | null;
  /** Read-after-write on the same store disagreed with what the write returned. */
  readonly readBackMismatches: number;
}

/** One write method's scenario: seed (disk not yet full), then one call per item, then what is stored. */
interface Scenario {
  readonly method: string;
  /** Prepares what the calls need, while there is still room (`compact()` empties the WAL: call it every few commits). */
  seed(store: RuleStore, compact: () => void): Promise<void>;
  /** Item `i`: resolves to the keys it acknowledged ([] = a no-op, not counted), or throws. */
  call(store: RuleStore, i: number): Promise<string[]>;
  /** Optional read-back on the same store for an acknowledged call: false = it disagrees. */
  readBack?(store: RuleStore, i: number): Promise<boolean>;
  /** The keys a fresh connection finds done (stored). */
  stored(db: Database.Database): string[];
  /** Keys of item i (to tell "refused but stored" apart). */
  keys(i: number): string[];
  /** True when a refused key is done only because a later acknowledged call did it. */
  impliedBy?(key: string, acknowledged: ReadonlySet<string>): boolean;
  /** Upper bound on calls. */
  readonly calls: number;
}

const SEEDED = 150;
const seq = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const column = (db: Database.Database, sql: string): string[] => (db.prepare(sql).pluck().all() as unknown[]).map(String);
/** A rule big enough to fill the disk in a few hundred writes. */
const bigRule = (id: string, version = 1): string => ruleYaml(id, { version, name: `full disk ${id} ${'x'.repeat(400)}` });

const SCENARIOS: readonly Scenario[] = [
  {
    method: 'upsertRule',
    calls: 3000,
    seed: async () => {},
    call: async (store, i) => ((await store.upsertRule(bigRule(`U${i}`))).changed ? [`U${i}`] : []),
    readBack: async (store, i) => (await store.listRules()).some((r) => r.ruleId === `U${i}`),
    stored: (db) => column(db, `SELECT rule_id FROM ttp_rule WHERE rule_id LIKE 'U%'`),
    keys: (i) => [`U${i}`],
  },
  {
    method: 'upsertRules (5 per call)',
    calls: 1000,
    seed: async () => {},
    call: async (store, i) => (await store.upsertRules(seq(5, `B${i}_`).map((id) => ({ yaml: bigRule(id) })))).upserted.slice(),
    stored: (db) => column(db, `SELECT rule_id FROM ttp_rule WHERE rule_id LIKE 'B%'`),
    keys: (i) => seq(5, `B${i}_`),
  },
  {
    method: 'deleteRule',
    calls: SEEDED,
    seed: async (store) => void (await store.upsertRules(seq(SEEDED, 'D').map((id) => ({ yaml: bigRule(id) })))),
    call: async (store, i) => ((await store.deleteRule(`D${i}`)) ? [`D${i}`] : []),
    // Done = gone.
    stored: (db) => {
      const present = new Set(column(db, `SELECT rule_id FROM ttp_rule WHERE rule_id LIKE 'D%'`));
      return seq(SEEDED, 'D').filter((id) => !present.has(id));
    },
    keys: (i) => [`D${i}`],
  },
  {
    method: 'setState',
    calls: 3000,
    seed: async () => {},
    call: async (store, i) => {
      const stored = await store.setState(`S${i}`, { state: 'disabled', reason: `incident ${'r'.repeat(300)}` }, 'oncall');
      return stored.state === 'disabled' ? [`S${i}`] : [];
    },
    readBack: async (store, i) => (await store.getState(`S${i}`)).state === 'disabled',
    stored: (db) => column(db, `SELECT rule_id FROM ttp_rule_state WHERE rule_id LIKE 'S%' AND state = 'disabled'`),
    keys: (i) => [`S${i}`],
  },
  {
    method: 'clearState',
    calls: SEEDED,
    seed: async (store, compact) => {
      for (const [n, id] of seq(SEEDED, 'C').entries()) {
        await store.setState(id, { state: 'disabled', reason: 'r'.repeat(300) }, 'oncall');
        if (n % 10 === 9) compact();
      }
    },
    call: async (store, i) => ((await store.clearState(`C${i}`, 'oncall')) ? [`C${i}`] : []),
    readBack: async (store, i) => (await store.getState(`C${i}`)).state === 'enabled',
    stored: (db) => {
      const present = new Set(column(db, `SELECT rule_id FROM ttp_rule_state WHERE rule_id LIKE 'C%'`));
      return seq(SEEDED, 'C').filter((id) => !present.has(id));
    },
    keys: (i) => [`C${i}`],
  },
  {
    method: 'consumer (register)',
    calls: 5000,
    seed: async () => {},
    call: async (store, i) => {
      await store.consumer(`consumer-${i}-${'n'.repeat(100)}`);
      return [`consumer-${i}-${'n'.repeat(100)}`];
    },
    stored: (db) => column(db, `SELECT name FROM ttp_rule_consumer WHERE name LIKE 'consumer-%'`),
    keys: (i) => [`consumer-${i}-${'n'.repeat(100)}`],
  },
  {
    // Each checkpoint moves one consumer to position i + 1: the stored position must be the last acknowledged one.
    method: 'consumer checkpoint',
    calls: 5000,
    seed: async (store, compact) => {
      for (const [n, name] of seq(SEEDED, 'cp-').entries()) {
        await store.consumer(name, { startAt: 'beginning' });
        if (n % 10 === 9) compact();
      }
    },
    call: async (store, i) => {
      // Spread over many consumers so that each checkpoint dirties a different page.
      const consumer = await store.consumer(`cp-${i % SEEDED}`);
      await consumer.checkpoint(String(i + 1));
      return [`cp-${i % SEEDED}@${i + 1}`];
    },
    stored: (db) => (db.prepare(`SELECT name, position FROM ttp_rule_consumer WHERE name LIKE 'cp-%'`).all() as { name: string; position: number }[]).map((r) => `${r.name}@${r.position}`),
    keys: (i) => [`cp-${i % SEEDED}@${i + 1}`],
  },
  {
    method: 'consumer remove',
    calls: SEEDED,
    seed: async (store, compact) => {
      for (const [n, name] of seq(SEEDED, `rm-${'n'.repeat(100)}-`).entries()) {
        await store.consumer(name);
        if (n % 10 === 9) compact();
      }
    },
    call: async (store, i) => {
      const name = `rm-${'n'.repeat(100)}-${i}`;
      return (await (await store.consumer(name)).remove()) ? [name] : [];
    },
    stored: (db) => {
      const present = new Set(column(db, `SELECT name FROM ttp_rule_consumer WHERE name LIKE 'rm-%'`));
      return seq(SEEDED, `rm-${'n'.repeat(100)}-`).filter((name) => !present.has(name));
    },
    keys: (i) => [`rm-${'n'.repeat(100)}-${i}`],
  },
  {
    // 3 rules × 150 versions: every call prunes the superseded events up to 3·(i+1).
    method: 'prune',
    calls: SEEDED,
    seed: async (store, compact) => {
      for (let v = 1; v <= SEEDED; v++) {
        await store.upsertRules(['P0', 'P1', 'P2'].map((id) => ({ yaml: ruleYaml(id, { version: v }) })));
        if (v % 10 === 0) compact();
      }
    },
    call: async (store, i) => {
      const head = BigInt((await store.stats()).head);
      const result = await store.prune({ keepCount: Number(head - BigInt(3 * (i + 1))), force: true });
      return result.deleted > 0 ? [`pruned<=${result.before}`] : [];
    },
    // Done = no superseded event remains at or below that position.
    stored: (db) => {
      const oldest = db
        .prepare(`SELECT min(e.position) FROM ttp_rule_event e WHERE EXISTS (SELECT 1 FROM ttp_rule_event l WHERE l.rule_id = e.rule_id AND l.entity = e.entity AND l.position > e.position)`)
        .pluck()
        .get() as number | null;
      return Array.from({ length: SEEDED }, (_, i) => 3 * (i + 1)).filter((p) => oldest === null || p < oldest).map((p) => `pruned<=${p}`);
    },
    // A refused prune whose events a later, acknowledged one removed is not "stored though refused".
    impliedBy: (key, acknowledged) => [...acknowledged].some((k) => Number(k.slice(8)) >= Number(key.slice(8))),
    keys: (i) => [`pruned<=${3 * (i + 1)}`],
  },
];

/** Fills the file system under `dir` to the last byte, then frees `slackBytes` of it. Returns a function freeing it all. */
function fillDisk(dir: string, slackBytes: number): () => void {
  const path = join(dir, 'ballast');
  const fd = openSync(path, 'w');
  for (const chunk of [65536, 4096, 512, 1]) {
    const buffer = Buffer.alloc(chunk, 0xab);
    try {
      for (;;) writeSync(fd, buffer);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    }
  }
  ftruncateSync(fd, Math.max(0, fstatSync(fd).size - slackBytes));
  closeSync(fd);
  return () => rmSync(path, { force: true });
}

/**
 * Runs one write method against a full disk under `root` (a tmpfs): a fresh
 * database, seeded; the disk filled but for a little slack; then calls until
 * the disk is full (a run of refusals) or the items run out. The store is
 * closed, the space freed and the file read by a fresh connection.
 */
async function runScenario(root: string, scenario: Scenario): Promise<FullDiskFigures> {
  const dir = join(root, scenario.method.replace(/[^a-z]+/gi, '_'));
  mkdirSync(dir);
  const path = join(dir, 'rules.db');
  const url = `sqlite:${path}`;
  await migrate(url);
  let freeDisk = (): void => {};
  const acknowledged = new Set<string>();
  const refusedKeys = new Set<string>();
  const codes: Record<string, number> = {};
  let firstMessage: string | null = null;
  let readBackMismatches = 0;
  let refused = 0;
  try {
    const store = await openRuleStore({ url, revertExpired: false });
    const compact = (): void => {
      const raw = new Database(path);
      raw.pragma('wal_checkpoint(TRUNCATE)');
      raw.close();
    };
    try {
      await scenario.seed(store, compact);
      // Start from an empty WAL, so every later write needs new room on the disk.
      compact();
      freeDisk = fillDisk(root, 512 * 1024);
      let refusedInARow = 0;
      for (let i = 0; i < scenario.calls && refusedInARow < 25; i++) {
        try {
          const keys = await scenario.call(store, i);
          refusedInARow = 0;
          for (const key of keys) acknowledged.add(key);
          if (keys.length > 0 && scenario.readBack && !(await scenario.readBack(store, i))) readBackMismatches++;
        } catch (error) {
          refused++;
          refusedInARow++;
          for (const key of scenario.keys(i)) refusedKeys.add(key);
          const code = RuleStoreError.is(error) ? error.code : `untyped ${(error as Error).name}`;
          codes[code] = (codes[code] ?? 0) + 1;
          firstMessage ??= (error as Error).message;
        }
      }
    } finally {
      await store.close().catch(() => {});
    }
  } finally {
    freeDisk();
  }
  const db = new Database(path);
  let stored: Set<string>;
  try {
    stored = new Set(scenario.stored(db));
  } finally {
    db.close();
  }
  // A checkpoint key (name@position) is done when it is the stored position or an earlier acknowledged one of the same consumer.
  const isStored = (key: string): boolean => {
    if (stored.has(key)) return true;
    const at = key.lastIndexOf('@');
    if (at < 0) return false;
    const name = key.slice(0, at);
    const storedAt = [...stored].find((k) => k.startsWith(`${name}@`));
    return storedAt !== undefined && Number(storedAt.slice(name.length + 1)) > Number(key.slice(at + 1)) && acknowledged.has(storedAt);
  };
  const lost = [...acknowledged].filter((key) => !isStored(key)).length;
  return {
    method: scenario.method,
    acknowledged: acknowledged.size,
    stored: acknowledged.size - lost,
    lost,
    storedThoughRefused: [...refusedKeys].filter((key) => stored.has(key) && !scenario.impliedBy?.(key, acknowledged)).length,
    refused,
    codes,
    firstMessage,
    readBackMismatches,
  };
}

/** The write methods the scenario covers, in order. */
export const FULL_DISK_METHODS = SCENARIOS.map((s) => s.method);

/** Runs one method's scenario on the mounted tmpfs (its files removed afterwards). */
export async function runFullDisk(root: string, method: string): Promise<FullDiskFigures> {
  const scenario = SCENARIOS.find((s) => s.method === method);
  if (!scenario) throw new Error(`no full-disk scenario for ${method}`);
  try {
    return await runScenario(root, scenario);
  } finally {
    rmSync(join(root, scenario.method.replace(/[^a-z]+/gi, '_')), { recursive: true, force: true });
  }
}

/**
 * Registers the full-disk suite: one test per write method, each asserting that
 * nothing acknowledged is lost, nothing refused is stored, and every refusal is
 * `WRITE_FAILED` saying the disk is full. Skipped, with the reason, where a tmpfs
 * cannot be mounted. `onFigures` gets every method's figures at the end.
 */
export function describeFullDisk(onFigures: (all: readonly FullDiskFigures[]) => void = () => {}): void {
  describe('SQLite on a full disk: every acknowledged write is stored, every refusal is WRITE_FAILED', () => {
    let tmpfs: Tmpfs;
    const figures: FullDiskFigures[] = [];
    before(() => {
      tmpfs = mountTmpfs();
    });
    after(() => {
      if (tmpfs.dir !== null) tmpfs.unmount();
      if (figures.length > 0) onFigures(figures);
    });

    for (const method of FULL_DISK_METHODS) {
      test(method, async (t) => {
        if (tmpfs.dir === null) return t.skip(tmpfs.reason);
        const f = await runFullDisk(tmpfs.dir, method);
        figures.push(f);
        t.diagnostic(`full disk: ${JSON.stringify(f)}`);
        assert.ok(f.refused > 0, `the disk filled up (${f.acknowledged} acknowledged, none refused)`);
        assert.ok(f.acknowledged > 0, 'some writes went through before the disk filled up');
        assert.equal(f.lost, 0, `acknowledged ${f.acknowledged}, stored ${f.stored}`);
        assert.equal(f.storedThoughRefused, 0, 'a refused write was stored');
        assert.equal(f.readBackMismatches, 0, 'reading back an acknowledged write on the same store disagreed');
        assert.deepEqual(Object.keys(f.codes), ['WRITE_FAILED'], `refusals are WRITE_FAILED: ${JSON.stringify(f.codes)}`);
        // SQLITE_FULL on tmpfs; a file system may report the same as an I/O error, whose message says the disk may be full.
        assert.match(f.firstMessage ?? '', /the disk is full|the disk may be full/);
      });
    }

    test('migrate on a full disk fails with WRITE_FAILED and never leaves a half-applied schema version', async (t) => {
      if (tmpfs.dir === null) return t.skip(tmpfs.reason);
      const dir = join(tmpfs.dir, 'migrate');
      mkdirSync(dir);
      try {
        // From no room at all to enough for the first version but not the second.
        for (const slack of [0, 8, 24, 48, 96].map((kb) => kb * 1024)) {
          const path = join(dir, `rules-${slack}.db`);
          const free = fillDisk(tmpfs.dir, slack);
          let failed: unknown = null;
          try {
            await migrate(`sqlite:${path}`);
          } catch (error) {
            failed = error;
          } finally {
            free();
          }
          if (failed !== null) {
            assert.ok(RuleStoreError.is(failed) && failed.code === 'WRITE_FAILED', `migrate with ${slack} bytes free: ${String(failed)}`);
            assert.match((failed as Error).message, /disk is full|I\/O error/);
          }
          // With room again, the same file migrates to the end and works: every version applied whole or not at all.
          await migrate(`sqlite:${path}`);
          const store = await openRuleStore({ url: `sqlite:${path}` });
          try {
            await store.setState('M1', 'disabled', 'oncall');
            assert.equal((await store.getState('M1')).state, 'disabled');
          } finally {
            await store.close();
          }
          rmSync(path, { force: true });
          rmSync(`${path}-wal`, { force: true });
          rmSync(`${path}-shm`, { force: true });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('a read-only mount: writes are WRITE_FAILED naming the cause, reads go on', async (t) => {
      if (tmpfs.dir === null) return t.skip(tmpfs.reason);
      const dir = join(tmpfs.dir, 'readonly');
      const view = mkdtempSync(join(tmpdir(), 'ttp-read-only-'));
      mkdirSync(dir);
      await migrate(`sqlite:${join(dir, 'rules.db')}`);
      const writer = await openRuleStore({ url: `sqlite:${join(dir, 'rules.db')}`, revertExpired: false });
      await writer.setState('RO1', 'disabled', 'oncall');
      // The same folder seen through a read-only bind mount, as a container with a read-only volume sees it.
      execFileSync('mount', ['--bind', dir, view], { stdio: 'pipe' });
      try {
        execFileSync('mount', ['-o', 'remount,bind,ro', view], { stdio: 'pipe' });
        const store = await openRuleStore({ url: `sqlite:${join(view, 'rules.db')}`, revertExpired: false });
        try {
          await assert.rejects(store.setState('RO2', 'disabled', 'oncall'), (e: unknown) => RuleStoreError.is(e) && e.code === 'WRITE_FAILED' && /read only/.test(e.message));
          await assert.rejects(store.upsertRule(bigRule('RO3')), (e: unknown) => RuleStoreError.is(e) && e.code === 'WRITE_FAILED' && /read only/.test(e.message));
          await assert.rejects(store.deleteRule('RO3'), (e: unknown) => RuleStoreError.is(e) && e.code === 'WRITE_FAILED' && /read only/.test(e.message));
          assert.equal((await store.getState('RO1')).state, 'disabled');
          assert.equal((await store.getState('RO2')).state, 'enabled');
        } finally {
          await store.close();
        }
      } finally {
        // SQLite keeps a closed connection's descriptor while another connection of the process locks the same file: close both first.
        await writer.close();
        execFileSync('umount', [view], { stdio: 'pipe' });
        rmSync(view, { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
