-- Up Migration

-- The trust model (docs/security.md): the log cannot be bypassed, forged or
-- misattributed by the roles of sql/roles.sql.
--
--  1. No shadowing. Every function of the store pins its search_path to
--     pg_catalog, the schema it lives in, then pg_temp LAST (end of this file),
--     and calls pg_catalog functions schema-qualified: a session's temporary
--     table, sequence or function can no longer stand in for the real log
--     inside a SECURITY DEFINER trigger (Postgres searches pg_temp FIRST when
--     it is not listed, which is what `SET search_path FROM CURRENT` gave).
--  2. Named consumers belong to the role that registered them (row-level security).
--  3. The `doc` cache column goes: readers derive every rule from yaml_content.
--  4. Every event records the login role (session_user), which no one but a
--     superuser can choose, and an actor that follows the hand edit's login.
--  5. One definition of a rule id (RULE_ID_PATTERN in src/domain/ruleSchema.ts),
--     and `clipped` needs a confidence ceiling.
--
-- Everything lives in the schema the migrations run in (`public` with
-- `ttp-rules migrate`; node-pg-migrate's --schema picks another): the pinned
-- search_path names current_schema() at migration time, whatever it is.

-- The one definition of a rule id: 1..128 characters, none of them '.', '*', '>',
-- White_Space, Cc (control) or Cf (format: bidi controls, zero-width characters,
-- BOM, ...). The class is generated from JavaScript's Unicode data for
-- /[.*>\p{White_Space}\p{Cc}\p{Cf}]/u; test/security/ruleIdParity.test.ts checks
-- every code point against RULE_ID_PATTERN. Operators are schema-qualified, so the
-- function is safe under any caller's search_path (and stays inlinable).
CREATE FUNCTION ttp_rule_id_valid(p_rule_id text) RETURNS boolean
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT p_rule_id OPERATOR(pg_catalog.~) '^[^\u0001-\u0020\u002A\u002E\u003E\u007F-\u00A0\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F]{1,128}$' $$;

-- 5. Refuse to go on when existing rows would break the new constraints, naming them.
DO $$
DECLARE
  bad_ids text;
  bad_clipped text;
BEGIN
  -- Each id with its refused code points spelled out (they are often invisible).
  SELECT pg_catalog.string_agg(pg_catalog.format('%s %s (%s)', t, pg_catalog.to_json(id),
           (SELECT pg_catalog.string_agg(pg_catalog.format('U+%s', pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.ascii(c)), 4, '0'))), ' ')
              FROM pg_catalog.regexp_split_to_table(id, '') c WHERE NOT ttp_rule_id_valid(c))),
           ', ' ORDER BY t, id) INTO bad_ids
    FROM (SELECT 'ttp_rule' AS t, rule_id AS id FROM ttp_rule
          UNION ALL SELECT 'ttp_rule_state', rule_id FROM ttp_rule_state) r
   WHERE NOT ttp_rule_id_valid(id);
  SELECT pg_catalog.string_agg(pg_catalog.to_json(rule_id)::text, ', ' ORDER BY rule_id) INTO bad_clipped
    FROM ttp_rule_state WHERE state = 'clipped' AND confidence_max IS NULL;
  IF bad_ids IS NOT NULL OR bad_clipped IS NOT NULL THEN
    RAISE EXCEPTION 'ttp-rule-store 0005 cannot be applied; fix or delete these rows, then migrate again. Rule ids with whitespace, control or format (bidi, zero-width) characters, or . * >: %. States clipped without a confidence_max: %.',
      coalesce(bad_ids, 'none'), coalesce(bad_clipped, 'none')
      USING HINT = 'UPDATE ttp_rule SET rule_id = ... (or DELETE); UPDATE ttp_rule_state SET confidence_max = ... (or another state)';
  END IF;
END
$$;

ALTER TABLE ttp_rule DROP CONSTRAINT ttp_rule_rule_id_format,
  ADD CONSTRAINT ttp_rule_rule_id_format CHECK (ttp_rule_id_valid(rule_id));
ALTER TABLE ttp_rule_state DROP CONSTRAINT ttp_rule_state_rule_id_format,
  ADD CONSTRAINT ttp_rule_state_rule_id_format CHECK (ttp_rule_id_valid(rule_id)),
  ADD CONSTRAINT ttp_rule_state_clipped_needs_ceiling CHECK (state <> 'clipped' OR confidence_max IS NOT NULL);

