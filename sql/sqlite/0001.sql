-- ttp-rule-store, SQLite schema version 1 (PRAGMA user_version = 1).
--
-- Applied by the library when it opens a file (or by `npx ttp-rules migrate
-- --db sqlite:PATH`), in one transaction together with the user_version bump.
-- Mirrors migrations/0001_ttp_rule_store.sql: the same tables, columns and
-- constraints, and an append-only event log written by triggers, so that edits
-- made with the `sqlite3` shell are logged exactly like the library's writes.
--
-- Portability: the triggers run inside whichever SQLite library performs the
-- write (better-sqlite3's bundled copy, or an operator's older `sqlite3` shell),
-- so this file sticks to SQL that SQLite 3.38 understands (no STRICT tables, no
-- ->> operator, no unixepoch('subsec')), and it behaves the same whether
-- PRAGMA recursive_triggers is on or off (see the triggers' comments).
--
-- Timestamps are ISO-8601 UTC text with milliseconds, '2024-05-01T12:00:00.000Z'
-- (what JavaScript's Date#toISOString produces), so they round-trip exactly to a
-- JS Date and compare correctly as text. An operator writes one with
--   strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 hour')
-- Any other spelling is refused by a CHECK constraint rather than misread.

-- A rule id is one bus-topic segment: 1..128 characters, no '.', '*', '>',
-- whitespace or control characters (the same set as RULE_ID_PATTERN in
-- src/domain/ruleSchema.ts: C0 controls and space, DEL..NBSP, and Unicode spaces).
-- NUL is tested on the bytes because GLOB and length() stop at a NUL.
CREATE TABLE ttp_rule (
  rule_id      TEXT NOT NULL PRIMARY KEY
               CONSTRAINT ttp_rule_rule_id_format CHECK (
                 typeof(rule_id) = 'text' AND length(rule_id) BETWEEN 1 AND 128
                 AND instr(CAST(rule_id AS BLOB), x'00') = 0
                 AND rule_id NOT GLOB '*[.*>' || char(1) || '-' || char(32) || char(127) || '-' || char(160)
                     || char(5760) || char(8192) || '-' || char(8202) || char(8232, 8233, 8239, 8287, 12288, 65279) || ']*'),
  rule_version INTEGER NOT NULL
               CONSTRAINT ttp_rule_rule_version_integer CHECK (typeof(rule_version) = 'integer' AND rule_version BETWEEN -2147483648 AND 2147483647),
  source_path  TEXT NOT NULL DEFAULT '' CONSTRAINT ttp_rule_source_path_text CHECK (typeof(source_path) = 'text'),
  -- A BLOB (e.g. readfile('r.yaml') in the shell) is refused: write CAST(readfile('r.yaml') AS TEXT).
  yaml_content TEXT NOT NULL CONSTRAINT ttp_rule_yaml_content_text CHECK (typeof(yaml_content) = 'text'),
  -- Maintained by the triggers below: whatever a writer puts here is replaced.
  updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_by   TEXT NOT NULL DEFAULT '' CONSTRAINT ttp_rule_updated_by_text CHECK (typeof(updated_by) = 'text')
);

CREATE TABLE ttp_rule_state (
  rule_id        TEXT NOT NULL PRIMARY KEY
                 CONSTRAINT ttp_rule_state_rule_id_format CHECK (
                   typeof(rule_id) = 'text' AND length(rule_id) BETWEEN 1 AND 128
                   AND instr(CAST(rule_id AS BLOB), x'00') = 0
                   AND rule_id NOT GLOB '*[.*>' || char(1) || '-' || char(32) || char(127) || '-' || char(160)
                       || char(5760) || char(8192) || '-' || char(8202) || char(8232, 8233, 8239, 8287, 12288, 65279) || ']*'),
  state          TEXT NOT NULL
                 CONSTRAINT ttp_rule_state_state_valid CHECK (state IN ('enabled', 'disabled', 'clipped')),
  confidence_max REAL
                 CONSTRAINT ttp_rule_state_confidence_max_range CHECK (
                   confidence_max IS NULL OR (typeof(confidence_max) = 'real' AND confidence_max >= 0 AND confidence_max <= 1)),
  expires_at     TEXT
                 CONSTRAINT ttp_rule_state_expires_at_format CHECK (
                   expires_at IS NULL OR expires_at IS strftime('%Y-%m-%dT%H:%M:%fZ', expires_at)),
  reason         TEXT CONSTRAINT ttp_rule_state_reason_text CHECK (reason IS NULL OR typeof(reason) = 'text'),
  set_by         TEXT CONSTRAINT ttp_rule_state_set_by_text CHECK (set_by IS NULL OR typeof(set_by) = 'text'),
  set_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                 CONSTRAINT ttp_rule_state_set_at_format CHECK (set_at IS strftime('%Y-%m-%dT%H:%M:%fZ', set_at))
);

CREATE INDEX ttp_rule_state_expires_at_idx ON ttp_rule_state (expires_at) WHERE expires_at IS NOT NULL;

-- The append-only event log. One row per insert/update/delete on either table,
-- written by the triggers below in the writer's transaction.
--
-- Positions follow commit order: SQLite lets one connection write at a time and
-- it holds the write lock from its first write until it commits, so the
-- positions one transaction takes are all below those of the next writer.
-- AUTOINCREMENT keeps a position from ever being handed out twice, even after
-- the newest events are deleted.
CREATE TABLE ttp_rule_event (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,
  rule_id     TEXT NOT NULL,
  entity      TEXT NOT NULL CONSTRAINT ttp_rule_event_entity_valid CHECK (entity IN ('rule', 'state')),
  op          TEXT NOT NULL CONSTRAINT ttp_rule_event_op_valid CHECK (op IN ('upsert', 'delete')),
  rule_row    TEXT, -- JSON object, the ttp_rule row (rule upserts)
  state_row   TEXT, -- JSON object, the ttp_rule_state row (state upserts; rule upserts: the state in force)
  actor       TEXT,
  recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX ttp_rule_event_rule_id_idx ON ttp_rule_event (rule_id, position);

CREATE TRIGGER ttp_rule_event_append_only BEFORE UPDATE ON ttp_rule_event
BEGIN
  SELECT RAISE(ABORT, 'ttp_rule_event is append-only');
END;

-- Who made a change that carries no author column (a delete). SQLite has no
-- session settings, and triggers on main tables cannot see TEMP tables, so the
-- library writes its actor here inside the deleting transaction and removes it
-- before commit: no other connection ever sees the row (one writer at a time).
-- A hand edit finds it empty and is recorded as 'sqlite'.
CREATE TABLE ttp_rule_store_actor (
  id    INTEGER PRIMARY KEY CONSTRAINT ttp_rule_store_actor_one_row CHECK (id = 1),
  actor TEXT NOT NULL
);

-- The rows as the log stores them (JSON with the column names as keys, like
-- Postgres' to_jsonb). A double is written with 17 significant digits when 15
-- would not round-trip, because older sqlite3 shells print only 15.
CREATE VIEW ttp_rule_json AS
SELECT rule_id, json_object(
         'rule_id', rule_id, 'rule_version', rule_version, 'source_path', source_path,
         'yaml_content', yaml_content, 'updated_at', updated_at, 'updated_by', updated_by) AS row_json
  FROM ttp_rule;

CREATE VIEW ttp_rule_state_json AS
SELECT rule_id, json_object(
         'rule_id', rule_id, 'state', state,
         'confidence_max', CASE WHEN confidence_max IS NULL OR CAST(printf('%.15g', confidence_max) AS REAL) = confidence_max
                                THEN confidence_max ELSE json(printf('%!.17g', confidence_max)) END,
         'expires_at', expires_at, 'reason', reason, 'set_by', set_by, 'set_at', set_at) AS row_json
  FROM ttp_rule_state;

-- How the triggers keep updated_at / set_at without BEFORE triggers that could
-- assign NEW (SQLite has none): the AFTER trigger first logs the row with the
-- timestamp it is about to get, then stamps it with a nested UPDATE ("touch").
-- 'now' is fixed for the whole statement, triggers included, so both agree.
-- The touch must not be logged or refused itself, whether or not
-- recursive_triggers is on; the triggers recognise it because the value it
-- writes is exactly the one the newest event of that rule records. Invariant:
-- a row's updated_at (set_at) equals the one in its newest log event.

-- updated_at belongs to the database: an update that changes nothing but
-- updated_at is skipped (Postgres keeps the old value the same way).
CREATE TRIGGER ttp_rule_10_keep_updated_at BEFORE UPDATE OF updated_at ON ttp_rule
WHEN NEW.rule_id IS OLD.rule_id AND NEW.rule_version IS OLD.rule_version AND NEW.source_path IS OLD.source_path
     AND NEW.yaml_content IS OLD.yaml_content AND NEW.updated_by IS OLD.updated_by
     AND NEW.updated_at IS NOT OLD.updated_at
     AND NEW.updated_at IS NOT (SELECT json_extract(e.rule_row, '$.updated_at') FROM ttp_rule_event e
                                 WHERE e.rule_id = NEW.rule_id AND e.entity = 'rule' ORDER BY e.position DESC LIMIT 1)
BEGIN
  SELECT RAISE(IGNORE);
END;

CREATE TRIGGER ttp_rule_20_log_insert AFTER INSERT ON ttp_rule
BEGIN
  INSERT INTO ttp_rule_event (rule_id, entity, op, rule_row, state_row, actor)
  VALUES (NEW.rule_id, 'rule', 'upsert',
          (SELECT json_set(j.row_json, '$.updated_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) FROM ttp_rule_json j WHERE j.rule_id = NEW.rule_id),
          (SELECT s.row_json FROM ttp_rule_state_json s WHERE s.rule_id = NEW.rule_id),
          NEW.updated_by);
  UPDATE ttp_rule SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
   WHERE rule_id = NEW.rule_id AND updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

-- A no-op update (same values) matches no WHEN below and logs nothing. An update
-- that renames rule_id logs a delete of the old id, then an upsert of the new.
CREATE TRIGGER ttp_rule_20_log_update AFTER UPDATE ON ttp_rule
WHEN NEW.rule_id IS NOT OLD.rule_id OR NEW.rule_version IS NOT OLD.rule_version OR NEW.source_path IS NOT OLD.source_path
     OR NEW.yaml_content IS NOT OLD.yaml_content OR NEW.updated_by IS NOT OLD.updated_by
BEGIN
  INSERT INTO ttp_rule_event (rule_id, entity, op, actor)
  SELECT OLD.rule_id, 'rule', 'delete', coalesce((SELECT a.actor FROM ttp_rule_store_actor a WHERE a.id = 1), 'sqlite')
   WHERE NEW.rule_id IS NOT OLD.rule_id;
  INSERT INTO ttp_rule_event (rule_id, entity, op, rule_row, state_row, actor)
  VALUES (NEW.rule_id, 'rule', 'upsert',
          (SELECT json_set(j.row_json, '$.updated_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) FROM ttp_rule_json j WHERE j.rule_id = NEW.rule_id),
          (SELECT s.row_json FROM ttp_rule_state_json s WHERE s.rule_id = NEW.rule_id),
          NEW.updated_by);
  UPDATE ttp_rule SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
   WHERE rule_id = NEW.rule_id AND updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

CREATE TRIGGER ttp_rule_20_log_delete AFTER DELETE ON ttp_rule
BEGIN
  INSERT INTO ttp_rule_event (rule_id, entity, op, actor)
  VALUES (OLD.rule_id, 'rule', 'delete', coalesce((SELECT a.actor FROM ttp_rule_store_actor a WHERE a.id = 1), 'sqlite'));
END;

CREATE TRIGGER ttp_rule_state_20_log_insert AFTER INSERT ON ttp_rule_state
BEGIN
  INSERT INTO ttp_rule_event (rule_id, entity, op, state_row, actor)
  VALUES (NEW.rule_id, 'state', 'upsert', (SELECT s.row_json FROM ttp_rule_state_json s WHERE s.rule_id = NEW.rule_id), NEW.set_by);
END;

-- set_at may be written (the library stamps it), but a hand edit that changes
-- the state and leaves set_at alone gets a fresh set_at, as on Postgres.
CREATE TRIGGER ttp_rule_state_20_log_update AFTER UPDATE ON ttp_rule_state
WHEN NEW.rule_id IS NOT OLD.rule_id OR NEW.state IS NOT OLD.state OR NEW.confidence_max IS NOT OLD.confidence_max
     OR NEW.expires_at IS NOT OLD.expires_at OR NEW.reason IS NOT OLD.reason OR NEW.set_by IS NOT OLD.set_by
BEGIN
  INSERT INTO ttp_rule_event (rule_id, entity, op, actor)
  SELECT OLD.rule_id, 'state', 'delete', coalesce((SELECT a.actor FROM ttp_rule_store_actor a WHERE a.id = 1), 'sqlite')
   WHERE NEW.rule_id IS NOT OLD.rule_id;
  INSERT INTO ttp_rule_event (rule_id, entity, op, state_row, actor)
  VALUES (NEW.rule_id, 'state', 'upsert',
          (SELECT json_set(s.row_json, '$.set_at',
                           CASE WHEN NEW.set_at IS OLD.set_at THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE NEW.set_at END)
             FROM ttp_rule_state_json s WHERE s.rule_id = NEW.rule_id),
          NEW.set_by);
  UPDATE ttp_rule_state SET set_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
   WHERE rule_id = NEW.rule_id AND NEW.set_at IS OLD.set_at AND set_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

-- An update of set_at alone is a real change (Postgres logs it too), except the
-- touch above, which writes the set_at the newest event already records.
CREATE TRIGGER ttp_rule_state_21_log_set_at AFTER UPDATE OF set_at ON ttp_rule_state
WHEN NEW.rule_id IS OLD.rule_id AND NEW.state IS OLD.state AND NEW.confidence_max IS OLD.confidence_max
     AND NEW.expires_at IS OLD.expires_at AND NEW.reason IS OLD.reason AND NEW.set_by IS OLD.set_by
     AND NEW.set_at IS NOT OLD.set_at
     AND NEW.set_at IS NOT (SELECT json_extract(e.state_row, '$.set_at') FROM ttp_rule_event e
                             WHERE e.rule_id = NEW.rule_id AND e.entity = 'state' ORDER BY e.position DESC LIMIT 1)
BEGIN
  INSERT INTO ttp_rule_event (rule_id, entity, op, state_row, actor)
  VALUES (NEW.rule_id, 'state', 'upsert', (SELECT s.row_json FROM ttp_rule_state_json s WHERE s.rule_id = NEW.rule_id), NEW.set_by);
END;

CREATE TRIGGER ttp_rule_state_20_log_delete AFTER DELETE ON ttp_rule_state
BEGIN
  INSERT INTO ttp_rule_event (rule_id, entity, op, actor)
  VALUES (OLD.rule_id, 'state', 'delete', coalesce((SELECT a.actor FROM ttp_rule_store_actor a WHERE a.id = 1), 'sqlite'));
END;
