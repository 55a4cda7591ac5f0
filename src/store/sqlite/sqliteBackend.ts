import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { LockTimeoutError } from '../../domain/errors.js';
import { MAX_POSITION } from '../../domain/ruleChange.js';
import { EXPIRY_ACTOR } from '../../log/logEvent.js';
import { endOfPage, maxRowBytes } from '../../log/readLog.js';
import type { Feed } from '../../feed/feed.js';
import type { Backend, BatchResult, ConsumerRow, RowSnapshot, RuleWithStateRow, RuleWrite, StateWrite } from '../backend.js';
import { createPollFeed } from '../../feed/pollFeed.js';
import { applySqliteSchema } from './migrate.js';
import { BUSY_TIMEOUT_MS, openSqliteDatabase, type SqliteDatabase } from './sqliteDatabase.js';
import { isSqliteBusy, mapSqliteError } from './sqliteErrors.js';
import { EVENT_COLUMNS, decodeEvent, decodeMetadataEventRow, decodeRuleMetadataRow, decodeRuleRow, decodeStateRow, encodeDate } from './sqliteRows.js';

export { migrateSqlite } from './migrate.js';

/** Options of the SQLite backend. */
export interface SqliteBackendOptions {
  /** File path, or `:memory:` (one private database, for tests). */
  path: string;
  /** Interval of the `PRAGMA data_version` probe, ms. */
  pollIntervalMs: number;
  /** Create or upgrade the schema on open (otherwise refuse an unmigrated file). */
  migrate: boolean;
  /** Longest wait of a write for another connection's write lock, ms (then LOCK_TIMEOUT). */
  lockTimeoutMs: number;
  logger: Logger;
}

/**
 * SQLite's own busy wait per write attempt, ms. better-sqlite3 is synchronous:
 * that wait holds the event loop, so it is kept short and the store waits
 * between attempts with timers instead (up to `lockTimeoutMs`), serving reads,
 * the feed and timers meanwhile.
 */
const WRITE_ATTEMPT_BUSY_MS = 20;

type Row = Record<string, unknown>;

/** The database's clock, in the stored format: fixed for one statement, triggers included. */
const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

/**
 * Opens the SQLite backend: one better-sqlite3 connection, the schema checked
 * (or applied) on open, the same tables and log as Postgres, and a poll feed
 * whose probe is `PRAGMA data_version`.
 *
 * better-sqlite3 is synchronous: every method runs to completion before it
 * returns its promise, so statements on this connection never interleave. A
 * write waits up to `lockTimeoutMs` for another process's write lock (in short
 * attempts, the event loop free in between), then fails with LOCK_TIMEOUT.
 *
 * @example const backend = await openSqliteBackend({ path: './ttp-rules.db', pollIntervalMs: 100, migrate: true, logger });
 */
export async function openSqliteBackend(options: SqliteBackendOptions): Promise<Backend> {
  const log = options.logger.child({ component: 'store:sqlite' });
  const db = openSqliteDatabase(options.path, { create: options.migrate, logger: log });
  try {
    applySqliteSchema(db, { path: options.path, migrate: options.migrate, logger: log });
    return createSqliteBackend(db, options, log);
  } catch (error) {
    db.close();
    throw mapSqliteError(error, `open the SQLite database ${options.path}`);
  }
}

