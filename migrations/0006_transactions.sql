-- Up Migration

-- Whole transactions for engines (issue 14): every change carries `commit`, the
-- first position of the transaction that wrote it. Reading a page that begins in
-- the middle of a transaction looks up that transaction's first position by its
-- txid (recorded since 0001); this index makes that one probe instead of a scan.
CREATE INDEX ttp_rule_event_txid_idx ON ttp_rule_event (txid, position);

-- Reads of the past (snapshot({ at })) fold the log: the newest event of every rule
-- and entity at or below a position. Compaction deletes an event once a later one
-- for the same rule and entity exists, even one above p_before, so pruned_through
-- is not where exact reads begin: a read at P is exact only if every deleted event
-- was superseded at or below P. readable_from records the highest such successor
-- (0: nothing was ever pruned); a read below it fails with LOG_TRUNCATED.
ALTER TABLE ttp_rule_log_meta ADD COLUMN readable_from bigint NOT NULL DEFAULT 0;
UPDATE ttp_rule_log_meta SET readable_from = (SELECT coalesce(max(position), 0) FROM ttp_rule_event) WHERE pruned_through > 0;

CREATE OR REPLACE FUNCTION ttp_rule_prune_log(p_before bigint) RETURNS bigint
  LANGUAGE plpgsql
  AS $$
DECLARE
  deleted bigint;
  newest bigint;
  successor bigint;
BEGIN
  -- The outer SELECT sees the log as it was before the DELETE (one snapshot for
  -- the statement), so each deleted event's successor is found, deleted or not.
  WITH gone AS (
    DELETE FROM ttp_rule_event e
     WHERE e.position <= p_before
       AND EXISTS (SELECT 1 FROM ttp_rule_event later
                    WHERE later.rule_id = e.rule_id AND later.entity = e.entity AND later.position > e.position)
    RETURNING e.position, e.rule_id, e.entity
  )
  SELECT count(*), max(g.position),
         max((SELECT min(s.position) FROM ttp_rule_event s WHERE s.rule_id = g.rule_id AND s.entity = g.entity AND s.position > g.position))
    INTO deleted, newest, successor FROM gone g;
  IF newest IS NOT NULL THEN
    UPDATE ttp_rule_log_meta SET pruned_through = greatest(pruned_through, newest), readable_from = greatest(readable_from, successor);
  END IF;
  RETURN deleted;
END
$$;

DO $$
BEGIN
  EXECUTE pg_catalog.format('ALTER FUNCTION ttp_rule_prune_log(bigint) SET search_path = pg_catalog, %I, pg_temp', pg_catalog.current_schema());
END
$$;

-- Down Migration

CREATE OR REPLACE FUNCTION ttp_rule_prune_log(p_before bigint) RETURNS bigint
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
DO $$
BEGIN
  EXECUTE pg_catalog.format('ALTER FUNCTION ttp_rule_prune_log(bigint) SET search_path = pg_catalog, %I, pg_temp', pg_catalog.current_schema());
END
$$;
ALTER TABLE ttp_rule_log_meta DROP COLUMN IF EXISTS readable_from;
DROP INDEX IF EXISTS ttp_rule_event_txid_idx;
