-- Up Migration

-- Rules and their operational state: the seed's tables and columns, plus the
-- constraints that reject what can never be valid.
CREATE TABLE ttp_rule (
  rule_id      text PRIMARY KEY
               CONSTRAINT ttp_rule_rule_id_format CHECK (rule_id ~ '^[^.*>[:space:][:cntrl:]]{1,128}$'),
  rule_version integer NOT NULL,
  source_path  text NOT NULL DEFAULT '',
  yaml_content text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  updated_by   text NOT NULL DEFAULT ''
);

CREATE TABLE ttp_rule_state (
  rule_id        text PRIMARY KEY
                 CONSTRAINT ttp_rule_state_rule_id_format CHECK (rule_id ~ '^[^.*>[:space:][:cntrl:]]{1,128}$'),
  state          text NOT NULL
                 CONSTRAINT ttp_rule_state_state_valid CHECK (state IN ('enabled', 'disabled', 'clipped')),
  confidence_max double precision
                 CONSTRAINT ttp_rule_state_confidence_max_range CHECK (confidence_max >= 0 AND confidence_max <= 1),
  expires_at     timestamptz,
  reason         text,
  set_by         text,
  set_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ttp_rule_state_expires_at_idx ON ttp_rule_state (expires_at) WHERE expires_at IS NOT NULL;

-- The append-only event log. One row per insert/update/delete on either table,
-- written by the triggers below in the writer's transaction.
--
-- Positions follow commit order. Every writing statement on ttp_rule or
-- ttp_rule_state first takes one transaction-level advisory lock (statement
-- trigger, before any row lock, so it adds no new deadlock), held until commit.
-- Positions are therefore handed out by one writer at a time, and a transaction
-- that takes positions commits before the next writer can take any: a reader
-- that sees position P has seen every position below P, without a horizon. We
-- chose this over reading below pg_snapshot_xmin() because an idle open
-- transaction anywhere in the database would then stall every reader; here it
-- only delays other rule writers, and rule edits are few. Positions can have
-- holes (a rolled-back writer's sequence values) but never go backwards.
CREATE SEQUENCE ttp_rule_event_position_seq AS bigint;

CREATE TABLE ttp_rule_event (
  position    bigint PRIMARY KEY,
  rule_id     text NOT NULL,
  entity      text NOT NULL CONSTRAINT ttp_rule_event_entity_valid CHECK (entity IN ('rule', 'state')),
  op          text NOT NULL CONSTRAINT ttp_rule_event_op_valid CHECK (op IN ('upsert', 'delete')),
  rule_row    jsonb,
  state_row   jsonb,
  actor       text,
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  txid        xid8 NOT NULL DEFAULT pg_current_xact_id()
);

ALTER SEQUENCE ttp_rule_event_position_seq OWNED BY ttp_rule_event.position;

CREATE INDEX ttp_rule_event_rule_id_idx ON ttp_rule_event (rule_id, position);

-- Who made a change that carries no author column (a delete): the transaction's
-- ttp_rule_store.actor setting if the library set one, else the login role.
CREATE FUNCTION ttp_rule_store_actor() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT coalesce(nullif(current_setting('ttp_rule_store.actor', true), ''), session_user::text) $$;

CREATE FUNCTION ttp_rule_store_lock() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  -- Key 0x7474705F72756C65 / 2 ("ttp_rule"): one lock for both tables.
  PERFORM pg_advisory_xact_lock(4195823301453231666);
  RETURN NULL;
END
$$;

-- updated_at is the database's business: set on insert and on every real change,
-- kept on a no-op update (so a no-op stays a no-op).
CREATE FUNCTION ttp_rule_touch() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (NEW.rule_id, NEW.rule_version, NEW.source_path, NEW.yaml_content, NEW.updated_by)
         IS NOT DISTINCT FROM (OLD.rule_id, OLD.rule_version, OLD.source_path, OLD.yaml_content, OLD.updated_by) THEN
    NEW.updated_at := OLD.updated_at;
  ELSE
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION ttp_rule_state_touch() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (NEW.rule_id, NEW.state, NEW.confidence_max, NEW.expires_at, NEW.reason, NEW.set_by)
         IS NOT DISTINCT FROM (OLD.rule_id, OLD.state, OLD.confidence_max, OLD.expires_at, OLD.reason, OLD.set_by)
     AND NEW.set_at IS NOT DISTINCT FROM OLD.set_at THEN
    RETURN NEW;
  END IF;
  -- A hand edit that changes the state but not set_at still gets a fresh set_at.
  IF TG_OP = 'UPDATE' AND NEW.set_at IS NOT DISTINCT FROM OLD.set_at THEN
    NEW.set_at := now();
  END IF;
  RETURN NEW;
END
$$;

-- The log writers run as the schema owner (SECURITY DEFINER) so that roles with
-- no right on ttp_rule_event can still append through their edits.
CREATE FUNCTION ttp_rule_log_rule() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.rule_id <> OLD.rule_id) THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor)
    VALUES (nextval('ttp_rule_event_position_seq'), OLD.rule_id, 'rule', 'delete', ttp_rule_store_actor());
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, rule_row, state_row, actor)
    VALUES (nextval('ttp_rule_event_position_seq'), NEW.rule_id, 'rule', 'upsert', to_jsonb(NEW),
            (SELECT to_jsonb(s) FROM ttp_rule_state s WHERE s.rule_id = NEW.rule_id), NEW.updated_by);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION ttp_rule_log_state() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.rule_id <> OLD.rule_id) THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor)
    VALUES (nextval('ttp_rule_event_position_seq'), OLD.rule_id, 'state', 'delete', ttp_rule_store_actor());
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, state_row, actor)
    VALUES (nextval('ttp_rule_event_position_seq'), NEW.rule_id, 'state', 'upsert', to_jsonb(NEW), NEW.set_by);
  END IF;
  RETURN NULL;
