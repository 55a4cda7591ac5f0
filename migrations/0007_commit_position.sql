-- Up Migration

-- Events are immutable: the change at a position reads the same whenever it is
-- read (SPEC §10.4), its `commit` included. Until now readers computed a change's
-- commit, the first position of its transaction, as min(position) over its txid
-- (0006), so once compaction (`prune`) deleted a transaction's first events its
-- retained events reported another commit than before. The commit is now stored
-- with the event when it is logged, as SQLite stores it (ttp_rule_event_commit).
ALTER TABLE ttp_rule_event ADD COLUMN commit_position bigint;

-- Set on every insert, whatever the insert says (no role but the owner may insert
-- into the log at all; the log triggers of 0005 do, as the owner). Positions are
-- handed out only under the writers' lock (0004), so the positions of one
-- transaction form a run: its first event finds no earlier one and is its own
-- commit; every later one takes the commit of the first retained event of its
-- transaction (index ttp_rule_event_txid_idx, 0006), which is the first position
-- even if a prune in the same transaction deleted that event. Rows inserted earlier
-- by the same statement (TRUNCATE logs one delete per row) are visible here: the
-- function is VOLATILE, and a BEFORE ROW trigger sees the rows its statement has
-- already inserted.
CREATE FUNCTION ttp_rule_event_commit() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.commit_position := coalesce(
    (SELECT e.commit_position FROM ttp_rule_event e WHERE e.txid = NEW.txid ORDER BY e.position LIMIT 1),
    NEW.position);
  RETURN NEW;
END
$$;

-- As 0005 pins every function of the store: pg_catalog, this schema, pg_temp last,
-- so that a session's temporary ttp_rule_event cannot stand in for the log.
DO $$
BEGIN
  EXECUTE pg_catalog.format('ALTER FUNCTION ttp_rule_event_commit() SET search_path = pg_catalog, %I, pg_temp', pg_catalog.current_schema());
END
$$;

CREATE TRIGGER ttp_rule_event_00_commit BEFORE INSERT ON ttp_rule_event
  FOR EACH ROW EXECUTE FUNCTION ttp_rule_event_commit();

-- Events logged before this migration: the first position of their transaction
-- that is still in the log (where an earlier prune deleted a transaction's first
-- events, the original one is not known; readers reported this value until now).
UPDATE ttp_rule_event e SET commit_position = t.first
  FROM (SELECT txid, min(position) AS first FROM ttp_rule_event GROUP BY txid) t
 WHERE e.txid = t.txid;
ALTER TABLE ttp_rule_event ALTER COLUMN commit_position SET NOT NULL;

-- Down Migration

DROP TRIGGER IF EXISTS ttp_rule_event_00_commit ON ttp_rule_event;
DROP FUNCTION IF EXISTS ttp_rule_event_commit();
ALTER TABLE ttp_rule_event DROP COLUMN IF EXISTS commit_position;
