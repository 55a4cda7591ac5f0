import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RuleValidationError, compileRule } from '../../src/index.js';
import { FIXTURES_DIR } from '../helpers/rules.js';

/*
 * The seed reads rule files with PyYAML's safe_load: YAML 1.1 and its type
 * repository (yaml.org/type/{bool,int,float,null,timestamp,merge,value}.html),
 * as PyYAML's resolver implements them (yaml/resolver.py):
 *   bool   yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
 *          (the spec also lists y|Y|n|N; PyYAML does not, so neither do we)
 *   int    [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
 *          | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+            (base 60)
 *   float  [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)?
 *          | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
 *   null   ~ | null | Null | NULL | (empty)
 *   timestamp  YYYY-MM-DD | YYYY-M-D(T|t|spaces)H:MM:SS(.fraction)?(spaces?(Z|±H(H)?(:MM)?))?
 *   merge  <<   value  =  (SafeLoader has no constructor for it: loading fails)
 * Anything else plain is a string. The constructors (yaml/constructor.py) drop
 * `_`, read a leading 0 as octal, and build datetime.date / datetime.datetime,
 * which this store writes as Python's isoformat() does.
 */

/** The value `text` (a plain YAML scalar or flow node) gets inside `match`. */
function matchValue(text: string): unknown {
  const doc = `rule_id: Y1\nrule_version: 1\nname: y\napplies_to: [command]\nmatch:\n  v: ${text}\nemits:\n  - {technique_id: T1105, tactic: TA0011, confidence: 0.5}\n`;
  return compileRule(doc).match['v'];
}

