import postgres, { type Sql, type TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import { decodeDate as date, decodeEventRow as logEvent, decodeMetadataEventRow as metadataEvent, decodeRuleMetadataRow as ruleMetadataRow, decodeRuleRow as ruleRow, decodeStateRow as stateRow } from '../../log/rowCodec.js';
import type { Feed } from '../../feed/feed.js';
import type { Backend, BatchResult, MetadataSnapshot, RowSnapshot, RuleWithStateRow, RuleWrite, StateWrite } from '../backend.js';
import type { LogEvent, StateRow } from '../../log/logEvent.js';
import { endOfPage, maxRowBytes } from '../../log/readLog.js';
import { MAX_POSITION } from '../../domain/ruleChange.js';
import { createListenFeed } from '../../feed/listenFeed.js';
import { createPollFeed } from '../../feed/pollFeed.js';
import { assertMigrated, migratePostgres } from './migrate.js';
import { mapPostgresError } from './postgresErrors.js';
import { postgresJsOptions, resolvePostgresConnection } from './postgresConnection.js';
import { createPostgresWriter } from './postgresWriter.js';
import { createQueryLimiter } from './queryLimiter.js';
import { withDenseResults } from './denseResults.js';

/** Options of the Postgres backend. */
export interface PostgresBackendOptions {
  url: string;
  transport: 'listen' | 'poll';
  pollIntervalMs: number;
  safetyCheckMs: number;
  migrate: boolean;
  logger: Logger;
  /** Connections in the query pool (default 4). */
  maxConnections?: number;
  /** Longest wait of a write for the writers' lock (and a write connection), ms. */
  lockTimeoutMs: number;
}

/**
 * Connections of the write pool. Writes are serialised by the writers' lock, so
 * two are enough; being separate, a write blocked on the lock never holds a
 * connection that a read (snapshot, stats, getState, the log) is queued for.
 */
const WRITE_CONNECTIONS = 2;

type Json = Record<string, unknown>;

// Event queries select `position` uncast: int8 arrives as a decimal string from
// postgres.js, and ORDER BY then sorts the column, not a text alias.
/** Rows per INSERT statement in a batch (5 parameters each, well under Postgres' 65,535). */
const WRITE_CHUNK = 2000;
/** How long the listen transport waits, at open, for its test NOTIFY (a transaction pooler never delivers it). */
const LISTEN_PROBE_MS = 3000;

/** Opens the Postgres backend: checks (or applies) the schema, then returns the dialect. */
export async function openPostgresBackend(options: PostgresBackendOptions): Promise<Backend> {
  const log = options.logger.child({ component: 'store:postgres' });
  // One resolution of the URL (user, IPv6 host) for every connection of the store.
  const connection = resolvePostgresConnection(options.url);
  if (options.migrate) await migratePostgres(connection.url);
  const max = options.maxConnections ?? 4;
  // Poll is the transport for transaction poolers (pgbouncer), which may run each
  // transaction on another server connection: a named prepared statement made on
  // one is missing (or another's) on the next, and a query pipelined behind a
  // finished one can be answered after the pooler handed the server to another
  // client. So on poll: unnamed statements, and at most one query per read-pool
  // connection at a time (writes own a reserved connection for their transaction).
  const pooled = options.transport === 'poll' ? { prepare: false } : {};
  const repaired = (holes: number): void => log.warn({ event: 'store:postgres:sparse-result', holes }, 'repaired a driver result after a cancelled query');
  const sql: Sql = withDenseResults(
    // fetch_types off on the read pool, which every engine uses: postgres.js runs its
    // array-type query as the first statement of each new connection and drops its
    // promise, so when that query is cancelled (a short statement_timeout,
    // pg_cancel_backend, a backend terminated during start-up) the error escapes as
    // an unhandled rejection and ends the process (porsager/postgres #1192, #1205,
    // #1223). Reads pass no array parameters. The write pool keeps it: the driver's
    // reserve() never resolves on a fresh connection without it.
    postgres(connection.url, postgresJsOptions(connection, { max, fetch_types: false, onnotice: () => {}, connection: { application_name: 'ttp-rule-store' }, ...pooled })),
    { onRepair: repaired, ...(options.transport === 'poll' ? { limit: createQueryLimiter(max) } : {}) },
  );
  const writeSql: Sql = withDenseResults(
    postgres(connection.url, postgresJsOptions(connection, { max: WRITE_CONNECTIONS, onnotice: () => {}, connection: { application_name: 'ttp-rule-store:write' }, ...pooled })),
    { onRepair: repaired },
  );
  const writer = createPostgresWriter({ writes: writeSql, reads: sql, lockTimeoutMs: options.lockTimeoutMs });
  const guard = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw mapPostgresError(error, what);
    }
  };
  /**
   * Every state row, the rule rows `readRules` selects, and the head, in one
   * REPEATABLE READ snapshot: because positions follow commit order, the rows it
   * sees are exactly the effect of the events up to its max(position).
   */
  const snapshot = <R>(what: string, readRules: (tx: TransactionSql) => Promise<R[]>) =>
    guard(what, async () => {
      return (await sql.begin('isolation level repeatable read read only', async (tx) => {
        const [head] = await tx<{ head: string }[]>`SELECT coalesce(max(position), 0)::text AS head FROM ttp_rule_event`;
        const rules = await readRules(tx);
        const states = await tx`SELECT * FROM ttp_rule_state ORDER BY rule_id COLLATE "C"`;
        return { position: BigInt(head?.head ?? '0'), rules, states: states.map((r) => stateRow(r as Json)) };
      })) as { position: bigint; rules: R[]; states: StateRow[] };
    });
  try {
    await assertMigrated(sql);
  } catch (error) {
    await Promise.all([sql.end({ timeout: 1 }), writeSql.end({ timeout: 1 })]);
    throw mapPostgresError(error, 'open');
  }

  const backend: Backend = {
    kind: 'postgres',

    readEvents: (after, { limit, upTo, maxBytes, maxRuleBytes }) =>
      guard('read the event log', async () => {
        // Tagged templates are prepared statements (about half the cost of an unprepared read).
        // Sizes are measured in the query, without sending anything: `yaml` is the
        // rule document's size, `*_stored` the rows' stored (possibly compressed)
        // sizes. A row's body comes with it only when it is small enough that a
        // whole page of such rows stays within maxBytes (`inline`); a larger one
        // that fits the limits is fetched next, only if the page reaches it, and
        // an oversized one never. So this reads at most about maxBytes of rows
        // whatever they hold. One event more than asked (and no upper bound): the
        // next event tells whether the last one returned ends its transaction (see
        // groupCommits). Each event's commit is the one stored when it was logged
        // (commit_position, migration 0007).
        const inline = Math.min(maxRuleBytes, Math.floor(maxBytes / (limit + 1)));
        const rows = (await sql`
          SELECT position, rule_id, entity, op, actor, login_role, recorded_at, txid::text AS txid, commit_position, yaml, rule_stored + state_stored AS stored, bytes,
                 CASE WHEN bytes <= ${inline}::int8 THEN rule_row END AS rule_row,
                 CASE WHEN bytes <= ${inline}::int8 THEN state_row END AS state_row
            FROM (SELECT e.*, greatest(e.yaml, e.rule_stored) + e.state_stored AS bytes
                    FROM (SELECT position, rule_id, entity, op, actor, login_role, recorded_at, txid, commit_position, rule_row, state_row,
                                 coalesce(octet_length(rule_row->>'yaml_content'), 0)::int8 AS yaml,
                                 coalesce(pg_column_size(rule_row), 0)::int8 AS rule_stored, coalesce(pg_column_size(state_row), 0)::int8 AS state_stored
                            FROM ttp_rule_event WHERE position > ${after.toString()}::bigint ORDER BY position LIMIT ${limit + 1}) e) e`) as unknown as Json[];
        const ceiling = maxRowBytes(maxRuleBytes);
        const page: Json[] = [];
        const oversized = new Map<Json, number>();
        const fetch: string[] = [];
        let bytes = 0;
        for (const row of rows) {
          if (page.length === limit || (upTo !== undefined && BigInt(String(row['position'])) > upTo)) break;
          page.push(row);
          const yaml = Number(row['yaml']);
          const stored = Number(row['stored']);
          const size = yaml > maxRuleBytes ? yaml : stored > ceiling ? stored : null;
          if (size !== null) oversized.set(row, size);
          else {
            bytes += Number(row['bytes']);
            if (Number(row['bytes']) > inline) fetch.push(String(row['position']));
          }
          if (bytes >= maxBytes) break;
        }
        if (fetch.length > 0) {
          const bodies = new Map((await sql`SELECT position::text AS position, rule_row, state_row FROM ttp_rule_event WHERE position = ANY(string_to_array(${fetch.join(',')}, ',')::bigint[])`).map((r) => [String(r['position']), r]));
          for (let i = 0; i < page.length; i++) {
            const row = page[i]!;
            if (oversized.has(row) || Number(row['bytes']) <= inline) continue;
            const body = bodies.get(String(row['position']));
            // Compacted away between the two reads: a hole now.
            if (body) page[i] = { ...row, rule_row: body['rule_row'], state_row: body['state_row'] };
            else page[i] = { ...row, gone: true };
          }
        }
        const events = groupCommits(page, rows[page.length], oversized);
        const next = rows[page.length];
        return { events, ...endOfPage(after, events, next === undefined ? null : BigInt(String(next['position'])), upTo) };
      }),

    readHistory: (ruleId, limit, upTo) =>
      guard('read the event log', async () => {
        const rows = await sql`
          SELECT position, rule_id, entity, op, rule_row, state_row, actor, login_role, recorded_at FROM ttp_rule_event
           WHERE (${ruleId}::text IS NULL OR rule_id = ${ruleId}::text) AND (${upTo === undefined ? null : upTo.toString()}::bigint IS NULL OR position <= ${upTo === undefined ? null : upTo.toString()}::bigint)
           ORDER BY position DESC LIMIT ${limit}`;
        return rows.map((r) => logEvent(r as Json));
      }),

    readHead: () =>
      guard('read the log head', async () => {
        const [row] = await sql<{ head: string }[]>`SELECT coalesce(max(position), 0)::text AS head FROM ttp_rule_event`;
        return BigInt(row?.head ?? '0');
      }),

    readSnapshot: (): Promise<RowSnapshot> =>
      snapshot('take a snapshot', async (tx) => (await tx`SELECT * FROM ttp_rule ORDER BY rule_id COLLATE "C"`).map((r) => ruleRow(r as Json))),

    readRule: (ruleId) =>
      guard('read a rule', async () => {
        // One statement, one snapshot: the state is the one in force with this row.
        const [row] = await sql`
          SELECT r.rule_id, r.rule_version, r.source_path, r.yaml_content, r.updated_at, r.updated_by,
                 s.rule_id AS state_rule_id, s.state, s.confidence_max, s.expires_at, s.reason, s.set_by, s.set_at
            FROM ttp_rule r LEFT JOIN ttp_rule_state s ON s.rule_id = r.rule_id
           WHERE r.rule_id = ${ruleId}`;
        if (!row) return null;
        return { rule: ruleRow(row as Json), state: row['state_rule_id'] === null ? null : stateRow(row as Json) } satisfies RuleWithStateRow;
      }),

    readState: (ruleId) =>
      guard('read a rule state', async () => {
        const [row] = await sql`SELECT * FROM ttp_rule_state WHERE rule_id = ${ruleId}`;
        return row ? stateRow(row as Json) : null;
      }),

    writeState: (w: StateWrite) =>
      guard(`set the state of ${w.ruleId}`, async () => {
        const [row] = await writer.statement(`set the state of ${w.ruleId}`, (tx) => tx`
          INSERT INTO ttp_rule_state (rule_id, state, confidence_max, expires_at, reason, set_by, set_at)
          SELECT ${w.ruleId}, ${w.state}, ${w.confidenceMax}, ${w.expiresAt}, ${w.reason}, ${w.setBy}, now()
            FROM ${markLibraryWrite(tx, w.setBy)}
          ON CONFLICT (rule_id) DO UPDATE SET
            state = excluded.state, confidence_max = excluded.confidence_max, expires_at = excluded.expires_at,
            reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at
          RETURNING *`);
        return stateRow(row as Json);
      }),

    deleteState: (ruleId, actor) =>
      guard(`clear the state of ${ruleId}`, async () => {
        const rows = await writer.transaction(`clear the state of ${ruleId}`, async (tx) => {
          await tx`SELECT set_config('ttp_rule_store.actor', ${actor}, true)`;
          return tx`DELETE FROM ttp_rule_state WHERE rule_id = ${ruleId} RETURNING rule_id`;
        });
        return rows.length > 0;
      }),

    writeRules: (rules, actor, prune) =>
      guard('write rules', async () => {
        if (rules.length === 1 && !prune) {
          // The hot path (one edit): one prepared statement, pipelined with BEGIN and COMMIT.
          const rows = await writer.statement('write rules', (tx) => upsertQuery(tx, rules, actor));
          return { upserted: rows.map((r) => String(r['rule_id'])), deleted: [] };
        }
        return (await writer.transaction('write rules', async (tx) => {
          await tx`SELECT set_config('ttp_rule_store.actor', ${actor}, true)`;
          const upserted: string[] = [];
          for (let i = 0; i < rules.length; i += WRITE_CHUNK) {
            upserted.push(...(await upsertChunk(tx, rules.slice(i, i + WRITE_CHUNK), actor)));
          }
          let deleted: string[] = [];
          if (prune) {
            const keep = rules.map((r) => r.ruleId);
            const rows = await tx`
              DELETE FROM ttp_rule
               WHERE starts_with(source_path, ${prune.under}) AND NOT (rule_id = ANY(${keep}::text[]))
              RETURNING rule_id`;
            deleted = rows.map((r) => String(r['rule_id']));
          }
          return { upserted, deleted } satisfies BatchResult;
        })) as BatchResult;
      }),

    deleteRules: (ruleIds, actor) =>
      guard('delete rules', async () => {
        const rows = await writer.transaction('delete rules', async (tx) => {
          await tx`SELECT set_config('ttp_rule_store.actor', ${actor}, true)`;
          return tx`DELETE FROM ttp_rule WHERE rule_id = ANY(${[...ruleIds]}::text[]) RETURNING rule_id`;
        });
        return rows.map((r) => String(r['rule_id']));
      }),

    revertExpired: (ruleId) =>
      guard('revert expired states', async () => {
        const rows = await writer.statement('revert expired states', (tx) => tx`SELECT ttp_rule_revert_expired(${ruleId ?? null}) AS rule_id`);
        return rows.map((r) => String(r['rule_id']));
      }),

    readLatestEvents: (upTo, ruleId) =>
      guard('read the event log', async () => {
        // Two statements rather than an optional filter: each keeps its own plan
        // (one rule reads its newest events through ttp_rule_event_rule_id_idx).
        const rows =
          ruleId === undefined
            ? await sql`
          SELECT DISTINCT ON (rule_id, entity) position, rule_id, entity, op, rule_row, state_row, actor, login_role, recorded_at
            FROM ttp_rule_event WHERE position <= ${upTo.toString()}::bigint
           ORDER BY rule_id, entity, position DESC`
            : await sql`
          SELECT DISTINCT ON (entity) position, rule_id, entity, op, rule_row, state_row, actor, login_role, recorded_at
            FROM ttp_rule_event WHERE rule_id = ${ruleId} AND position <= ${upTo.toString()}::bigint
           ORDER BY entity, position DESC`;
        return rows.map((r) => logEvent(r as Json));
      }),

    readReadableFrom: () =>
      guard('read the log retention', async () => {
        const [row] = await sql<{ p: string }[]>`SELECT readable_from::text AS p FROM ttp_rule_log_meta`;
        return BigInt(row?.p ?? '0');
      }),

    readPrunedThrough: () =>
      guard('read the log retention', async () => {
        const [row] = await sql<{ p: string }[]>`SELECT pruned_through::text AS p FROM ttp_rule_log_meta`;
        return BigInt(row?.p ?? '0');
      }),

    readPositionBefore: (cutoff) =>
      guard('read the log retention', async () => {
        const [row] = await sql<{ p: string }[]>`SELECT coalesce(max(position), 0)::text AS p FROM ttp_rule_event WHERE recorded_at < ${cutoff}`;
        return BigInt(row?.p ?? '0');
      }),

    pruneLog: (before) =>
      guard('prune the event log', async () => {
        const [row] = await sql<{ n: string }[]>`SELECT ttp_rule_prune_log(${before.toString()}::bigint)::text AS n`;
        return Number(row?.n ?? 0);
      }),

    readConsumers: () =>
      guard('read consumers', async () => {
        const rows = await sql`SELECT name, position::text AS position, updated_at FROM ttp_rule_consumer ORDER BY name`;
        return rows.map((r) => ({ name: String(r['name']), position: BigInt(String(r['position'])), updatedAt: date(r['updated_at']) }));
      }),

    readConsumer: (name) =>
      guard('read a consumer', async () => {
        const [r] = await sql`SELECT name, position::text AS position, updated_at FROM ttp_rule_consumer WHERE name = ${name}`;
        return r ? { name: String(r['name']), position: BigInt(String(r['position'])), updatedAt: date(r['updated_at']) } : null;
      }),

    writeConsumer: (name, position) =>
      guard(`checkpoint the consumer ${name}`, async () => {
        await sql`
          INSERT INTO ttp_rule_consumer (name, position) VALUES (${name}, ${position.toString()}::bigint)
          ON CONFLICT (name) DO UPDATE SET position = greatest(ttp_rule_consumer.position, excluded.position), updated_at = now()`;
      }),

    deleteConsumer: (name) =>
      guard(`remove the consumer ${name}`, async () => (await sql`DELETE FROM ttp_rule_consumer WHERE name = ${name} RETURNING name`).length > 0),

    msUntilNextExpiry: () =>
      guard('read the next expiry', async () => {
        const [row] = await sql<{ ms: number | null }[]>`
          SELECT (extract(epoch FROM min(expires_at) - now()) * 1000)::float8 AS ms
            FROM ttp_rule_state WHERE expires_at IS NOT NULL`;
        return row?.ms ?? null;
      }),

    createFeed: (): Feed =>
      options.transport === 'poll'
        ? createPollFeed({ intervalMs: options.pollIntervalMs, logger: options.logger })
        : createListenFeed({
            url: connection.url,
            channel: 'ttp_rule_event',
            safetyCheckMs: options.safetyCheckMs,
            logger: options.logger,
            probe: { notify: async (channel) => void (await sql`SELECT pg_notify(${channel}, 'probe')`), timeoutMs: LISTEN_PROBE_MS },
          }),

    readLatestMetadataEvents: (upTo) =>
      guard('read the event log', async () => {
        const rows = await sql`
          SELECT DISTINCT ON (rule_id, entity) position, rule_id, entity, op, rule_row - 'yaml_content' AS rule_row, state_row, actor, login_role, recorded_at
            FROM ttp_rule_event WHERE position <= ${upTo.toString()}::bigint
           ORDER BY rule_id, entity, position DESC`;
        return rows.map((r) => metadataEvent(r as Json));
      }),

    readMetadataSnapshot: (): Promise<MetadataSnapshot> =>
      snapshot('list rule metadata', async (tx) =>
        (await tx`SELECT rule_id, rule_version, source_path, updated_at, updated_by FROM ttp_rule ORDER BY rule_id COLLATE "C"`).map((r) => ruleMetadataRow(r as Json)),
      ),

    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), writeSql.end({ timeout: 5 })]);
    },
  };
  return backend;
}

