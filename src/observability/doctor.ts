import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { RuleStoreError } from '../domain/errors.js';
import { isPostgresUrl } from '../store/databaseUrl.js';
import { openRuleStore } from '../store/openRuleStore.js';
import { MIGRATIONS_TABLE, knownMigrations } from '../store/postgres/migrate.js';
import { postgresJsOptions, resolvePostgresConnection } from '../store/postgres/postgresConnection.js';
import { describeBlocker, readWriterLockBlockers } from '../store/postgres/writerLockBlockers.js';

/** One finding of {@link diagnose}. */
export interface DoctorCheck {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
}

/** Options of {@link diagnose}. */
export interface DiagnoseOptions {
  /** How long to wait for a test NOTIFY (default 2000 ms). */
  listenTimeoutMs?: number;
  /** Warn when a named consumer is further behind than this (default 10,000 positions). */
  maxConsumerLag?: number;
  /**
   * Fail when a session holds the writers' lock idle in transaction, or keeps a
   * writer waiting for it, longer than this (ms, default 10,000).
   */
  lockThresholdMs?: number;
  /**
   * The transport the deployment's stores use (default `'listen'`). With `'poll'`
   * a LISTEN that cannot work (pgbouncer in transaction pooling) is reported as
   * `ok`, since poll needs none; with `'listen'` it fails the check.
   */
  transport?: 'listen' | 'poll';
}

const TRIGGERS: Record<string, string[]> = {
  ttp_rule: ['ttp_rule_00_lock', 'ttp_rule_10_touch', 'ttp_rule_20_log', 'ttp_rule_30_log_truncate'],
  ttp_rule_state: ['ttp_rule_state_00_lock', 'ttp_rule_state_10_touch', 'ttp_rule_state_20_log', 'ttp_rule_state_30_log_truncate'],
  ttp_rule_event: ['ttp_rule_event_doorbell'],
};

const ok = (name: string, detail: string): DoctorCheck => ({ name, status: 'ok', detail });
const warn = (name: string, detail: string): DoctorCheck => ({ name, status: 'warn', detail });
const fail = (name: string, detail: string): DoctorCheck => ({ name, status: 'fail', detail });

async function consumerChecks(url: string, maxLag: number): Promise<DoctorCheck[]> {
  const store = await openRuleStore({ url, revertExpired: false, transport: 'poll', pollIntervalMs: 60_000 });
  try {
    const stats = await store.stats();
    const consumers = await store.consumers();
    const lagging = consumers.filter((c) => BigInt(c.lag) > BigInt(maxLag));
    const list = consumers.map((c) => `${c.name} at ${c.position} (lag ${c.lag})`).join(', ');
    return [
      ok('log', `head at position ${stats.head}`),
      consumers.length === 0
        ? ok('consumers', 'no named consumers')
        : lagging.length > 0
          ? warn('consumers', `${lagging.length} lagging more than ${maxLag}: ${list} — they also hold log retention back`)
          : ok('consumers', list),
    ];
  } finally {
    await store.close();
  }
}

/**
 * Who holds the writers' lock, and for how long: a session idle in transaction
 * with the lock (a forgotten psql `BEGIN; UPDATE ttp_rule_state …`), or one that
 * keeps writers waiting, past the threshold is a failure, named.
 */
