-- Up Migration

-- Log retention is compaction: an event is only ever deleted when a later event
-- for the same rule and entity supersedes it. The newest event of every key —
-- deletions included — is kept, so replaying the retained log after ANY position
-- takes a consumer to the current state; what is lost is intermediate versions.
-- pruned_through records the newest position ever deleted: a consumer resuming
-- from below it is told that it gets a compacted replay (a resync), not history.
CREATE TABLE ttp_rule_log_meta (
  singleton      boolean PRIMARY KEY DEFAULT true CONSTRAINT ttp_rule_log_meta_singleton CHECK (singleton),
  pruned_through bigint NOT NULL DEFAULT 0
);
INSERT INTO ttp_rule_log_meta DEFAULT VALUES;

-- Durable named consumers: where each one is in the log. Retention never trims
-- past the slowest registered consumer unless told to.
CREATE TABLE ttp_rule_consumer (
  name       text PRIMARY KEY CONSTRAINT ttp_rule_consumer_name_format CHECK (name ~ '^[A-Za-z0-9_.:@-]{1,128}$'),
  position   bigint NOT NULL DEFAULT 0 CONSTRAINT ttp_rule_consumer_position_nonnegative CHECK (position >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ttp_rule_event_recorded_at_idx ON ttp_rule_event (recorded_at);

-- Deletes superseded events at or below p_before; returns how many.
CREATE FUNCTION ttp_rule_prune_log(p_before bigint) RETURNS bigint
  LANGUAGE plpgsql
  AS $$
DECLARE
  deleted bigint;
  newest bigint;
BEGIN
  WITH gone AS (
    DELETE FROM ttp_rule_event e
     WHERE e.position <= p_before
       AND EXISTS (SELECT 1 FROM ttp_rule_event later
                    WHERE later.rule_id = e.rule_id AND later.entity = e.entity AND later.position > e.position)
    RETURNING e.position
  )
  SELECT count(*), max(position) INTO deleted, newest FROM gone;
  IF newest IS NOT NULL THEN
    UPDATE ttp_rule_log_meta SET pruned_through = greatest(pruned_through, newest);
  END IF;
  RETURN deleted;
END
$$;

-- Down Migration

DROP FUNCTION IF EXISTS ttp_rule_prune_log(bigint);
DROP INDEX IF EXISTS ttp_rule_event_recorded_at_idx;
DROP TABLE IF EXISTS ttp_rule_consumer;
DROP TABLE IF EXISTS ttp_rule_log_meta;
