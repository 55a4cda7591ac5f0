-- Version 5: two drifts from Postgres found by test/schema/parity.test.ts.
--
-- 1. Attribution of a hand update that leaves the author alone. Postgres (0005)
--    credits an update the library did not mark, and that leaves updated_by /
--    set_by unchanged, to the login role; before this version SQLite logged it
--    under the previous author. SQLite has no login, so such an update is now
--    credited to 'sqlite', the name a hand delete already gets: the author column
--    is set to 'sqlite' and the event's actor is 'sqlite'. The library marks every
--    write it makes with its caller in ttp_rule_store_actor (as Postgres reads
--    ttp_rule_store.actor), and then the author columns are taken as written.
--    An update that changes nothing (no event) keeps its author, as on Postgres.
--
--    How: SQLite's triggers cannot assign NEW, so a BEFORE UPDATE trigger re-issues
--    the update with the author set to 'sqlite' and drops the original row update
--    (RAISE(IGNORE)); the re-issued update is logged by the usual triggers, once.
--    It does not match again (its author is 'sqlite', or was already), whether or
--    not recursive_triggers is on. Seen from the sqlite3 shell, such an UPDATE
--    reports 0 changes and its RETURNING clause returns no row for those rows;
--    the rows are changed and logged all the same.
--
--    An insert that leaves the author empty is not changed (actor '' for a rule,
--    NULL for a state; Postgres takes the login role): fixing it would need a
--    second, logged update of the new row.
--
-- 2. ttp_rule_consumer.name was a TEXT PRIMARY KEY without NOT NULL, which SQLite
--    lets hold NULL. The table is rebuilt with NOT NULL, keeping its rows. A
--    consumer row without a name (only a hand insert can make one) stops this
--    version with "NOT NULL constraint failed: ttp_rule_consumer.name": delete it
--    (DELETE FROM ttp_rule_consumer WHERE name IS NULL) and migrate again.

CREATE TRIGGER ttp_rule_15_hand_author BEFORE UPDATE ON ttp_rule
WHEN NOT EXISTS (SELECT 1 FROM ttp_rule_store_actor)
     AND NEW.updated_by IS OLD.updated_by AND OLD.updated_by IS NOT 'sqlite'
     AND (NEW.rule_id IS NOT OLD.rule_id OR NEW.rule_version IS NOT OLD.rule_version
          OR NEW.source_path IS NOT OLD.source_path OR NEW.yaml_content IS NOT OLD.yaml_content)
BEGIN
  UPDATE ttp_rule
     SET rule_id = NEW.rule_id, rule_version = NEW.rule_version, source_path = NEW.source_path,
         yaml_content = NEW.yaml_content, updated_at = NEW.updated_at, updated_by = 'sqlite'
   WHERE rule_id = OLD.rule_id;
  SELECT RAISE(IGNORE);
END;

-- A change of set_at alone is a change (see 0001's ttp_rule_state_21_log_set_at),
-- except the triggers' own touch, which writes the set_at of the newest event.
CREATE TRIGGER ttp_rule_state_15_hand_author BEFORE UPDATE ON ttp_rule_state
WHEN NOT EXISTS (SELECT 1 FROM ttp_rule_store_actor)
     AND NEW.set_by IS OLD.set_by AND OLD.set_by IS NOT 'sqlite'
     AND (NEW.rule_id IS NOT OLD.rule_id OR NEW.state IS NOT OLD.state OR NEW.confidence_max IS NOT OLD.confidence_max
          OR NEW.expires_at IS NOT OLD.expires_at OR NEW.reason IS NOT OLD.reason
          OR (NEW.set_at IS NOT OLD.set_at
              AND NEW.set_at IS NOT (SELECT json_extract(e.state_row, '$.set_at') FROM ttp_rule_event e
                                      WHERE e.rule_id = NEW.rule_id AND e.entity = 'state' ORDER BY e.position DESC LIMIT 1)))
BEGIN
  UPDATE ttp_rule_state
     SET rule_id = NEW.rule_id, state = NEW.state, confidence_max = NEW.confidence_max, expires_at = NEW.expires_at,
         reason = NEW.reason, set_at = NEW.set_at, set_by = 'sqlite'
   WHERE rule_id = OLD.rule_id;
  SELECT RAISE(IGNORE);
END;

ALTER TABLE ttp_rule_consumer RENAME TO ttp_rule_consumer_v4;
CREATE TABLE ttp_rule_consumer (
  name       TEXT NOT NULL PRIMARY KEY CONSTRAINT ttp_rule_consumer_name_format
             CHECK (length(name) BETWEEN 1 AND 128 AND name NOT GLOB '*[^A-Za-z0-9_.:@-]*'),
  position   INTEGER NOT NULL DEFAULT 0 CONSTRAINT ttp_rule_consumer_position_nonnegative CHECK (position >= 0),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO ttp_rule_consumer (name, position, updated_at) SELECT name, position, updated_at FROM ttp_rule_consumer_v4;
DROP TABLE ttp_rule_consumer_v4;