async function writerLockCheck(sql: postgres.Sql, thresholdMs: number): Promise<DoctorCheck> {
  const name = 'writer-lock';
  let blockers;
  try {
    blockers = await readWriterLockBlockers(sql);
  } catch (error) {
    return warn(name, `cannot see who holds the writers' lock (${(error as Error).message}): run doctor as the schema owner or a ttp_rules_reader`);
  }
  if (blockers.length === 0) return ok(name, 'free');
  const [clock] = await sql<{ now: Date }[]>`SELECT clock_timestamp() AS now`;
  const now = clock!.now.getTime();
  const age = (d: Date | null): number => (d ? now - d.getTime() : 0);
  const stuck = blockers.filter(
    (b) => (b.holds && b.state?.startsWith('idle in transaction') === true && age(b.since) > thresholdMs) || age(b.waitingSince) > thresholdMs,
  );
  const describe = (b: (typeof blockers)[number]): string =>
    `${describeBlocker(b)}${b.waiters > 0 ? `, ${b.waiters} writer(s) waiting for ${(age(b.waitingSince) / 1000).toFixed(1)} s` : ''}`;
  if (stuck.length > 0) {
    return fail(name, `held or blocked longer than ${thresholdMs} ms by ${stuck.map(describe).join('; ')}: every rule write and expiry revert waits (then fails with LOCK_TIMEOUT); end it with SELECT pg_terminate_backend(<pid>)`);
  }
  return ok(name, `in use by ${blockers.map(describe).join('; ')} (under ${thresholdMs} ms)`);
}

async function diagnosePostgres(url: string, options: Required<DiagnoseOptions>): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const connection = resolvePostgresConnection(url);
  // Unnamed statements: the URL may point at a transaction pooler (pgbouncer).
  const sql = postgres(connection.url, postgresJsOptions(connection, { max: 2, onnotice: () => {}, connect_timeout: 5, prepare: false }));
  try {
    const [server] = await sql<{ version: string; standby: boolean }[]>`SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS standby`;
    checks.push(ok('connect', `PostgreSQL ${server!.version}`));

    const [table] = await sql<{ name: string | null }[]>`SELECT to_regclass(${MIGRATIONS_TABLE})::text AS name`;
    const applied = table?.name ? (await sql<{ name: string }[]>`SELECT name FROM ${sql(MIGRATIONS_TABLE)} ORDER BY run_on, name`).map((r) => r.name) : [];
    const known = knownMigrations();
    const missing = known.filter((m) => !applied.includes(m));
    const unknown = applied.filter((m) => !known.includes(m) && /^\d{4}_/.test(m));
    if (missing.length > 0) checks.push(fail('schema', `missing ${missing.join(', ')}: run \`npx ttp-rules migrate\``));
    // openRuleStore refuses such a database (SCHEMA_TOO_NEW): a failure, not a warning.
    else if (unknown.length > 0) checks.push(fail('schema', `applied migrations this version does not know (${unknown.join(', ')}): upgrade ttp-rule-store`));
    else checks.push(ok('schema', `${known.join(', ')} applied`));

    if (missing.length === 0) {
      const rows = await sql<{ table: string; name: string; enabled: string }[]>`
        SELECT c.relname AS table, t.tgname AS name, t.tgenabled AS enabled
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE NOT t.tgisinternal AND c.relname IN ('ttp_rule', 'ttp_rule_state', 'ttp_rule_event')`;
      const present = new Map(rows.map((r) => [`${r.table}.${r.name}`, r.enabled]));
      const absent = Object.entries(TRIGGERS).flatMap(([t, names]) => names.map((n) => `${t}.${n}`)).filter((n) => !present.has(n));
      const disabled = [...present].filter(([, enabled]) => enabled === 'D').map(([n]) => n);
      if (absent.length > 0) checks.push(fail('triggers', `missing ${absent.join(', ')}: changes are not logged`));
      else if (disabled.length > 0) checks.push(fail('triggers', `disabled: ${disabled.join(', ')} (ALTER TABLE … ENABLE TRIGGER)`));
      else checks.push(ok('triggers', `${present.size} triggers present and enabled`));
      checks.push(await writerLockCheck(sql, options.lockThresholdMs));
    }

    if (server!.standby) {
      checks.push(
        options.transport === 'poll'
          ? ok('listen', 'hot standby: NOTIFY is not delivered on a replica, and transport poll needs none')
          : warn('listen', "hot standby (pg_is_in_recovery): NOTIFY is not delivered on a replica; open stores with transport: 'poll'"),
      );
    } else {
      const channel = `ttp_rule_doctor_${randomBytes(4).toString('hex')}`;
      let heard = false;
      let resolveHeard: () => void = () => {};
      const heardPromise = new Promise<void>((resolve) => (resolveHeard = resolve));
      const listener = await sql.listen(channel, () => {
        heard = true;
        resolveHeard();
      });
      const started = performance.now();
      await sql.notify(channel, 'ping');
      await Promise.race([heardPromise, new Promise((resolve) => setTimeout(resolve, options.listenTimeoutMs))]);
      await listener.unlisten();
      const elapsed = `${(performance.now() - started).toFixed(1)} ms`;
      checks.push(
        heard
          ? ok('listen', `a NOTIFY arrived in ${elapsed}${options.transport === 'poll' ? ' (transport poll does not need it)' : ''}`)
          : options.transport === 'poll'
            ? ok('listen', `a NOTIFY did not arrive within ${options.listenTimeoutMs} ms (a transaction pooler such as pgbouncer?): fine for transport poll, which needs no LISTEN`)
            : fail('listen', `a NOTIFY did not arrive within ${options.listenTimeoutMs} ms: behind pgbouncer in transaction pooling or another proxy? Use transport: 'poll' (--transport poll)`),
      );
    }

    const t0 = Date.now();
    const [clock] = await sql<{ now: Date }[]>`SELECT now() AS now`;
    const t1 = Date.now();
    const skew = clock!.now.getTime() - (t0 + t1) / 2;
    const skewText = `server clock ${skew >= 0 ? 'ahead of' : 'behind'} this host by ${Math.abs(skew).toFixed(0)} ms (±${((t1 - t0) / 2).toFixed(0)})`;
    checks.push(Math.abs(skew) > 1000 ? warn('clock', `${skewText}: expiry timers fire late or early by that much (reverts stay correct)`) : ok('clock', skewText));

    const [queue] = await sql<{ usage: number }[]>`SELECT pg_notification_queue_usage() AS usage`;
    const usage = queue!.usage;
    checks.push(usage > 0.5 ? warn('notify-queue', `${(usage * 100).toFixed(1)}% used: a listener is not draining (a stuck session holding LISTEN?)`) : ok('notify-queue', `${(usage * 100).toFixed(2)}% used`));
  } catch (error) {
    checks.push(fail('connect', `cannot use the database: ${(error as Error).message}`));
    return checks;
  } finally {
    await sql.end({ timeout: 1 });
  }
  if (checks.some((c) => c.status === 'fail' && (c.name === 'schema' || c.name === 'connect'))) return checks;
  return [...checks, ...(await consumerChecks(url, options.maxConsumerLag))];
}