-- 3. Readers no longer trust a JSON copy a writer could forge; see src/log/ruleDocCache.ts.
ALTER TABLE ttp_rule DROP COLUMN doc;

-- 4. The login that made each change. NULL on events written before this migration
-- (who made those is not known); set by the triggers below from session_user, which
-- SET ROLE and SECURITY DEFINER do not change.
ALTER TABLE ttp_rule_event ADD COLUMN login_role text;
ALTER TABLE ttp_rule_event ALTER COLUMN login_role SET DEFAULT session_user;

-- The library marks its own writes with the transaction-local setting
-- ttp_rule_store.actor (its caller's updatedBy/setBy); NULL for a hand edit.
CREATE FUNCTION ttp_rule_store_library_actor() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(pg_catalog.current_setting('ttp_rule_store.actor', true), '') $$;

-- Who made a change that carries no author column (a delete): the library's
-- caller if the library wrote it, else the login role.
CREATE OR REPLACE FUNCTION ttp_rule_store_actor() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT coalesce(ttp_rule_store_library_actor(), session_user::text) $$;

-- updated_at is the database's business (kept on a no-op update). updated_by
-- follows the hand edit: an edit the library did not mark that leaves the author
-- column empty (insert) or unchanged (update) is the login role's.
CREATE OR REPLACE FUNCTION ttp_rule_touch() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (NEW.rule_id, NEW.rule_version, NEW.source_path, NEW.yaml_content, NEW.updated_by)
         IS NOT DISTINCT FROM (OLD.rule_id, OLD.rule_version, OLD.source_path, OLD.yaml_content, OLD.updated_by) THEN
    NEW.updated_at := OLD.updated_at;
    RETURN NEW;
  END IF;
  IF ttp_rule_store_library_actor() IS NULL
     AND ((TG_OP = 'INSERT' AND coalesce(NEW.updated_by, '') = '')
          OR (TG_OP = 'UPDATE' AND NEW.updated_by IS NOT DISTINCT FROM OLD.updated_by)) THEN
    NEW.updated_by := session_user::text;
  END IF;
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION ttp_rule_state_touch() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (NEW.rule_id, NEW.state, NEW.confidence_max, NEW.expires_at, NEW.reason, NEW.set_by)
         IS NOT DISTINCT FROM (OLD.rule_id, OLD.state, OLD.confidence_max, OLD.expires_at, OLD.reason, OLD.set_by)
     AND NEW.set_at IS NOT DISTINCT FROM OLD.set_at THEN
    RETURN NEW;
  END IF;
  IF ttp_rule_store_library_actor() IS NULL
     AND ((TG_OP = 'INSERT' AND coalesce(NEW.set_by, '') = '')
          OR (TG_OP = 'UPDATE' AND NEW.set_by IS NOT DISTINCT FROM OLD.set_by)) THEN
    NEW.set_by := session_user::text;
  END IF;
  -- A hand edit that changes the state but not set_at still gets a fresh set_at.
  IF TG_OP = 'UPDATE' AND NEW.set_at IS NOT DISTINCT FROM OLD.set_at THEN
    NEW.set_at := pg_catalog.now();
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION ttp_rule_log_rule() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.rule_id <> OLD.rule_id) THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor, login_role)
    VALUES (pg_catalog.nextval('ttp_rule_event_position_seq'::pg_catalog.regclass), OLD.rule_id, 'rule', 'delete',
            ttp_rule_store_actor(), session_user::text);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, rule_row, state_row, actor, login_role)
    VALUES (pg_catalog.nextval('ttp_rule_event_position_seq'::pg_catalog.regclass), NEW.rule_id, 'rule', 'upsert',
            pg_catalog.to_jsonb(NEW),
            (SELECT pg_catalog.to_jsonb(s) FROM ttp_rule_state s WHERE s.rule_id = NEW.rule_id),
            NEW.updated_by, session_user::text);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ttp_rule_log_state() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.rule_id <> OLD.rule_id) THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor, login_role)
    VALUES (pg_catalog.nextval('ttp_rule_event_position_seq'::pg_catalog.regclass), OLD.rule_id, 'state', 'delete',
            ttp_rule_store_actor(), session_user::text);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, state_row, actor, login_role)
    VALUES (pg_catalog.nextval('ttp_rule_event_position_seq'::pg_catalog.regclass), NEW.rule_id, 'state', 'upsert',
            pg_catalog.to_jsonb(NEW), NEW.set_by, session_user::text);
  END IF;
  RETURN NULL;
