import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_RULE_STATE, RuleValidationError, applyCeiling, compileRule, isActive, parseRule, type RuleState } from '../../src/index.js';
import { FIXTURE_COUNT, fixtureFiles, ruleYaml } from '../helpers/rules.js';

const refuses = (input: string | Uint8Array, path: string, message: RegExp, options = {}): void => {
  assert.throws(
    () => parseRule(input, { source: 'case.yaml', ...options }),
    (e: unknown) => {
      assert.ok(e instanceof RuleValidationError, `expected RuleValidationError, got ${String(e)}`);
      const issue = e.issues.find((i) => i.path === path);
      assert.ok(issue, `expected an issue at '${path}', got ${JSON.stringify(e.issues)}`);
      assert.match(issue.message, message);
      assert.match(e.message, /^case\.yaml/);
      return true;
    },
  );
};

test('every fixture rule compiles to a frozen CompiledRule', () => {
  for (const file of fixtureFiles()) {
    const rule = compileRule(readFileSync(file), DEFAULT_RULE_STATE, { source: file });
    assert.ok(Object.isFrozen(rule) && Object.isFrozen(rule.match) && Object.isFrozen(rule.appliesTo));
    assert.ok(rule.emits.length > 0);
    assert.deepEqual(rule.state, DEFAULT_RULE_STATE);
  }
});

