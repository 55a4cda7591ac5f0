import type { Sql } from 'postgres';
import type { WriterLockBlocker } from '../../domain/errors.js';

/** A {@link WriterLockBlocker} with how long its waiters have waited. */
export interface WriterLockBlockerRow extends WriterLockBlocker {
  /** How many sessions wait for the writers' lock behind it. */
  readonly waiters: number;
  /** When the longest of them began to wait (null: nobody waits). */
  readonly waitingSince: Date | null;
}

const date = (value: unknown): Date | null => (value instanceof Date ? value : value === null || value === undefined ? null : new Date(String(value)));

/**
 * The sessions that hold the writers' lock or block a session waiting for it,
 * oldest first, through the owner's SECURITY DEFINER function
 * `ttp_rule_writer_lock_blockers()` (migration 0004): pid, role, application,
 * state and since when. Any role the owner granted EXECUTE may call it
 * (`sql/roles.sql` grants it to ttp_rules_reader).
 */
export async function readWriterLockBlockers(sql: Sql): Promise<WriterLockBlockerRow[]> {
  const rows = await sql`SELECT pid, role, application_name, state, xact_start, state_change, holds, waiters, waiting_since FROM ttp_rule_writer_lock_blockers()`;
  return rows.map((r) => ({
    pid: Number(r['pid']),
    role: (r['role'] as string | null) ?? null,
    applicationName: (r['application_name'] as string | null) ?? null,
    state: (r['state'] as string | null) ?? null,
    since: date(r['state_change']),
    transactionSince: date(r['xact_start']),
    holds: r['holds'] === true,
    waiters: Number(r['waiters'] ?? 0),
    waitingSince: date(r['waiting_since']),
  }));
}

/** One line naming a blocker: `pid 4242 (role ops, application "psql", idle in transaction since 2026-…Z)`. */
export function describeBlocker(blocker: WriterLockBlocker): string {
  const parts = [
    `role ${blocker.role ?? '?'}`,
    `application ${JSON.stringify(blocker.applicationName ?? '')}`,
    blocker.state === null
      ? 'state hidden (grant pg_read_all_stats to the schema owner to see it)'
      : `${blocker.state}${blocker.since ? ` since ${blocker.since.toISOString()}` : ''}`,
  ];
  if (blocker.transactionSince) parts.push(`transaction open since ${blocker.transactionSince.toISOString()}`);
  return `pid ${blocker.pid} (${parts.join(', ')})${blocker.holds ? '' : ', blocking a writer'}`;
}