END
$$;

-- TRUNCATE skips row triggers: log a delete for every row first.
CREATE OR REPLACE FUNCTION ttp_rule_log_truncate() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  AS $$
BEGIN
  IF TG_TABLE_NAME = 'ttp_rule' THEN
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor, login_role)
    SELECT pg_catalog.nextval('ttp_rule_event_position_seq'::pg_catalog.regclass), rule_id, 'rule', 'delete',
           ttp_rule_store_actor(), session_user::text
      FROM (SELECT rule_id FROM ttp_rule ORDER BY rule_id) r;
  ELSE
    INSERT INTO ttp_rule_event (position, rule_id, entity, op, actor, login_role)
    SELECT pg_catalog.nextval('ttp_rule_event_position_seq'::pg_catalog.regclass), rule_id, 'state', 'delete',
           ttp_rule_store_actor(), session_user::text
      FROM (SELECT rule_id FROM ttp_rule_state ORDER BY rule_id) s;
  END IF;
  RETURN NULL;
END
$$;

-- Reverts expired states with one conditional delete (see 0001). A caller can
-- revert only what has expired by the clock of its own transaction: now() is the
-- transaction's start, which no role can move forward.
CREATE OR REPLACE FUNCTION ttp_rule_revert_expired(p_rule_id text DEFAULT NULL) RETURNS SETOF text
  LANGUAGE plpgsql SECURITY DEFINER
  AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ttp_rule_state
                  WHERE expires_at <= pg_catalog.now() AND (p_rule_id IS NULL OR rule_id = p_rule_id)) THEN
    RETURN; -- nothing due: do not take the writers' lock
  END IF;
  PERFORM pg_catalog.set_config('ttp_rule_store.actor', 'ttp-rules:expiry', true);
  RETURN QUERY
    DELETE FROM ttp_rule_state
     WHERE expires_at <= pg_catalog.now() AND (p_rule_id IS NULL OR rule_id = p_rule_id)
    RETURNING rule_id;
  PERFORM pg_catalog.set_config('ttp_rule_store.actor', '', true);
END
$$;

-- 2. Named consumers belong to the role that registered them. Row-level security
-- rather than definer functions: the library's plain INSERT … ON CONFLICT / DELETE
-- keeps working for every role and for psql, the policy is one place to read, and
-- there is no further SECURITY DEFINER code to harden. Everyone may read every
-- checkpoint (lag and retention need them); a role may insert, move or delete only
-- rows whose owner_role is itself (current_user); the table owner is not subject
-- to the policies and manages all. roles.sql grants no right on owner_role, so a
-- row always gets its registering role from the default. Consumers that existed
-- before this migration belong to the migrating role: the owner hands them over
-- with UPDATE ttp_rule_consumer SET owner_role = '<login>' WHERE name = '<name>'.
ALTER TABLE ttp_rule_consumer ADD COLUMN owner_role text;
UPDATE ttp_rule_consumer SET owner_role = current_user;
ALTER TABLE ttp_rule_consumer ALTER COLUMN owner_role SET DEFAULT current_user,
  ALTER COLUMN owner_role SET NOT NULL;
ALTER TABLE ttp_rule_consumer ENABLE ROW LEVEL SECURITY;
CREATE POLICY ttp_rule_consumer_read ON ttp_rule_consumer FOR SELECT USING (true);
CREATE POLICY ttp_rule_consumer_register ON ttp_rule_consumer FOR INSERT WITH CHECK (owner_role = current_user);
CREATE POLICY ttp_rule_consumer_advance ON ttp_rule_consumer FOR UPDATE
  USING (owner_role = current_user) WITH CHECK (owner_role = current_user);
CREATE POLICY ttp_rule_consumer_remove ON ttp_rule_consumer FOR DELETE USING (owner_role = current_user);

-- 1. Pin the search_path of every function of the store (SECURITY DEFINER ones
-- first of all, including any a previous migration made so): pg_catalog, then this
-- schema, then pg_temp last, so that nothing a session creates can shadow a
-- table, sequence, function or operator they use. ttp_rule_id_valid stays
-- unpinned so that it can be inlined; it names its operator with its schema.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = pg_catalog.current_schema()::regnamespace
       AND (p.prosecdef OR p.proname IN ('ttp_rule_store_actor', 'ttp_rule_store_library_actor', 'ttp_rule_touch',
                                         'ttp_rule_state_touch', 'ttp_rule_event_doorbell', 'ttp_rule_prune_log'))
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', f, pg_catalog.current_schema());
  END LOOP;
