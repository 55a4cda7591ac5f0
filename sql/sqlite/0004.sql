-- Version 4: whole transactions (issue 14; Postgres reads its txid column, 0006).
--
-- Every change carries `commit`, the first position of the transaction that wrote
-- it, and `lastInCommit`. SQLite has no transaction id a trigger could read, so the
-- library marks its own write transactions: it puts the row of ttp_rule_txn_mark
-- in place inside the transaction and removes it before COMMIT (like
-- ttp_rule_store_actor, no other connection ever sees it; one writer at a time).
-- While the mark is there, each event takes the transaction's first position as
-- its commit; events after the first get a row in ttp_rule_event_commit.
--
-- A hand edit in the sqlite3 shell finds no mark: each of its events is a commit
-- of its own (commit = its position, lastInCommit = true), even inside an explicit
-- BEGIN … COMMIT. Grouping holds for the library's writes (upsertRules, with or
-- without pruneUnder, deleteRules, expiry reverts).
CREATE TABLE ttp_rule_txn_mark (
  id             INTEGER PRIMARY KEY CONSTRAINT ttp_rule_txn_mark_one_row CHECK (id = 1),
  first_position INTEGER
);

CREATE TABLE ttp_rule_event_commit (
  position        INTEGER PRIMARY KEY,
  commit_position INTEGER NOT NULL
);

CREATE TRIGGER ttp_rule_event_30_commit AFTER INSERT ON ttp_rule_event
WHEN EXISTS (SELECT 1 FROM ttp_rule_txn_mark)
BEGIN
  UPDATE ttp_rule_txn_mark SET first_position = NEW.position WHERE first_position IS NULL;
  INSERT INTO ttp_rule_event_commit (position, commit_position)
  SELECT NEW.position, first_position FROM ttp_rule_txn_mark WHERE first_position <> NEW.position;
END;

-- Reads of the past (snapshot({ at }), Postgres 0006): compaction deletes an event
-- once a later one for the same rule and entity exists, even one above the prune
-- point, so a read at P is exact only if every deleted event was superseded at or
-- below P. readable_from records the highest such successor (the library's prune
-- computes it in the same transaction); a read below it fails with LOG_TRUNCATED.
ALTER TABLE ttp_rule_log_meta ADD COLUMN readable_from INTEGER NOT NULL DEFAULT 0;
UPDATE ttp_rule_log_meta SET readable_from = (SELECT coalesce(max(position), 0) FROM ttp_rule_event) WHERE pruned_through > 0;
