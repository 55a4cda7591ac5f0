-- Version 2: log retention (compaction) and durable named consumers, as in the
-- Postgres migration 0002. Retention only ever deletes an event that a later
-- event for the same rule and entity supersedes (the newest event of every key,
-- deletions included, is kept); pruned_through records the newest position ever
-- deleted, so a consumer resuming from below it is told it gets a compacted replay.
CREATE TABLE ttp_rule_log_meta (
  singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
  pruned_through INTEGER NOT NULL DEFAULT 0
);
INSERT INTO ttp_rule_log_meta (singleton, pruned_through) VALUES (1, 0);

CREATE TABLE ttp_rule_consumer (
  name       TEXT PRIMARY KEY CONSTRAINT ttp_rule_consumer_name_format
             CHECK (length(name) BETWEEN 1 AND 128 AND name NOT GLOB '*[^A-Za-z0-9_.:@-]*'),
  position   INTEGER NOT NULL DEFAULT 0 CONSTRAINT ttp_rule_consumer_position_nonnegative CHECK (position >= 0),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX ttp_rule_event_recorded_at_idx ON ttp_rule_event (recorded_at);
