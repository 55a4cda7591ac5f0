-- Least-privilege roles for ttp-rule-store (Postgres). Apply as the schema owner
-- after `ttp-rules migrate`, once per database:
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f node_modules/ttp-rule-store/sql/roles.sql
--
-- It is idempotent, and safe to run for several databases of one server at the
-- same time (roles are cluster-wide). The three roles are NOLOGIN groups; give
-- them to login roles, one login per engine host, bridge or person, so that the
-- log's login_role names who did what (docs/security.md):
--
--   CREATE ROLE engine_7 LOGIN PASSWORD '…' IN ROLE ttp_rules_reader;
--
--   ttp_rules_reader    engines and bridges: read rules, states, the log and every
--                       consumer checkpoint; LISTEN (needs no grant); register,
--                       advance and remove their OWN named consumers (row-level
--                       security on ttp_rule_consumer, migration 0005); revert
--                       states whose expiry has passed (through the SECURITY
--                       DEFINER function ttp_rule_revert_expired, nothing else).
--   ttp_rules_operator  reader + change operational state (ttp_rule_state).
--   ttp_rules_author    operator + change rule definitions (ttp_rule).
--
-- What no group can do (tested in test/postgres/roles.test.ts and test/security/):
-- write the event log other than through their edits (the triggers that append
-- to it run as the owner, and there is no INSERT, UPDATE, DELETE or TRUNCATE on it
-- for anyone else); hide an edit from it (the trigger functions pin their
-- search_path, so a temporary table cannot stand in for the log); disable or
-- alter a trigger or a constraint (that needs the table's owner); move or delete
-- another role's consumer checkpoint; terminate or cancel another login's backend
-- (that needs membership in that login's role, or pg_signal_backend, which this
-- file never grants: do not grant it to these roles either); call
-- ttp_rule_prune_log (retention is the owner's job). A superuser and the schema
-- owner can do all of it: keep those credentials off engine hosts.
--
-- Connection limits (optional, per login role, not per group: Postgres counts a
-- role's own sessions only). A leaked engine credential can otherwise open every
-- non-superuser slot of the server. A store opens at most its pool
-- (maxConnections, default 4) plus one listener connection; allow one or two
-- more for restarts and psql:
--
--   ALTER ROLE engine_7 CONNECTION LIMIT 6;     -- one engine process per login
--   ALTER ROLE bridge_1 CONNECTION LIMIT 6;     -- ttp-rules bridge
--   ALTER ROLE alice    CONNECTION LIMIT 3;     -- a person with psql / the CLI
--
-- (-1, the default, is no limit; superusers are never limited. Check with
-- SELECT rolname, rolconnlimit FROM pg_roles.)
--
-- Also recommended, as on any Postgres database: no CREATE on schema public for
-- PUBLIC (the default since Postgres 15; databases created by an older version
-- keep the old grant — run `REVOKE CREATE ON SCHEMA public FROM PUBLIC`).

DO $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['ttp_rules_reader', 'ttp_rules_operator', 'ttp_rules_author'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', name);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created at the same moment by a run for another database
      END;
    END IF;
  END LOOP;
  -- Membership is cluster-wide too: grant it only once, tolerating a parallel run.
  BEGIN
    IF NOT pg_has_role('ttp_rules_operator', 'ttp_rules_reader', 'MEMBER') THEN
      GRANT ttp_rules_reader TO ttp_rules_operator;
    END IF;
    IF NOT pg_has_role('ttp_rules_author', 'ttp_rules_operator', 'MEMBER') THEN
      GRANT ttp_rules_operator TO ttp_rules_author;
    END IF;
  EXCEPTION WHEN unique_violation OR duplicate_object OR internal_error THEN
    NULL; -- "tuple concurrently updated": the other run granted it
  END;
END
$$;

REVOKE ALL ON ttp_rule, ttp_rule_state, ttp_rule_event, ttp_rule_log_meta, ttp_rule_consumer FROM PUBLIC;
REVOKE ALL ON FUNCTION ttp_rule_prune_log(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ttp_rule_revert_expired(text) FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO ttp_rules_reader;
GRANT SELECT ON ttp_rule, ttp_rule_state, ttp_rule_event, ttp_rule_log_meta, ttp_rule_consumer, pgmigrations TO ttp_rules_reader;
-- Named consumers (bridges, engines) keep their own checkpoint: the row-level
-- security policies of migration 0005 limit INSERT, UPDATE and DELETE to rows whose
-- owner_role is the current role, and no column right on owner_role is granted, so
-- a row gets its registering role from the column default and keeps it.
REVOKE INSERT, UPDATE ON ttp_rule_consumer FROM ttp_rules_reader; -- table-wide rights of older versions
GRANT INSERT (name, position), UPDATE (position, updated_at), DELETE ON ttp_rule_consumer TO ttp_rules_reader;
GRANT EXECUTE ON FUNCTION ttp_rule_revert_expired(text) TO ttp_rules_reader;

GRANT INSERT, UPDATE, DELETE ON ttp_rule_state TO ttp_rules_operator;
GRANT INSERT, UPDATE, DELETE ON ttp_rule TO ttp_rules_author;

-- Who holds the writers' lock (migration 0004): named in LOCK_TIMEOUT errors and by `ttp-rules doctor`.
REVOKE ALL ON ttp_rule_writer_lock FROM PUBLIC;
REVOKE ALL ON FUNCTION ttp_rule_writer_lock_blockers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ttp_rule_writer_lock_blockers() TO ttp_rules_reader;
