import { createHash } from 'node:crypto';
import { readFile, readdir, realpath } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { pino, type Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import { readRuleDocument } from '../domain/compileRule.js';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleStore } from '../store/ruleStore.js';
import { isRuleFile } from './ruleFileName.js';

/** Options of {@link syncDirectory}. */
export interface SyncDirectoryOptions {
  /** Keep following the directory after the first reconcile (default false). */
  watch?: boolean;
  /** Recorded as `updated_by` (default `'sync'`). */
  updatedBy?: string;
  logger?: Logger;
  /** Quiet time after the last file event before applying a batch, ms (default 50). */
  quietMs?: number;
  /** Longest a busy directory can defer a batch, ms (default 500). */
  maxWaitMs?: number;
}

/** What one reconcile pass did. */
export interface SyncReport {
  readonly upserted: readonly string[];
  readonly deleted: readonly string[];
  readonly unchanged: readonly string[];
  /** Files that did not validate; the database keeps their last good version. */
  readonly invalid: readonly RuleValidationError[];
}

/** A running directory sync. */
export interface DirectorySync {
  /** The directory, canonical (symlinks resolved), with a trailing separator. */
  readonly directory: string;
  /** The reconcile done at start. */
  readonly initial: SyncReport;
  /** One report per batch applied while watching. */
  readonly reports$: Observable<SyncReport>;
  /** Resolves when no file event is pending and no batch is being applied. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface Known {
  readonly ruleId: string;
  readonly hash: string;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function readIfPresent(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

/**
 * Syncs a `rules/` directory into the store (the master's job). At start it
 * reconciles: upserts every valid rule file (the database leaves identical content
 * alone), deletes the rules this directory owns — by `source_path`, the file's
 * canonical absolute path — whose file is gone, and never touches rules written
 * elsewhere. With `watch` it then follows the directory: each save (in place, temp
 * file renamed over, create, delete or rename away) becomes exactly one upsert or
 * delete, identical bytes none; bursts are applied as one transaction per batch.
 * An invalid file is reported and leaves the last good version in the database.
 *
 * @example const sync = await syncDirectory(store, 'rules', { watch: true, updatedBy: 'master' })
 */
export async function syncDirectory(store: RuleStore, dir: string, options: SyncDirectoryOptions = {}): Promise<DirectorySync> {
  const log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'sync:directory' });
  const updatedBy = options.updatedBy || 'sync';
  const quietMs = options.quietMs ?? 50;
  const maxWaitMs = options.maxWaitMs ?? 500;
  const root = await realpath(resolve(dir)).catch((error: NodeJS.ErrnoException) => {
    throw new RuleStoreError('CONFIG_INVALID', `rules directory ${dir}: ${error.code === 'ENOENT' ? 'no such directory' : error.message}`, { cause: error });
  });
  const directory = root.endsWith(sep) ? root : root + sep;
  const owns = (sourcePath: string): boolean => dirname(sourcePath) + sep === directory && isRuleFile(sourcePath);
  const known = new Map<string, Known>();
  const reports = new Subject<SyncReport>();

  /** Applies the current content of `paths` (all of the directory when null). */
  const reconcile = async (paths: Set<string> | null): Promise<SyncReport> => {
    const candidates = new Set(paths ?? []);
    const stored = new Map<string, string>(); // source path -> rule id, for rules this directory owns
    if (paths === null) {
      for (const name of await readdir(root)) if (isRuleFile(name)) candidates.add(join(root, name));
      for (const rule of await store.listRuleMetadata()) {
        if (owns(rule.sourcePath)) {
          stored.set(rule.sourcePath, rule.ruleId);
          candidates.add(rule.sourcePath);
        }
      }
    }
    const upserts: { yaml: Buffer; sourcePath: string; ruleId: string; hash: string }[] = [];
    const gone: { path: string; ruleId: string }[] = [];
    const invalid: RuleValidationError[] = [];
    const byRuleId = new Map<string, string>();
    for (const path of [...candidates].sort()) {
      const bytes = await readIfPresent(path);
      if (bytes === null) {
        const ruleId = known.get(path)?.ruleId ?? stored.get(path);
        known.delete(path);
        if (ruleId) gone.push({ path, ruleId });
        continue;
      }
      const hash = sha256(bytes);
      if (paths !== null && known.get(path)?.hash === hash) continue; // identical bytes: nothing to do
      try {
        const { doc } = readRuleDocument(bytes, { source: path });
        const other = byRuleId.get(doc.rule_id);
        if (other) throw new RuleValidationError([{ path: 'rule_id', message: `also defined in ${other}` }], { ruleId: doc.rule_id, source: path });
        byRuleId.set(doc.rule_id, path);
        upserts.push({ yaml: bytes, sourcePath: path, ruleId: doc.rule_id, hash });
      } catch (error) {
        if (!(error instanceof RuleValidationError)) throw error;
        invalid.push(error);
        log.warn({ event: 'sync:file:invalid', file: path, ruleId: error.ruleId, reason: error.message }, 'invalid rule file; the database keeps the last good version');
      }
    }
    const result = upserts.length > 0 ? await store.upsertRules(upserts, { updatedBy }) : { upserted: [], unchanged: [], deleted: [] };
    for (const u of upserts) {
      const previous = known.get(u.sourcePath);
      known.set(u.sourcePath, { ruleId: u.ruleId, hash: u.hash });
      // A file whose rule id changed leaves its old rule behind: that one is gone.
      if (previous && previous.ruleId !== u.ruleId) gone.push({ path: u.sourcePath, ruleId: previous.ruleId });
    }
    // A rule that moved to another file of this directory is not gone.
    const toDelete = [...new Set(gone.map((g) => g.ruleId))].filter((id) => !byRuleId.has(id));
    const deleted = toDelete.length > 0 ? await store.deleteRules(toDelete, { updatedBy }) : [];
    const report: SyncReport = { upserted: result.upserted, deleted, unchanged: result.unchanged, invalid };
    if (report.upserted.length + report.deleted.length > 0) {
      log.info({ event: 'sync:batch:applied', upserted: report.upserted.length, deleted: report.deleted.length }, 'rules directory synced');
    }
    return report;
  };

  let watcher: FSWatcher | null = null;
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let firstDirtyAt = 0;
  let running: Promise<void> | null = null;
  let idleWaiters: (() => void)[] = [];
  let closed = false;

  const settleIdle = (): void => {
    if (dirty.size === 0 && !running && !timer) for (const resolveIdle of idleWaiters.splice(0)) resolveIdle();
  };
  const flush = (): void => {
    timer = null;
    if (running || dirty.size === 0 || closed) return settleIdle();
    const batch = new Set(dirty);
    dirty.clear();
    running = reconcile(batch)
      .then((report) => reports.next(report))
      .catch((error) => {
        // Keep the paths dirty and try again: the database may be coming back.
        for (const path of batch) dirty.add(path);
        log.warn({ event: 'sync:batch:retry', err: error }, 'applying the rules directory failed; retrying');
        schedule(1000);
      })
      .finally(() => {
        running = null;
        if (dirty.size > 0 && !timer) schedule(quietMs);
        settleIdle();
      });
  };
  const schedule = (delay: number): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, delay);
  };
  const onEvent = (path: string): void => {
    if (!isRuleFile(path)) return;
    if (dirty.size === 0) firstDirtyAt = Date.now();
    dirty.add(resolve(root, path));
    // Wait for quiet, but never defer a busy directory past maxWaitMs.
    schedule(Math.max(0, Math.min(quietMs, firstDirtyAt + maxWaitMs - Date.now())));
  };

  if (options.watch) {
    // Watch first, then reconcile: a save made during the reconcile is not lost.
    // atomic: false — our own quiet window coalesces unlink+add (editors that move the
    // old file away and write a new one), and idle() can see it, unlike chokidar's timer.
    watcher = watch(root, { ignoreInitial: true, depth: 0, atomic: false, ignored: (path, stats) => Boolean(stats?.isFile()) && !isRuleFile(path) });
    watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent);
    // chokidar drops a file's change that follows the previous one within 5 ms, or
    // whose mtime equals the last it saw (the kernel's clock is coarse): a save read
    // between its truncate and its write was then never read again, and the database
    // kept the version before. The raw events of the directory's own watch are not
    // filtered; every one marks its file dirty (a reconcile compares bytes, so an
    // extra mark costs one read).
    watcher.on('raw', (_event, name, details) => {
      const watched = (details as { watchedPath?: string } | undefined)?.watchedPath;
      if (watched === root && name) onEvent(join(root, String(name)));
      else if (watched && dirname(watched) === root) onEvent(watched);
    });
    watcher.on('error', (error) => log.warn({ event: 'sync:watch:error', err: error }, 'file watcher error'));
    await new Promise<void>((ready) => watcher!.once('ready', () => ready()));
  }
  let initial: SyncReport;
  try {
    initial = await reconcile(null);
  } catch (error) {
    await watcher?.close();
    throw error;
  }

  return {
    directory,
    initial,
    reports$: reports.asObservable(),
    idle() {
      return new Promise<void>((resolveIdle) => {
        idleWaiters.push(resolveIdle);
        settleIdle();
      });
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await watcher?.close();
      await running;
      reports.complete();
      for (const resolveIdle of idleWaiters.splice(0)) resolveIdle();
      idleWaiters = [];
    },
  };
}