async function diagnoseSqlite(url: string, options: Required<DiagnoseOptions>): Promise<DoctorCheck[]> {
  try {
    const store = await openRuleStore({ url, migrate: false, revertExpired: false, pollIntervalMs: 60_000 });
    await store.close();
  } catch (error) {
    return [fail('schema', RuleStoreError.is(error) ? `${error.message} [${error.code}]` : String(error))];
  }
  return [ok('schema', 'SQLite schema up to date (triggers are part of it)'), ok('listen', 'SQLite: changes are polled (PRAGMA data_version), no LISTEN needed'), ...(await consumerChecks(url, options.maxConsumerLag))];
}

/**
 * Checks a deployment: schema version, triggers present, who holds the writers'
 * lock (fails past `lockThresholdMs`), LISTEN works (or why not: pgbouncer, hot
 * standby), clock skew between this host and the server,
 * named consumers' lag, and NOTIFY queue usage. Never throws for what it finds.
 *
 * @example for (const c of await diagnose(url)) console.log(c.status, c.name, c.detail)
 */
export async function diagnose(url: string, options: DiagnoseOptions = {}): Promise<DoctorCheck[]> {
  const resolved = {
    listenTimeoutMs: options.listenTimeoutMs ?? 2000,
    maxConsumerLag: options.maxConsumerLag ?? 10_000,
    lockThresholdMs: options.lockThresholdMs ?? 10_000,
    transport: options.transport ?? 'listen',
  };
  return isPostgresUrl(url) ? diagnosePostgres(url, resolved) : diagnoseSqlite(url, resolved);
}
