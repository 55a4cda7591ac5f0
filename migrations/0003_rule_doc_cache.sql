-- Up Migration

-- The validated rule document as JSON, written by the library beside the YAML and
-- keyed by the YAML's SHA-256: {"sha256": "…", "rule": {…}}. Readers use it when the
-- hash matches the row's yaml_content (JSON + validation instead of a YAML parse, on
-- every reader for every change) and fall back to the YAML otherwise — a psql edit
-- of yaml_content leaves a stale hash, so the YAML stays the truth.
ALTER TABLE ttp_rule ADD COLUMN doc jsonb;

-- Down Migration

ALTER TABLE ttp_rule DROP COLUMN IF EXISTS doc;