/**
 * Decodes a page of event rows and stamps each event's transaction: `commit` is
 * the first position of its transaction, stored with the event when it was logged
 * (commit_position, migration 0007), and `lastInCommit` holds when the next event
 * (the next row, or the read-ahead row after the page) belongs to another
 * transaction, or when there is none — a committed transaction becomes visible
 * whole, so the last visible event ends its transaction.
 *
 * Why the first position is increasing in commit order (txids are not: a
 * transaction takes its txid at its first write of anything, which may be long
 * before it queues for the writers' lock): every statement that writes a rule or
 * state first takes the writers' lock (0004), held until the transaction ends, and
 * positions are handed out only under it. So the positions of one transaction form
 * a run that no other transaction's positions interleave, and a transaction's first
 * position is above every position of each transaction that committed before it.
 * Because it is stored, compaction (`prune`) does not change it: once a
 * transaction's first events are deleted, its retained events still report the
 * original first position, as on SQLite.
 */
function groupCommits(rows: readonly Json[], readAhead: Json | undefined, oversized: ReadonlyMap<Json, number>): LogEvent[] {
  const events: LogEvent[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row['gone'] === true) continue;
    const event = logEvent(row);
    const next = rows[i + 1] ?? readAhead;
    event.lastInCommit = next === undefined || String(next['txid']) !== String(row['txid']);
    const size = oversized.get(row);
    if (size !== undefined) event.oversized = size;
    events.push(event);
  }
  return events;
}