END
$$;

-- Down Migration

DROP POLICY IF EXISTS ttp_rule_consumer_remove ON ttp_rule_consumer;
DROP POLICY IF EXISTS ttp_rule_consumer_advance ON ttp_rule_consumer;
DROP POLICY IF EXISTS ttp_rule_consumer_register ON ttp_rule_consumer;
DROP POLICY IF EXISTS ttp_rule_consumer_read ON ttp_rule_consumer;
ALTER TABLE ttp_rule_consumer DISABLE ROW LEVEL SECURITY;
ALTER TABLE ttp_rule_consumer DROP COLUMN IF EXISTS owner_role;

ALTER TABLE ttp_rule_event DROP COLUMN IF EXISTS login_role;
ALTER TABLE ttp_rule ADD COLUMN IF NOT EXISTS doc jsonb;

ALTER TABLE ttp_rule_state DROP CONSTRAINT IF EXISTS ttp_rule_state_clipped_needs_ceiling,
  DROP CONSTRAINT ttp_rule_state_rule_id_format,
  ADD CONSTRAINT ttp_rule_state_rule_id_format CHECK (rule_id ~ '^[^.*>[:space:][:cntrl:]]{1,128}$');
ALTER TABLE ttp_rule DROP CONSTRAINT ttp_rule_rule_id_format,
  ADD CONSTRAINT ttp_rule_rule_id_format CHECK (rule_id ~ '^[^.*>[:space:][:cntrl:]]{1,128}$');
DROP FUNCTION IF EXISTS ttp_rule_id_valid(text);

-- The functions as 0001 defined them (search_path as the migration runs, i.e. the schema).
CREATE OR REPLACE FUNCTION ttp_rule_store_actor() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT coalesce(nullif(current_setting('ttp_rule_store.actor', true), ''), session_user::text) $$;
ALTER FUNCTION ttp_rule_store_actor() RESET search_path;
DROP FUNCTION IF EXISTS ttp_rule_store_library_actor();

CREATE OR REPLACE FUNCTION ttp_rule_touch() RETURNS trigger
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
ALTER FUNCTION ttp_rule_touch() RESET search_path;

CREATE OR REPLACE FUNCTION ttp_rule_state_touch() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (NEW.rule_id, NEW.state, NEW.confidence_max, NEW.expires_at, NEW.reason, NEW.set_by)
         IS NOT DISTINCT FROM (OLD.rule_id, OLD.state, OLD.confidence_max, OLD.expires_at, OLD.reason, OLD.set_by)
     AND NEW.set_at IS NOT DISTINCT FROM OLD.set_at THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.set_at IS NOT DISTINCT FROM OLD.set_at THEN
    NEW.set_at := now();
  END IF;
  RETURN NEW;
END
$$;
ALTER FUNCTION ttp_rule_state_touch() RESET search_path;

CREATE OR REPLACE FUNCTION ttp_rule_log_rule() RETURNS trigger
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

CREATE OR REPLACE FUNCTION ttp_rule_log_state() RETURNS trigger
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

CREATE OR REPLACE FUNCTION ttp_rule_log_truncate() RETURNS trigger
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

CREATE OR REPLACE FUNCTION ttp_rule_revert_expired(p_rule_id text DEFAULT NULL) RETURNS SETOF text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
  AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ttp_rule_state
                  WHERE expires_at <= now() AND (p_rule_id IS NULL OR rule_id = p_rule_id)) THEN
    RETURN;
  END IF;
  PERFORM set_config('ttp_rule_store.actor', 'ttp-rules:expiry', true);
  RETURN QUERY
    DELETE FROM ttp_rule_state
     WHERE expires_at <= now() AND (p_rule_id IS NULL OR rule_id = p_rule_id)
    RETURNING rule_id;
  PERFORM set_config('ttp_rule_store.actor', '', true);
END
$$;

ALTER FUNCTION ttp_rule_event_doorbell() RESET search_path;
ALTER FUNCTION ttp_rule_prune_log(bigint) RESET search_path;