/** [YAML, expected value, why]. */
const TABLE: readonly (readonly [string, unknown, string])[] = [
  // Booleans: exactly the 18 spellings of PyYAML's bool resolver.
  ['yes', true, 'bool: yes'],
  ['Yes', true, 'bool: Yes'],
  ['YES', true, 'bool: YES'],
  ['no', false, 'bool: no (a YAML 1.2 parser gives the truthy string "no")'],
  ['No', false, 'bool: No'],
  ['NO', false, 'bool: NO'],
  ['on', true, 'bool: on'],
  ['On', true, 'bool: On'],
  ['ON', true, 'bool: ON'],
  ['off', false, 'bool: off'],
  ['Off', false, 'bool: Off'],
  ['OFF', false, 'bool: OFF'],
  ['true', true, 'bool: true'],
  ['False', false, 'bool: False'],
  ['y', 'y', 'not in the bool regex (the 1.1 spec lists it, PyYAML does not): str'],
  ['n', 'n', 'not in the bool regex: str'],
  ['Y', 'Y', 'not in the bool regex: str'],
  ['yEs', 'yEs', 'mixed case is no spelling of the regex: str'],
  ['"yes"', 'yes', 'quoted: never resolved, str'],
  ["'no'", 'no', 'quoted: str'],
  // Integers.
  ['0755', 493, 'int, [-+]?0[0-7_]+: octal, 7*64+5*8+5'],
  ['-0755', -493, 'int: octal with a sign'],
  ['0', 0, 'int: 0'],
  ['00', 0, 'int: 0[0-7_]+ octal 00'],
  ['08', '08', '8 is no octal digit and 0 cannot lead a decimal: no int, no dot so no float: str'],
  ['0o17', '0o17', 'YAML 1.2 octal syntax, unknown to 1.1: str'],
  ['0x1F', 31, 'int, [-+]?0x[0-9a-fA-F_]+: hex'],
  ['0X1F', '0X1F', 'the regex has a lowercase x only: str'],
  ['0b101', 5, 'int, [-+]?0b[0-1_]+: binary'],
  ['-0b11', -3, 'int: binary with a sign'],
  ['1_000', 1000, 'int: underscores are dropped by the constructor'],
  ['+12', 12, 'int: explicit plus sign'],
  ['0_7_7', 63, 'int: octal 077 once underscores are dropped'],
  ['1:30', 90, 'int, base 60: 1*60+30'],
  ['-1:30', -90, 'int, base 60 with a sign'],
  ['190:20:30', 685230, 'int, base 60: (190*60+20)*60+30'],
  ['1:60', '1:60', 'a base-60 digit is [0-5]?[0-9], 60 is not one: str'],
  ['0:30', '0:30', 'base 60 needs a first digit [1-9]; no dot, so no float either: str'],
  ['0x_', /is not an integer/, 'matches the int regex but int("", 16) fails: PyYAML cannot load the file'],
  // Floats.
  ['1.5', 1.5, 'float'],
  ['1.', 1, 'float: [0-9][0-9_]*\\.[0-9_]* allows nothing after the dot'],
  ['.5', 0.5, 'float: \\.[0-9][0-9_]*'],
  ['-.5', '-.5', 'the dot-first form takes no sign: str'],
  ['1_000.5', 1000.5, 'float: underscores dropped'],
  ['1.0e+3', 1000, 'float: exponent with its sign'],
  ['1.0e3', '1.0e3', 'the exponent needs a sign ([eE][-+][0-9]+): str'],
  ['1e3', '1e3', 'no dot: neither float nor int: str'],
  ['1:30.5', 90.5, 'float, base 60: 1*60+30.5'],
  ['0:30.5', 30.5, 'float base 60 allows a first digit 0: 0*60+30.5'],
  ['.inf', Number.POSITIVE_INFINITY, 'float: [-+]?\\.(inf|Inf|INF)'],
  ['-.Inf', Number.NEGATIVE_INFINITY, 'float: -inf'],
  ['.nan', Number.NaN, 'float: \\.(nan|NaN|NAN)'],
  ['-.nan', '-.nan', 'nan takes no sign: str'],
  ['.Nan', '.Nan', 'not one of the three nan spellings: str'],
  // Null.
  ['~', null, 'null: ~'],
  ['null', null, 'null: null'],
  ['Null', null, 'null: Null'],
  ['NULL', null, 'null: NULL'],
  ['', null, 'null: an empty plain scalar'],
  ['nUll', 'nUll', 'not a null spelling: str'],
  // Dates and timestamps: datetime.date / datetime.datetime, written as isoformat().
  ['2026-05-17', '2026-05-17', 'timestamp, date only: datetime.date -> YYYY-MM-DD'],
  ['2026-5-17', '2026-5-17', 'a date alone needs two-digit month and day: str'],
  ['2024-02-29', '2024-02-29', 'a leap day in a leap year'],
  ['2023-02-29', /not a date in the calendar/, 'datetime.date(2023, 2, 29) raises: PyYAML cannot load the file'],
  ['2026-02-30', /not a date in the calendar/, 'datetime.date raises'],
  ['0000-01-01', /not a date in the calendar/, 'year 0 is out of range for datetime.date'],
  ['2026-05-17T10:20:30Z', '2026-05-17T10:20:30+00:00', 'timestamp, Z: tzinfo=utc, isoformat writes +00:00'],
  ['2026-05-17 10:20:30', '2026-05-17T10:20:30', 'space separator, no zone: a naive datetime, no offset'],
  ['2026-05-17t1:20:30', '2026-05-17T01:20:30', 'lowercase t and a one-digit hour are allowed'],
  ['2026-5-7T01:02:03-5', '2026-05-07T01:02:03-05:00', 'one-digit month/day/offset hour with a time'],
  ['2026-05-17 10:20:30.5 +05:30', '2026-05-17T10:20:30.500000+05:30', 'fraction padded to microseconds; offset kept'],
  ['2026-05-17T10:20:30.123456789Z', '2026-05-17T10:20:30.123456+00:00', 'fraction truncated to six digits'],
  ['2026-05-17T10:20:30.000', '2026-05-17T10:20:30', 'a zero fraction is no microsecond: isoformat omits it'],
  ['2026-05-17 10:20:30 -00:00', '2026-05-17T10:20:30+00:00', 'a zero offset reads as +00:00'],
  ['2026-05-17T24:00:00', /not a time of day/, 'hour 24: datetime raises'],
  ['2026-05-17T10:20:30+23:99', /offset of 24 hours or more/, 'timezone() needs |offset| < 24 h'],
  // Merge keys and the value key.
  ['{<<: {a: 1, b: 2}, b: 3}', { a: 1, b: 3 }, 'merge: explicit keys win over merged ones'],
  ['{<<: [{a: 1}, {a: 2, c: 3}]}', { a: 1, c: 3 }, 'merge of a sequence: earlier mappings win'],
  ['{"<<": {a: 1}}', { '<<': { a: 1 } }, 'a quoted << is an ordinary key'],
  ['{<<: 5}', /Merge sources must be maps/, 'PyYAML: "expected a mapping or list of mappings for merging"'],
  ['<<', /only a merge key/, 'a plain << value has the merge tag, which SafeLoader cannot construct'],
  ['=', /value key/, 'a plain = has the value tag, which SafeLoader cannot construct'],
  ['"="', '=', 'quoted: str'],
  // Explicit tags run the same constructors.
  ['!!str 0755', '0755', '!!str: the text as written'],
  ['!!int "0x1F"', 31, '!!int on a quoted hex'],
  ['!!float "0755"', 755, "!!float: Python's float() reads decimal, not octal"],
  ['!!bool "Yes"', true, '!!bool: lowercased lookup in yes/no/true/false/on/off'],
  ['!!bool "y"', /not a boolean/, '!!bool: y is not in the table, PyYAML raises KeyError'],
  ['!!null "x"', null, '!!null: construct_yaml_null ignores the text'],
  ['!!timestamp "2026-5-7"', '2026-05-07', 'an explicit timestamp may use one-digit month/day'],
  ['!!binary aGVsbG8=', /Unresolved tag/, 'bytes have no JSON form: refused (PyYAML gives b"hello")'],
  ['!!set {a, b}', /Unresolved tag/, 'a set has no JSON form: refused'],
  ['!!omap [a: 1]', /Unresolved tag/, 'an omap has no JSON form: refused'],
];