/**
 * A one-row FROM item that marks the statement's transaction as the library's
 * write by `actor` (ttp_rule_store.actor, transaction-local). The log triggers
 * then take the author columns as written; a hand edit that leaves them unset is
 * attributed to its login instead (migration 0005). In the statement itself, so
 * that the single-row hot paths stay one autocommit round trip: the setting is
 * evaluated before any row is written, and AFTER ROW triggers run later still.
 */
function markLibraryWrite(sql: Sql | TransactionSql, actor: string) {
  return sql`(SELECT set_config('ttp_rule_store.actor', ${actor}, true)) AS ttp_rule_store_mark`;
}

async function upsertChunk(sql: Sql | TransactionSql, rules: readonly RuleWrite[], actor: string): Promise<string[]> {
  const rows = await upsertQuery(sql, rules, actor);
  return rows.map((r) => String(r['rule_id']));
}

function upsertQuery(sql: Sql | TransactionSql, rules: readonly RuleWrite[], actor: string) {
  // One statement text for any batch size (arrays through unnest), so it is prepared once.
  // Identical content is left alone: no row change, no event, no doorbell.
  return sql`
    INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by)
    SELECT r.rule_id, r.rule_version, r.source_path, r.yaml_content, ${actor}::text
      FROM ${markLibraryWrite(sql, actor)},
           unnest(${rules.map((r) => r.ruleId)}::text[], ${rules.map((r) => r.ruleVersion)}::int[],
                  ${rules.map((r) => r.sourcePath)}::text[], ${rules.map((r) => r.yamlContent)}::text[])
           AS r(rule_id, rule_version, source_path, yaml_content)
    ON CONFLICT (rule_id) DO UPDATE SET
      rule_version = excluded.rule_version, source_path = excluded.source_path,
      yaml_content = excluded.yaml_content, updated_by = excluded.updated_by
    WHERE (ttp_rule.rule_version, ttp_rule.source_path, ttp_rule.yaml_content)
          IS DISTINCT FROM (excluded.rule_version, excluded.source_path, excluded.yaml_content)
    RETURNING rule_id`;
}
