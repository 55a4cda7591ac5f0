-- Up Migration

-- Whole transactions for engines (issue 14): every change carries `commit`, the
-- first position of the transaction that wrote it. Reading a page that begins in
-- the middle of a transaction looks up that transaction's first position by its
-- txid (recorded since 0001); this index makes that one probe instead of a scan.
CREATE INDEX ttp_rule_event_txid_idx ON ttp_rule_event (txid, position);

-- Down Migration

DROP INDEX IF EXISTS ttp_rule_event_txid_idx;