test('scalars, merges and tags inside match mean what PyYAML safe_load makes of them', () => {
  for (const [text, expected, why] of TABLE) {
    if (expected instanceof RegExp) {
      assert.throws(
        () => matchValue(text),
        (e: unknown) => e instanceof RuleValidationError && expected.test(e.message),
        `${text} must be refused (${why})`,
      );
    } else {
      assert.deepEqual(matchValue(text), expected, `${text}: ${why}`);
    }
  }
});

test('the YAML 1.1 reading applies to the whole document, not only match', () => {
  const doc = [
    '%YAML 1.2', // PyYAML reads 1.1 whatever the directive says
    '---',
    'rule_id: Y2',
    'rule_version: 0x10', // 16
    'name: y',
    'description: 2026-05-17', // a date: the string '2026-05-17'
    'applies_to: [command]',
    'match: {case_insensitive: no}',
    'emits:',
    '  - {technique_id: T1105, tactic: TA0011, confidence: 1:00.5}', // base 60: 60.5, out of [0, 1]
    '',
  ].join('\n');
  assert.throws(() => compileRule(doc), (e: unknown) => e instanceof RuleValidationError && /emits\.0\.confidence: must be in \[0, 1\]/.test(e.message));
  const rule = compileRule(doc.replace('1:00.5', '.5'));
  assert.deepEqual([rule.ruleVersion, rule.description, rule.match['case_insensitive'], rule.emits[0]!.confidence], [16, '2026-05-17', false, 0.5]);
  // A flag a YAML 1.2 user might write as a string: `name: no` is the boolean false, so not a name.
  assert.throws(() => compileRule(doc.replace('name: y', 'name: no')), (e: unknown) => e instanceof RuleValidationError && /name: expected string, received boolean/.test(e.message));
});

test('repeated keys stay refused even where PyYAML would let the last one win', () => {
  // yes and true are the same key (True) to PyYAML.
  assert.throws(() => matchValue('{yes: 1, true: 2}'), (e: unknown) => e instanceof RuleValidationError && /Map keys must be unique/.test(e.message));
});

test("the fixture corpus's YAML 1.1 scalars compile as the seed reads them", () => {
  const match = (id: string): Readonly<Record<string, unknown>> => compileRule(readFileSync(`${FIXTURES_DIR}${id}.yaml`)).match;
  assert.deepEqual([match('R0001')['window_minutes'], match('R0001')['case_insensitive']], [90, false]);
  assert.deepEqual(match('R0004')['suspicious_modes'], [511, 493, 448]);
  assert.deepEqual([match('R0005')['min_bytes'], match('R0005')['quarantine']], [1024, true]);
  assert.deepEqual([match('R0011')['follow_redirects'], match('R0012')['first_seen']], [false, '2021-12-09']);
  assert.deepEqual([match('R0016')['trans2_subcommand'], match('R0016')['multiplex_id'], match('R0016')['smb1_only']], [14, 65, true]);
  assert.equal(match('R0020')['session_window'], '0:05:00');
  assert.equal(match('R0021')['window'], 600);
  assert.equal(match('R0023')['catalogue_updated'], '2026-04-30T06:00:00+00:00');
  assert.deepEqual(match('R0024')['vertical'], { window_seconds: 60, min_targets: 25, ignore_icmp: false });
  assert.equal(match('R0032')['max_score'], Number.POSITIVE_INFINITY);
  assert.deepEqual((match('R0035')['thresholds'] as unknown[])[1], { fail_count: 50, window_minutes: 5, severity: 'high' });
  assert.deepEqual([match('R0036')['allowed_hours'], match('R0036')['confirm_prompt']], [null, 'y']);
});