/** The Backend over an open, migrated connection (prepares every statement up front). */
function createSqliteBackend(db: SqliteDatabase, options: SqliteBackendOptions, log: Logger): Backend {

  const run = async <T>(what: string, access: 'read' | 'write', work: () => T): Promise<T> => {
    // Yield to the event loop first, as a network driver would: a caller that
    // awaits writes in a loop would otherwise run on microtasks only and starve
    // timers and I/O (the poll feed, the expiry timer, timeouts).
    await yieldToEventLoop();
    try {
      return work();
    } catch (error) {
      throw mapSqliteError(error, what, access);
    }
  };
  /** Reads: an error is mapped as a read (never WRITE_FAILED). */
  const read = <T>(what: string, work: () => T): Promise<T> => run(what, 'read', work);
  /**
   * Every write goes through here: `work` runs in one IMMEDIATE transaction (the
   * write lock is taken at BEGIN, so a second writer waits instead of failing
   * to upgrade a read snapshot) and returns only once COMMIT succeeded. Never an
   * autocommit statement read with `.get()`: an `INSERT … RETURNING` hands its
   * row back before the statement completes, and in autocommit the commit (and
   * its SQLITE_FULL) happens at the reset that `.get()` does not check. Inside a
   * transaction, statements run to completion with `.all()`/`.run()`, and the
   * COMMIT is a statement of its own whose error is raised.
   */
  const write = async <T>(what: string, work: () => T): Promise<T> => {
    // Each attempt either commits or rolls back whole (BEGIN IMMEDIATE fails before
    // any statement runs), so a busy attempt is simply made again; the closures
    // passed here build their results afresh on every run.
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      await yieldToEventLoop();
      try {
        db.pragma(`busy_timeout = ${WRITE_ATTEMPT_BUSY_MS}`);
        try {
          return writeTransaction.immediate(work) as T;
        } finally {
          // Reads and the feed keep the long busy timeout, also while this write waits.
          db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
        }
      } catch (error) {
        const waited = performance.now() - started;
        if (!isSqliteBusy(error)) throw mapSqliteError(error, what, 'write');
        if (waited >= options.lockTimeoutMs) {
          throw new LockTimeoutError(
            `${what}: another connection held the SQLite write lock on ${options.path} for ${Math.round(waited)} ms (lockTimeoutMs ${options.lockTimeoutMs}); nothing was written. Another process is writing, or a sqlite3 shell holds an open transaction (BEGIN without COMMIT)`,
            [],
            { cause: error },
          );
        }
        // Jittered, so two processes that collided do not collide again in step.
        await sleep(Math.min(2 ** attempt, 50) * (0.5 + Math.random()));
      }
    }
  };
  const prepare = (sql: string) => db.prepare<unknown[], Row>(sql);
  // Positions are 64-bit: event queries return them as bigint.
  const prepareEvents = (sql: string) => prepare(sql).safeIntegers(true);

  const q = {
    // A row body above @maxRuleBytes is never loaded: its size (octet_length
    // reads no text) comes back in its place, an integer where the JSON text would
    // be. No upper bound and one event more than asked: the next event tells
    // whether the last one returned ends its transaction (see readEvents).
    eventsAfter: prepareEvents(`
      SELECT position, rule_id, entity, op, actor, recorded_at,
             (SELECT c.commit_position FROM ttp_rule_event_commit c WHERE c.position = ttp_rule_event.position) AS commit_position,
             iif(octet_length(rule_row) > @maxRuleBytes, octet_length(rule_row), rule_row) AS rule_row,
             iif(octet_length(state_row) > @maxRuleBytes, octet_length(state_row), state_row) AS state_row
        FROM ttp_rule_event WHERE position > @after ORDER BY position LIMIT @limit + 1`),
    // A row above maxRuleBytes of JSON: the size of its rule document (json_extract
    // reads the row inside SQLite, never into JavaScript), and its rows if it fits.
    eventYamlBytes: prepare(`SELECT octet_length(json_extract(rule_row, '$.yaml_content')) AS yaml FROM ttp_rule_event WHERE position = ?`),
    eventRows: prepare('SELECT rule_row, state_row FROM ttp_rule_event WHERE position = ?'),
    latestEvents: prepareEvents(`
      SELECT ${EVENT_COLUMNS} FROM ttp_rule_event
       WHERE position IN (SELECT max(position) FROM ttp_rule_event WHERE position <= ? GROUP BY rule_id, entity)`),
    // The same, with the rule rows' documents left in the database.
    latestEventMetadata: prepareEvents(`
      SELECT ${EVENT_COLUMNS.replace('rule_row', "json_remove(rule_row, '$.yaml_content') AS rule_row")} FROM ttp_rule_event
       WHERE position IN (SELECT max(position) FROM ttp_rule_event WHERE position <= ? GROUP BY rule_id, entity)`),
    latestEventsOfRule: prepareEvents(`
      SELECT ${EVENT_COLUMNS} FROM ttp_rule_event
       WHERE position IN (SELECT max(position) FROM ttp_rule_event WHERE rule_id = ? AND position <= ? GROUP BY entity)`),
    readableFrom: prepare('SELECT readable_from AS p FROM ttp_rule_log_meta').safeIntegers(true),
    // Before compaction: the highest successor of an event it will delete (see 0004.sql).
    pruneSuccessor: prepare(`
      SELECT max((SELECT min(s.position) FROM ttp_rule_event s WHERE s.rule_id = e.rule_id AND s.entity = e.entity AND s.position > e.position)) AS p
        FROM ttp_rule_event e WHERE e.position <= @before`).safeIntegers(true),
    setReadableFrom: prepare('UPDATE ttp_rule_log_meta SET readable_from = max(readable_from, ?)'),
    setTxnMark: prepare('INSERT OR REPLACE INTO ttp_rule_txn_mark (id, first_position) VALUES (1, NULL)'),
    clearTxnMark: prepare('DELETE FROM ttp_rule_txn_mark'),
    pruneCommits: prepare('DELETE FROM ttp_rule_event_commit WHERE position <= @before AND position NOT IN (SELECT position FROM ttp_rule_event WHERE position <= @before)'),
    historyAll: prepareEvents(`SELECT ${EVENT_COLUMNS} FROM ttp_rule_event WHERE position <= ? ORDER BY position DESC LIMIT ?`),
    historyRule: prepareEvents(`SELECT ${EVENT_COLUMNS} FROM ttp_rule_event WHERE rule_id = ? AND position <= ? ORDER BY position DESC LIMIT ?`),
    head: prepare('SELECT coalesce(max(position), 0) AS head FROM ttp_rule_event').safeIntegers(true),
    allRules: prepare('SELECT * FROM ttp_rule ORDER BY rule_id'),
    allRuleMetadata: prepare('SELECT rule_id, rule_version, source_path, updated_at, updated_by FROM ttp_rule ORDER BY rule_id'),
    allStates: prepare('SELECT * FROM ttp_rule_state ORDER BY rule_id'),
    // One statement, one snapshot: the state is the one in force with this row.
    rule: prepare(`
      SELECT r.rule_id, r.rule_version, r.source_path, r.yaml_content, r.updated_at, r.updated_by,
             s.rule_id AS state_rule_id, s.state, s.confidence_max, s.expires_at, s.reason, s.set_by, s.set_at
        FROM ttp_rule r LEFT JOIN ttp_rule_state s ON s.rule_id = r.rule_id
       WHERE r.rule_id = ?`),
    state: prepare('SELECT * FROM ttp_rule_state WHERE rule_id = ?'),
    setActor: prepare('INSERT OR REPLACE INTO ttp_rule_store_actor (id, actor) VALUES (1, ?)'),
    clearActor: prepare('DELETE FROM ttp_rule_store_actor'),
    upsertState: prepare(`
      INSERT INTO ttp_rule_state (rule_id, state, confidence_max, expires_at, reason, set_by, set_at)
      VALUES (?, ?, ?, ?, ?, ?, ${NOW})
      ON CONFLICT (rule_id) DO UPDATE SET
        state = excluded.state, confidence_max = excluded.confidence_max, expires_at = excluded.expires_at,
        reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at
      RETURNING *`),
    deleteState: prepare('DELETE FROM ttp_rule_state WHERE rule_id = ? RETURNING rule_id'),
    // Identical content is left alone: no row change, no event. updated_at is
    // written here as the trigger would set it, so the trigger need not touch the row.
    upsertRule: prepare(`
      INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_at, updated_by)
      VALUES (?, ?, ?, ?, ${NOW}, ?)
      ON CONFLICT (rule_id) DO UPDATE SET
        rule_version = excluded.rule_version, source_path = excluded.source_path,
        yaml_content = excluded.yaml_content, updated_at = excluded.updated_at, updated_by = excluded.updated_by
      WHERE ttp_rule.rule_version IS NOT excluded.rule_version OR ttp_rule.source_path IS NOT excluded.source_path
         OR ttp_rule.yaml_content IS NOT excluded.yaml_content
      RETURNING rule_id`),
    pruneRules: prepare(`
      DELETE FROM ttp_rule
       WHERE substr(source_path, 1, length(@under)) = @under AND rule_id NOT IN (SELECT value FROM json_each(@keep))
      RETURNING rule_id`),
    deleteRules: prepare('DELETE FROM ttp_rule WHERE rule_id IN (SELECT value FROM json_each(?)) RETURNING rule_id'),
    anyExpired: prepare(`SELECT 1 FROM ttp_rule_state WHERE expires_at <= ${NOW} AND (@ruleId IS NULL OR rule_id = @ruleId) LIMIT 1`),
    revertExpired: prepare(`DELETE FROM ttp_rule_state WHERE expires_at <= ${NOW} AND (@ruleId IS NULL OR rule_id = @ruleId) RETURNING rule_id`),
    nextExpiry: prepare(`
      SELECT (julianday(min(expires_at)) - julianday('now')) * 86400000.0 AS ms
        FROM ttp_rule_state WHERE expires_at IS NOT NULL`),
    dataVersion: prepare('PRAGMA data_version').pluck(),
    prunedThrough: prepare('SELECT pruned_through AS p FROM ttp_rule_log_meta').safeIntegers(true),
    positionBefore: prepare('SELECT coalesce(max(position), 0) AS p FROM ttp_rule_event WHERE recorded_at < ?').safeIntegers(true),
    // Compaction: only events superseded by a later one for the same rule and entity.
    prune: prepare(`
      DELETE FROM ttp_rule_event
       WHERE position <= @before
         AND EXISTS (SELECT 1 FROM ttp_rule_event later
                      WHERE later.rule_id = ttp_rule_event.rule_id AND later.entity = ttp_rule_event.entity
                        AND later.position > ttp_rule_event.position)
      RETURNING position`).safeIntegers(true),
    setPrunedThrough: prepare('UPDATE ttp_rule_log_meta SET pruned_through = max(pruned_through, ?)'),
    consumers: prepare('SELECT name, position, updated_at FROM ttp_rule_consumer ORDER BY name').safeIntegers(true),
    consumer: prepare('SELECT name, position, updated_at FROM ttp_rule_consumer WHERE name = ?').safeIntegers(true),
    checkpoint: prepare(`
      INSERT INTO ttp_rule_consumer (name, position) VALUES (?, ?)
      ON CONFLICT (name) DO UPDATE SET position = max(ttp_rule_consumer.position, excluded.position), updated_at = ${NOW}`),
    deleteConsumer: prepare('DELETE FROM ttp_rule_consumer WHERE name = ? RETURNING name'),
  };
  const consumerRow = (r: Row): ConsumerRow => ({ name: String(r['name']), position: BigInt(r['position'] as bigint), updatedAt: new Date(String(r['updated_at'])) });

  /**
   * Wraps `work` (run inside {@link write}'s transaction) with `actor` recorded
   * as the library's caller: the triggers take it for the delete events they
   * write, and take the author columns as written (an unmarked update that leaves
   * them alone is a hand edit, credited to 'sqlite', 0005.sql). Every library
   * write goes through here. The actor row is removed before commit, so no other
   * connection ever sees it.
   */
  const writeTransaction = db.transaction((work: () => unknown) => work());
  const withActor = <T>(actor: string, work: () => T) => (): T => {
    // The transaction mark groups the events of this write into one commit (0004.sql).
    q.setActor.run(actor);
    q.setTxnMark.run();
    const result = work();
    q.clearTxnMark.run();
    q.clearActor.run();
    return result;
  };

  // One read transaction: in WAL mode it sees one committed state, and because
  // positions follow commit order, the rows are exactly the effect of the events
  // up to its max(position).
  const snapshotOf = <R>(readRules: () => R[]) =>
    db.transaction(() => ({ position: BigInt(q.head.get()?.['head'] as bigint), rules: readRules(), states: q.allStates.all().map(decodeStateRow) }));
  const snapshotTransaction = snapshotOf(() => q.allRules.all().map(decodeRuleRow));
  const metadataSnapshotTransaction = snapshotOf(() => q.allRuleMetadata.all().map(decodeRuleMetadataRow));

  const ids = (rows: Row[]): string[] => rows.map((r) => String(r['rule_id']));

  const backend: Backend = {
    kind: 'sqlite',

    readEvents: (after, { limit, upTo, maxBytes, maxRuleBytes }) =>
      read('read the event log', () => {
        const ceiling = maxRowBytes(maxRuleBytes);
        const size = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? v.length : 0);
        // Stepped one row at a time: the page stops at maxBytes (one event at
        // least) without reading further bodies, plus one row of read-ahead.
        const rows: Row[] = [];
        let bytes = 0;
        let readAhead = false;
        let full = false;
        for (const row of q.eventsAfter.iterate({ after, limit, maxRuleBytes })) {
          rows.push(row);
          if (rows.length > limit || (upTo !== undefined && (row['position'] as bigint) > upTo)) {
            readAhead = true;
            break;
          }
          // A row too large for any limit is never loaded and costs nothing.
          const rowBytes = size(row['rule_row']) + size(row['state_row']);
          if (rowBytes <= ceiling) bytes += rowBytes;
          if (bytes >= maxBytes) {
            full = true;
            break;
          }
        }
        if (full) {
          // Only the next row's position and commit are needed, not its body (limit 0: one row).
          const next = q.eventsAfter.get({ after: rows.at(-1)!['position'], limit: 0, maxRuleBytes: 0 });
          if (next) rows.push(next);
          readAhead = next !== undefined;
        }
        const count = readAhead ? rows.length - 1 : rows.length;
        const events = [];
        for (let i = 0; i < count; i++) {
          let row = rows[i]!;
          let oversized: number | undefined;
          if (typeof row['rule_row'] === 'bigint' || typeof row['state_row'] === 'bigint') {
            // Rare: a row body above maxRuleBytes of JSON. JSON text is never shorter
            // than the document it escapes, so only such a row needs its document
            // measured (inside SQLite); one that fits after all is read now.
            const yaml = typeof row['rule_row'] === 'bigint' ? Number(q.eventYamlBytes.get(row['position'])?.['yaml'] ?? 0) : 0;
            const rowBytes = size(row['rule_row']) + size(row['state_row']);
            if (yaml > maxRuleBytes) oversized = yaml;
            else if (rowBytes > ceiling) oversized = rowBytes;
            row = { ...row, ...(oversized === undefined ? q.eventRows.get(row['position']) : { rule_row: null, state_row: null }) };
          }
          const event = decodeEvent(row);
          if (oversized !== undefined) event.oversized = oversized;
          // Positions follow commit order (one writer at a time), so a transaction's
          // events form a run; the last visible event ends its transaction, since a
          // read transaction sees a commit whole.
          const next = rows[i + 1];
          event.lastInCommit = next === undefined || BigInt((next['commit_position'] ?? next['position']) as bigint) !== event.commit;
          events.push(event);
        }
        const next = rows[count];
        return { events, ...endOfPage(after, events, next === undefined ? null : (next['position'] as bigint), upTo) };
      }),

    readHistory: (ruleId, limit, upTo) =>
      read('read the event log', () => {
        const bound = upTo ?? MAX_POSITION;
        const rows = ruleId === null ? q.historyAll.all(bound, limit) : q.historyRule.all(ruleId, bound, limit);
        return rows.map(decodeEvent);
      }),

    readHead: () => read('read the log head', () => BigInt(q.head.get()?.['head'] as bigint)),

    readSnapshot: () => read('take a snapshot', () => snapshotTransaction()),

    readMetadataSnapshot: () => read('list rule metadata', () => metadataSnapshotTransaction()),

    readLatestMetadataEvents: (upTo) => read('read the event log', () => q.latestEventMetadata.all(upTo).map(decodeMetadataEventRow)),

    readRule: (ruleId) =>
      read('read a rule', () => {
        const row = q.rule.get(ruleId);
        if (!row) return null;
        return { rule: decodeRuleRow(row), state: row['state_rule_id'] === null ? null : decodeStateRow(row) } satisfies RuleWithStateRow;
      }),

    readState: (ruleId) =>
      read('read a rule state', () => {
        const row = q.state.get(ruleId);
        return row ? decodeStateRow(row) : null;
      }),

    writeState: (w: StateWrite) =>
      write(
        `set the state of ${w.ruleId}`,
        withActor(w.setBy, () => {
          const [row] = q.upsertState.all(w.ruleId, w.state, w.confidenceMax, encodeDate(w.expiresAt), w.reason, w.setBy);
          return decodeStateRow(row!);
        }),
      ),

    deleteState: (ruleId, actor) => write(`clear the state of ${ruleId}`, withActor(actor, () => q.deleteState.all(ruleId).length > 0)),

    writeRules: (rules: readonly RuleWrite[], actor, prune) => {
      const upsert = (r: RuleWrite): boolean => q.upsertRule.all(r.ruleId, r.ruleVersion, r.sourcePath, r.yamlContent, actor).length > 0;
      return write(
        'write rules',
        withActor(actor, (): BatchResult => {
          const upserted = rules.filter(upsert).map((r) => r.ruleId);
          const deleted = prune ? ids(q.pruneRules.all({ under: prune.under, keep: JSON.stringify(rules.map((r) => r.ruleId)) })) : [];
          return { upserted, deleted };
        }),
      );
    },

    deleteRules: (ruleIds, actor) => write('delete rules', withActor(actor, () => ids(q.deleteRules.all(JSON.stringify(ruleIds))))),

    revertExpired: async (ruleId) => {
      // Nothing due: do not take the write lock. Otherwise one conditional
      // delete under the lock: in a swarm only the first process deletes
      // anything, and every process sees its one event.
      if ((await read('revert expired states', () => q.anyExpired.get({ ruleId: ruleId ?? null }))) === undefined) return [];
      return write('revert expired states', withActor(EXPIRY_ACTOR, () => ids(q.revertExpired.all({ ruleId: ruleId ?? null }))));
    },

    readLatestEvents: (upTo, ruleId) =>
      read('read the event log', () => (ruleId === undefined ? q.latestEvents.all(upTo) : q.latestEventsOfRule.all(ruleId, upTo)).map(decodeEvent)),

    readReadableFrom: () => read('read the log retention', () => BigInt(q.readableFrom.get()?.['p'] as bigint)),

    readPrunedThrough: () => read('read the log retention', () => BigInt(q.prunedThrough.get()?.['p'] as bigint)),

    readPositionBefore: (cutoff) => read('read the log retention', () => BigInt(q.positionBefore.get(encodeDate(cutoff))?.['p'] as bigint)),

    pruneLog: (before) =>
      write('prune the event log', () => {
        // Every event at or below `before` that has a successor is deleted: the
        // highest successor is where exact reads of the past begin.
        const successor = q.pruneSuccessor.get({ before })?.['p'];
        const gone = q.prune.all({ before });
        q.pruneCommits.run({ before });
        const newest = gone.reduce((max, r) => (BigInt(r['position'] as bigint) > max ? BigInt(r['position'] as bigint) : max), 0n);
        if (newest > 0n) {
          q.setPrunedThrough.run(newest);
          if (successor !== null && successor !== undefined) q.setReadableFrom.run(successor);
        }
        return gone.length;
      }),

    readConsumers: () => read('read consumers', () => q.consumers.all().map(consumerRow)),

    readConsumer: (name) =>
      read('read a consumer', () => {
        const row = q.consumer.get(name);
        return row ? consumerRow(row) : null;
      }),

    writeConsumer: (name, position) => write(`checkpoint the consumer ${name}`, () => void q.checkpoint.run(name, position)),

    deleteConsumer: (name) => write(`remove the consumer ${name}`, () => q.deleteConsumer.all(name).length > 0),

    msUntilNextExpiry: () =>
      read('read the next expiry', () => {
        const ms = q.nextExpiry.get()?.['ms'];
        return typeof ms === 'number' ? ms : null;
      }),

    createFeed: (): Feed => {
      // data_version changes only when another connection commits, and costs a
      // look at the shared WAL index (no file read) when nothing changed. Writes
      // through this connection wake the store's reader directly.
      let seen = q.dataVersion.get();
      return createPollFeed({
        intervalMs: options.pollIntervalMs,
        logger: options.logger,
        probe: () => {
          const now = q.dataVersion.get();
          if (now === seen) return false;
          seen = now;
          return true;
        },
      });
    },

    close: async () => {
      db.close();
    },
  };
  log.info({ event: 'store:sqlite:open', path: options.path }, 'SQLite database open');
  return backend;
}
