-- Up Migration

-- The writers' lock is a table lock that only the owner can take. 0001 took a
-- transaction-level advisory lock on a fixed key, and any login role can take
-- any advisory key: `BEGIN; SELECT pg_advisory_xact_lock(4195823301453231666);`
-- from a role with no grants at all froze every rule write and expiry revert for
-- as long as it idled. Nobody but the owner has any right on this table, and
-- LOCK TABLE checks the right before it queues; the statement triggers take the
-- lock as the owner (SECURITY DEFINER), so the only way to take it is to start
-- writing ttp_rule or ttp_rule_state, which needs those grants. (Lesser locks
-- that anyone's `SELECT` takes before its permission check, ACCESS SHARE, do not
-- conflict with EXCLUSIVE, and go with the failed statement.)
--
-- A table lock rather than `SELECT … FOR UPDATE` on a row: a row lock is two
-- waits in turn (the tuple lock, then the holder's transaction), each bounded by
-- lock_timeout on its own, so a writer queued behind another waiter could wait
-- twice lockTimeoutMs; a table lock is one wait in the lock manager's queue.
--
-- Commit order is kept as 0001 states it: every writing statement on ttp_rule or
-- ttp_rule_state first takes this lock (statement trigger, before any row lock
-- of the statement, so it adds no new deadlock), held until the transaction
-- ends, like the advisory lock was. Positions are therefore handed out by one
-- writer at a time, and a transaction that takes positions commits before the
-- next writer can take any.
CREATE TABLE ttp_rule_writer_lock (
  singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT ttp_rule_writer_lock_singleton CHECK (singleton)
);
INSERT INTO ttp_rule_writer_lock DEFAULT VALUES;
REVOKE ALL ON ttp_rule_writer_lock FROM PUBLIC;

-- Both functions below get search_path = pg_catalog, <this schema>, pg_temp at the
-- end of this file (nothing a session creates can shadow what they name; pg_temp
-- last), and name the store's objects through it, so that the schema is whichever
-- the migrations run in, as in 0005.
CREATE OR REPLACE FUNCTION ttp_rule_store_lock() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  AS $$
BEGIN
  -- One lock for both tables. A library write sets lock_timeout (lockTimeoutMs)
  -- and names whoever holds this lock when it expires.
  LOCK TABLE ttp_rule_writer_lock IN EXCLUSIVE MODE;
  RETURN NULL;
END
$$;

-- Who holds the writers' lock, or blocks a session that waits for it: the
-- sessions to name when a write times out and in `ttp-rules doctor`. A holder
-- has the EXCLUSIVE lock on ttp_rule_writer_lock granted; a session waiting for
-- it (or for ttp_rule / ttp_rule_state themselves, or a holder that waits for a
-- row) is blocked, and whoever blocks it and waits on nothing is named too.
-- SECURITY DEFINER so that state and times show for the owner's view of
-- pg_stat_activity: an owner that is not a superuser sees other roles' state
-- only with pg_read_all_stats (otherwise state and the times come back null).
CREATE FUNCTION ttp_rule_writer_lock_blockers()
  RETURNS TABLE (pid integer, role text, application_name text, state text, xact_start timestamptz,
                 state_change timestamptz, holds boolean, waiters integer, waiting_since timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  AS $$
  WITH here AS (
    SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()
  ), lockers AS (
    SELECT DISTINCT l.pid FROM pg_catalog.pg_locks l, here
     WHERE l.locktype = 'relation' AND l.database = here.oid AND l.granted AND l.mode = 'ExclusiveLock'
       AND l.relation = 'ttp_rule_writer_lock'::pg_catalog.regclass
  ), waiting AS (
    SELECT l.pid, pg_catalog.min(l.waitstart) AS since FROM pg_catalog.pg_locks l
     WHERE NOT l.granted GROUP BY l.pid
  ), waiters AS (
    -- writers that wait: for the writers' lock or the rule tables, or holding the lock, for anything
    SELECT w.pid, w.since FROM waiting w WHERE w.pid IN (SELECT k.pid FROM lockers k)
    UNION
    SELECT w.pid, w.since FROM waiting w JOIN pg_catalog.pg_locks l ON l.pid = w.pid AND NOT l.granted, here
     WHERE l.locktype = 'relation' AND l.database = here.oid
       AND l.relation IN ('ttp_rule_writer_lock'::pg_catalog.regclass, 'ttp_rule'::pg_catalog.regclass,
                          'ttp_rule_state'::pg_catalog.regclass)
  ), blocked AS (
    SELECT b.pid, pg_catalog.count(*)::integer AS n, pg_catalog.min(x.since) AS since
      FROM waiters x, LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(x.pid)) AS b(pid)
     WHERE b.pid NOT IN (SELECT w.pid FROM waiting w)
     GROUP BY b.pid
  ), roots AS (
    SELECT k.pid FROM lockers k WHERE k.pid NOT IN (SELECT w.pid FROM waiting w)
    UNION
    SELECT b.pid FROM blocked b
  )
  SELECT a.pid, a.usename::text, a.application_name, a.state, a.xact_start, a.state_change,
         r.pid IN (SELECT k.pid FROM lockers k), coalesce(b.n, 0), b.since
    FROM roots r
    JOIN pg_catalog.pg_stat_activity a ON a.pid = r.pid
    LEFT JOIN blocked b ON b.pid = r.pid
   WHERE r.pid <> pg_catalog.pg_backend_pid()
   ORDER BY coalesce(b.since, a.state_change, a.xact_start), a.pid
$$;
REVOKE ALL ON FUNCTION ttp_rule_writer_lock_blockers() FROM PUBLIC;

DO $$
BEGIN
  EXECUTE pg_catalog.format('ALTER FUNCTION ttp_rule_store_lock() SET search_path = pg_catalog, %I, pg_temp', pg_catalog.current_schema());
  EXECUTE pg_catalog.format('ALTER FUNCTION ttp_rule_writer_lock_blockers() SET search_path = pg_catalog, %I, pg_temp', pg_catalog.current_schema());
END
$$;

-- Down Migration

DROP FUNCTION IF EXISTS ttp_rule_writer_lock_blockers();
CREATE OR REPLACE FUNCTION ttp_rule_store_lock() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  -- Key 0x7474705F72756C65 / 2 ("ttp_rule"): one lock for both tables.
  PERFORM pg_advisory_xact_lock(4195823301453231666);
  RETURN NULL;
END
$$;
DROP TABLE IF EXISTS ttp_rule_writer_lock;