END
$$;

-- TRUNCATE skips row triggers: log a delete for every row first.
CREATE FUNCTION ttp_rule_log_truncate() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
  AS $$
BEGIN
  IF TG_TABLE_NAME = 'ttp_rule' THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor)
    SELECT nextval('ttp_rule_event_position_seq'), rule_id, 'rule', 'delete', ttp_rule_store_actor()
      FROM (SELECT rule_id FROM ttp_rule ORDER BY rule_id) r;
  ELSE
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor)
    SELECT nextval('ttp_rule_event_position_seq'), rule_id, 'state', 'delete', ttp_rule_store_actor()
      FROM (SELECT rule_id FROM ttp_rule_state ORDER BY rule_id) s;
  END IF;
  RETURN NULL;
END
$$;

-- Reverts expired states with one conditional delete, so that in a swarm the
-- revert is written once and every process sees the one event. SECURITY DEFINER:
-- a read-only engine role may revert what has expired, and nothing else.
CREATE FUNCTION ttp_rule_revert_expired(p_rule_id text DEFAULT NULL) RETURNS SETOF text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
  AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ttp_rule_state
                  WHERE expires_at <= now() AND (p_rule_id IS NULL OR rule_id = p_rule_id)) THEN
    RETURN; -- nothing due: do not take the writers' lock
  END IF;
  PERFORM set_config('ttp_rule_store.actor', 'ttp-rules:expiry', true);
  RETURN QUERY
    DELETE FROM ttp_rule_state
     WHERE expires_at <= now() AND (p_rule_id IS NULL OR rule_id = p_rule_id)
    RETURNING rule_id;
  PERFORM set_config('ttp_rule_store.actor', '', true);
END
$$;

-- The doorbell: NOTIFY is delivered on commit, collapsed per transaction, and
-- carries no data. Readers re-read the log; a forged NOTIFY costs one query.
CREATE FUNCTION ttp_rule_event_doorbell() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM pg_notify('ttp_rule_event', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER ttp_rule_00_lock BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ttp_rule
  FOR EACH STATEMENT EXECUTE FUNCTION ttp_rule_store_lock();
CREATE TRIGGER ttp_rule_10_touch BEFORE INSERT OR UPDATE ON ttp_rule
  FOR EACH ROW EXECUTE FUNCTION ttp_rule_touch();
CREATE TRIGGER ttp_rule_20_log AFTER INSERT OR UPDATE OR DELETE ON ttp_rule
  FOR EACH ROW EXECUTE FUNCTION ttp_rule_log_rule();
CREATE TRIGGER ttp_rule_30_log_truncate BEFORE TRUNCATE ON ttp_rule
  FOR EACH STATEMENT EXECUTE FUNCTION ttp_rule_log_truncate();

CREATE TRIGGER ttp_rule_state_00_lock BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ttp_rule_state
  FOR EACH STATEMENT EXECUTE FUNCTION ttp_rule_store_lock();
CREATE TRIGGER ttp_rule_state_10_touch BEFORE INSERT OR UPDATE ON ttp_rule_state
  FOR EACH ROW EXECUTE FUNCTION ttp_rule_state_touch();
CREATE TRIGGER ttp_rule_state_20_log AFTER INSERT OR UPDATE OR DELETE ON ttp_rule_state
  FOR EACH ROW EXECUTE FUNCTION ttp_rule_log_state();
CREATE TRIGGER ttp_rule_state_30_log_truncate BEFORE TRUNCATE ON ttp_rule_state
  FOR EACH STATEMENT EXECUTE FUNCTION ttp_rule_log_truncate();

CREATE TRIGGER ttp_rule_event_doorbell AFTER INSERT ON ttp_rule_event
  FOR EACH STATEMENT EXECUTE FUNCTION ttp_rule_event_doorbell();

-- Down Migration

DROP TABLE IF EXISTS ttp_rule_event;
DROP TABLE IF EXISTS ttp_rule_state;
DROP TABLE IF EXISTS ttp_rule;
DROP FUNCTION IF EXISTS ttp_rule_event_doorbell();
DROP FUNCTION IF EXISTS ttp_rule_revert_expired(text);
DROP FUNCTION IF EXISTS ttp_rule_log_truncate();
DROP FUNCTION IF EXISTS ttp_rule_log_state();
DROP FUNCTION IF EXISTS ttp_rule_log_rule();
DROP FUNCTION IF EXISTS ttp_rule_state_touch();
DROP FUNCTION IF EXISTS ttp_rule_touch();
DROP FUNCTION IF EXISTS ttp_rule_store_lock();
DROP FUNCTION IF EXISTS ttp_rule_store_actor();