test('the fixture corpus is as varied as a real rule set', () => {
  const files = fixtureFiles();
  assert.equal(files.length, FIXTURE_COUNT);
  const texts = files.map((f) => readFileSync(f, 'utf8'));
  const rules = files.map((f) => compileRule(readFileSync(f)));
  assert.ok(new Set(rules.flatMap((r) => r.appliesTo)).size >= 15, 'many event kinds');
  assert.ok(rules.filter((r) => r.emits.length > 1).length >= FIXTURE_COUNT / 2, 'several emits per rule');
  const emits = rules.flatMap((r) => r.emits);
  assert.ok(emits.some((e) => e.subTechniqueId === null) && emits.some((e) => e.subTechniqueId !== null));
  assert.ok(texts.some((t) => /sub_technique_id: ''/.test(t)), "an empty sub_technique_id ('')");
  assert.ok(emits.some((e) => e.confidence === 0) && emits.some((e) => e.confidence === 1));
  assert.ok(texts.some((t) => /pattern: .{200,}/.test(t)), 'long regexes');
  assert.ok(texts.some((t) => /[^\x00-\x7f]/.test(t)), 'unicode');
  assert.ok(texts.some((t) => /^\s*#/m.test(t)), 'comments');
  assert.ok(texts.some((t) => /&\w+/.test(t) && /\*\w+/.test(t)) && texts.some((t) => /<<: \*/.test(t)), 'anchors, aliases and merge keys');
  assert.ok(rules.some((r) => r.ruleVersion > 1));
});

test('seed-compatible defaults: description, evidence_fields, empty sub_technique_id', () => {
  const text = ruleYaml('X1').replace(/evidence_fields:\n {2}- cmd\n/, '').replace('    tactic: TA0011', "    tactic: TA0011\n    sub_technique_id: ''");
  const rule = compileRule(text);
  assert.equal(rule.description, '');
  assert.deepEqual(rule.evidenceFields, []);
  assert.equal(rule.emits[0]?.subTechniqueId, null);
  assert.equal(compileRule(ruleYaml('X1').replace('confidence: 0.5', 'confidence: 0.0')).emits[0]?.confidence, 0);
});

test('unknown top-level keys are ignored, or refused in strict mode', () => {
  const text = `${ruleYaml('X2')}owner: team-a\n`;
  assert.equal(compileRule(text).ruleId, 'X2');
  refuses(text, 'owner', /unknown key/, { strict: true });
});

test('malformed documents are refused naming the field and the reason', () => {
  refuses('- a\n- b\n', '', /must be a mapping/);
  refuses('just text', '', /must be a mapping/);
  refuses(ruleYaml('X3').replace('rule_version: 1\n', ''), 'rule_version', /is required \(expected number\)/);
  refuses(ruleYaml('X3').replace('rule_version: 1', 'rule_version: one'), 'rule_version', /expected number/);
  refuses(ruleYaml('X3').replace('rule_version: 1', 'rule_version: 1.5'), 'rule_version', /integer/);
  refuses(ruleYaml('X3').replace(/name: .*\n/, ''), 'name', /is required/);
  refuses(ruleYaml('X3').replace(/applies_to:\n {2}- command\n/, 'applies_to: []\n'), 'applies_to', /at least one/);
  refuses(ruleYaml('X3').replace(/match:\n.*\n.*\n/, 'match: [1, 2]\n'), 'match', /mapping/);
  refuses(ruleYaml('X3').replace(/emits:\n(.*\n){3}/, 'emits: []\n'), 'emits', /at least one/);
  refuses(ruleYaml('X3').replace('    tactic: TA0011\n', ''), 'emits.0.tactic', /is required/);
  refuses(ruleYaml('X3').replace('  - technique_id: T1105\n    tactic', '  - tactic'), 'emits.0.technique_id', /is required/);
  refuses(ruleYaml('X3').replace('confidence: 0.5', 'confidence: 1.01'), 'emits.0.confidence', /\[0, 1\]/);
  refuses(ruleYaml('X3').replace('confidence: 0.5', 'confidence: -0.1'), 'emits.0.confidence', /\[0, 1\]/);
  refuses(ruleYaml('X3').replace('confidence: 0.5', 'confidence: high'), 'emits.0.confidence', /expected number, received string/);
  refuses(ruleYaml('X3').replace('confidence: 0.5', 'confidence: .nan'), 'emits.0.confidence', /.+/);
  refuses(ruleYaml('X3') + 'rule_id: X4\n', '', /YAML: Map keys must be unique/);
});

test('rule ids must be one bus-topic segment', () => {
  for (const bad of ['R1.x', 'R*', 'R>', '"R 1"', '""', `"${'x'.repeat(10_240)}"`, '"R\\t1"', '"R1;DROP TABLE ttp_rule; --"']) {
    refuses(ruleYaml('PLACEHOLDER').replace('rule_id: PLACEHOLDER', `rule_id: ${bad}`), 'rule_id', /.+/);
  }
  refuses(ruleYaml('PLACEHOLDER').replace('rule_id: PLACEHOLDER', 'rule_id: 42'), 'rule_id', /expected string/);
});

test('hostile YAML is refused quickly: alias bombs, huge documents, bad UTF-8, object-constructing tags', () => {
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 12; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  refuses(bomb.join('\n'), '', /YAML: .*(alias|Excessive)/i);
  const huge = `${ruleYaml('X5')}description: "${'x'.repeat(5 * 1024 * 1024)}"\n`;
  assert.throws(() => parseRule(huge), (e: unknown) => e instanceof RuleValidationError && e.code === 'RULE_TOO_LARGE' && /limit is 262144/.test(e.message));
  assert.throws(() => parseRule(Buffer.from(huge)), (e: unknown) => e instanceof RuleValidationError && e.code === 'RULE_TOO_LARGE');
  refuses(Buffer.concat([Buffer.from(ruleYaml('X6')), Buffer.from([0xff, 0xfe, 0x80])]), '', /not valid UTF-8/);
  refuses(`${ruleYaml('X7')}x: !!js/function "function () { return 1 }"\n`, '', /YAML: .*tag/i);
  refuses(`${ruleYaml('X7')}x: !!python/object:os.system ["rm -rf /"]\n`, '', /YAML: .*tag/i);
  refuses(`${ruleYaml('X7')}x: "\u0000"\n`, '', /NUL/);
});

test('isActive and applyCeiling: disabled never fires, the ceiling clamps only when clipped, expiry is the default', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const state = (over: Partial<RuleState>): RuleState => ({ ...DEFAULT_RULE_STATE, ...over });
  assert.equal(isActive(DEFAULT_RULE_STATE, now), true);
  assert.equal(isActive(state({ state: 'disabled' }), now), false);
  assert.equal(isActive(state({ state: 'disabled', expiresAt: new Date('2025-12-31T23:59:59Z') }), now), true);
  assert.equal(isActive(state({ state: 'clipped', confidenceMax: 0.2 }), now), true);
  assert.equal(applyCeiling(0.9, state({ state: 'clipped', confidenceMax: 0.5 }), now), 0.5);
  assert.equal(applyCeiling(0.3, state({ state: 'clipped', confidenceMax: 0.5 }), now), 0.3, 'never raises');
  assert.equal(applyCeiling(0.9, state({ state: 'enabled', confidenceMax: 0.5 }), now), 0.9, 'only when clipped');
  assert.equal(applyCeiling(0.9, state({ state: 'clipped', confidenceMax: 0.5, expiresAt: new Date('2025-01-01') }), now), 0.9, 'expired ceiling is gone');
});
