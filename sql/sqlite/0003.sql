-- Version 3: the trust-model review (Postgres migration 0005, docs/security.md).
--
-- SQLite has no roles: whoever can write the file can do anything to it, the log
-- included (drop a trigger, rewrite an event), so the file's permissions are the
-- whole access control, and attribution is what the writer says (updated_by,
-- set_by; 'sqlite' for a hand delete). What this version adds are the data rules
-- that hold for every writer, the library and the sqlite3 shell alike:
--
--  * One definition of a rule id (RULE_ID_PATTERN in src/domain/ruleSchema.ts): no
--    '.', '*', '>', and no character of the Unicode White_Space property or of the
--    Cc (control) or Cf (format: bidi controls, zero-width characters, BOM)
--    categories. 0001's CHECK stays (length, NUL, the old class); these triggers
--    refuse the rest, so no table is rebuilt. The class is generated from
--    JavaScript's Unicode data; test/security/ruleIdParity.test.ts checks it code
--    point by code point.
--  * A clipped state needs a confidence ceiling.
--
-- The view ttp_rule_schema_violations lists the existing rows that break these
-- rules: the library refuses to finish this version while it has any (naming
-- them), and an operator can query it after a hand edit.

CREATE VIEW ttp_rule_id_forbidden AS
SELECT '*[' || char(1) || '-' || char(32) || char(42) || char(46) || char(62) ||
         char(127) || '-' || char(160) || char(173) || char(1536) || '-' || char(1541) ||
         char(1564) || char(1757) || char(1807) || char(2192) || '-' || char(2193) || char(2274) ||
         char(5760) || char(6158) || char(8192) || '-' || char(8207) ||
         char(8232) || '-' || char(8239) || char(8287) || '-' || char(8292) ||
         char(8294) || '-' || char(8303) || char(12288) || char(65279) ||
         char(65529) || '-' || char(65531) || char(69821) || char(69837) ||
         char(78896) || '-' || char(78911) || char(113824) || '-' || char(113827) ||
         char(119155) || '-' || char(119162) || char(917505) || char(917536) || '-' || char(917631) || ']*' AS glob;

CREATE VIEW ttp_rule_schema_violations AS
SELECT 'ttp_rule' AS table_name, rule_id, 'rule id contains whitespace, control or format characters, or . * >' AS problem
  FROM ttp_rule WHERE rule_id GLOB (SELECT glob FROM ttp_rule_id_forbidden)
UNION ALL
SELECT 'ttp_rule_state', rule_id, 'rule id contains whitespace, control or format characters, or . * >'
  FROM ttp_rule_state WHERE rule_id GLOB (SELECT glob FROM ttp_rule_id_forbidden)
UNION ALL
SELECT 'ttp_rule_state', rule_id, 'clipped without a confidence_max'
  FROM ttp_rule_state WHERE state = 'clipped' AND confidence_max IS NULL;

CREATE TRIGGER ttp_rule_05_rule_id_format_insert BEFORE INSERT ON ttp_rule
WHEN NEW.rule_id GLOB (SELECT glob FROM ttp_rule_id_forbidden)
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ttp_rule_rule_id_format');
END;

CREATE TRIGGER ttp_rule_05_rule_id_format_update BEFORE UPDATE OF rule_id ON ttp_rule
WHEN NEW.rule_id GLOB (SELECT glob FROM ttp_rule_id_forbidden)
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ttp_rule_rule_id_format');
END;

CREATE TRIGGER ttp_rule_state_05_rule_id_format_insert BEFORE INSERT ON ttp_rule_state
WHEN NEW.rule_id GLOB (SELECT glob FROM ttp_rule_id_forbidden)
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ttp_rule_state_rule_id_format');
END;

CREATE TRIGGER ttp_rule_state_05_rule_id_format_update BEFORE UPDATE OF rule_id ON ttp_rule_state
WHEN NEW.rule_id GLOB (SELECT glob FROM ttp_rule_id_forbidden)
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ttp_rule_state_rule_id_format');
END;

CREATE TRIGGER ttp_rule_state_05_clipped_insert BEFORE INSERT ON ttp_rule_state
WHEN NEW.state = 'clipped' AND NEW.confidence_max IS NULL
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ttp_rule_state_clipped_needs_ceiling');
END;

CREATE TRIGGER ttp_rule_state_05_clipped_update BEFORE UPDATE OF state, confidence_max ON ttp_rule_state
WHEN NEW.state = 'clipped' AND NEW.confidence_max IS NULL
BEGIN
  SELECT RAISE(ABORT, 'CHECK constraint failed: ttp_rule_state_clipped_needs_ceiling');
END;
