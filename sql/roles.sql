-- Least-privilege roles for ttp-rule-store (Postgres). Apply as the schema owner
-- after `ttp-rules migrate`, once per database:
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f node_modules/ttp-rule-store/sql/roles.sql
--
-- It is idempotent. The three roles are NOLOGIN groups; give them to login roles:
--
--   CREATE ROLE engine_7 LOGIN PASSWORD '…' IN ROLE ttp_rules_reader;
--
--   ttp_rules_reader    engines: read rules, states and the log; LISTEN (needs no
--                       grant); revert states whose expiry has passed (through the
--                       SECURITY DEFINER function ttp_rule_revert_expired, nothing else).
--   ttp_rules_operator  reader + change operational state (ttp_rule_state).
--   ttp_rules_author    operator + change rule definitions (ttp_rule).
--
-- Nobody but the owner may write the event log: the triggers that append to it
-- run as the owner (SECURITY DEFINER), and there is no UPDATE or DELETE on it for
-- anyone else. Retention (trimming the log) is the owner's job.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ttp_rules_reader') THEN
    CREATE ROLE ttp_rules_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ttp_rules_operator') THEN
    CREATE ROLE ttp_rules_operator NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ttp_rules_author') THEN
    CREATE ROLE ttp_rules_author NOLOGIN;
  END IF;
END
$$;

GRANT ttp_rules_reader TO ttp_rules_operator;
GRANT ttp_rules_operator TO ttp_rules_author;

REVOKE ALL ON ttp_rule, ttp_rule_state, ttp_rule_event, ttp_rule_log_meta, ttp_rule_consumer FROM PUBLIC;
REVOKE ALL ON FUNCTION ttp_rule_prune_log(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ttp_rule_revert_expired(text) FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO ttp_rules_reader;
GRANT SELECT ON ttp_rule, ttp_rule_state, ttp_rule_event, ttp_rule_log_meta, ttp_rule_consumer, pgmigrations TO ttp_rules_reader;
-- Named consumers (bridges, engines) keep their own checkpoint.
GRANT INSERT, UPDATE ON ttp_rule_consumer TO ttp_rules_reader;
GRANT EXECUTE ON FUNCTION ttp_rule_revert_expired(text) TO ttp_rules_reader;

GRANT INSERT, UPDATE, DELETE ON ttp_rule_state TO ttp_rules_operator;
GRANT INSERT, UPDATE, DELETE ON ttp_rule TO ttp_rules_author;

-- Who holds the writers' lock (migration 0004): named in LOCK_TIMEOUT errors and by `ttp-rules doctor`.
REVOKE ALL ON ttp_rule_writer_lock FROM PUBLIC;
REVOKE ALL ON FUNCTION ttp_rule_writer_lock_blockers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ttp_rule_writer_lock_blockers() TO ttp_rules_reader;
