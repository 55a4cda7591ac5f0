import { ruleYaml } from '../helpers/rules.js';

/** One hostile or malformed rule document and what its error must mention. */
export interface BadRule {
  readonly name: string;
  readonly bytes: Buffer;
  /** Matched against the error message. */
  readonly expect: RegExp;
}

const good = ruleYaml('BAD');
const edit = (from: string | RegExp, to: string): string => good.replace(from, to);
const aliasBomb = (): string => {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) {
    const name = String.fromCharCode(97 + i);
    const prev = String.fromCharCode(96 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  return `${good}${lines.join('\n')}\n`;
};

/**
 * At least 30 bad rule documents (SPEC §2 and the reliability issue): each must
 * be refused or isolated with an error that names the problem, by every entry
 * point. Large ones are generated, not stored.
 */
export const BAD_RULES: readonly BadRule[] = [
  { name: 'not-a-mapping-list', bytes: Buffer.from('- a\n- b\n'), expect: /must be a mapping/ },
  { name: 'not-a-mapping-scalar', bytes: Buffer.from('hello\n'), expect: /must be a mapping/ },
  { name: 'empty-document', bytes: Buffer.from(''), expect: /must be a mapping/ },
  { name: 'yaml-syntax-error', bytes: Buffer.from('rule_id: [unclosed\n'), expect: /YAML/ },
  { name: 'missing-rule_id', bytes: Buffer.from(edit(/rule_id: BAD\n/, '')), expect: /rule_id: is required/ },
  { name: 'missing-rule_version', bytes: Buffer.from(edit(/rule_version: 1\n/, '')), expect: /rule_version: is required/ },
  { name: 'missing-name', bytes: Buffer.from(edit(/name: .*\n/, '')), expect: /name: is required/ },
  { name: 'missing-applies_to', bytes: Buffer.from(edit(/applies_to:\n {2}- command\n/, '')), expect: /applies_to: is required/ },
  { name: 'missing-match', bytes: Buffer.from(edit(/match:\n.*\n.*\n/, '')), expect: /match: /},
  { name: 'missing-emits', bytes: Buffer.from(edit(/emits:\n(.*\n){3}/, '')), expect: /emits: is required/ },
  { name: 'rule_version-string', bytes: Buffer.from(edit('rule_version: 1', 'rule_version: one')), expect: /rule_version: expected number/ },
  { name: 'rule_version-float', bytes: Buffer.from(edit('rule_version: 1', 'rule_version: 1.5')), expect: /rule_version: must be an integer/ },
  { name: 'applies_to-string', bytes: Buffer.from(edit(/applies_to:\n {2}- command\n/, 'applies_to: command\n')), expect: /applies_to: expected array/ },
  { name: 'applies_to-empty', bytes: Buffer.from(edit(/applies_to:\n {2}- command\n/, 'applies_to: []\n')), expect: /applies_to: must list at least one/ },
  { name: 'match-list', bytes: Buffer.from(edit(/match:\n.*\n.*\n/, 'match: [1, 2]\n')), expect: /match: must be a mapping/ },
  { name: 'emits-empty', bytes: Buffer.from(edit(/emits:\n(.*\n){3}/, 'emits: []\n')), expect: /emits: must list at least one/ },
  { name: 'emits-mapping', bytes: Buffer.from(edit(/emits:\n(.*\n){3}/, 'emits: {technique_id: T1}\n')), expect: /emits: expected array/ },
  { name: 'emit-missing-technique', bytes: Buffer.from(edit('  - technique_id: T1105\n    tactic', '  - tactic')), expect: /emits\.0\.technique_id: is required/ },
  { name: 'emit-missing-tactic', bytes: Buffer.from(edit('    tactic: TA0011\n', '')), expect: /emits\.0\.tactic: is required/ },
  { name: 'confidence-above-1', bytes: Buffer.from(edit('confidence: 0.5', 'confidence: 1.5')), expect: /emits\.0\.confidence: must be in \[0, 1\]/ },
  { name: 'confidence-negative', bytes: Buffer.from(edit('confidence: 0.5', 'confidence: -0.01')), expect: /emits\.0\.confidence: must be in \[0, 1\]/ },
  { name: 'confidence-string', bytes: Buffer.from(edit('confidence: 0.5', 'confidence: "high"')), expect: /emits\.0\.confidence: expected number/ },
  { name: 'confidence-nan', bytes: Buffer.from(edit('confidence: 0.5', 'confidence: .nan')), expect: /emits\.0\.confidence/ },
  { name: 'id-with-dot', bytes: Buffer.from(edit('rule_id: BAD', 'rule_id: R1.x')), expect: /rule_id: must be one bus-topic segment/ },
  { name: 'id-with-star', bytes: Buffer.from(edit('rule_id: BAD', 'rule_id: "R*"')), expect: /rule_id: must be one bus-topic segment/ },
  { name: 'id-with-gt', bytes: Buffer.from(edit('rule_id: BAD', 'rule_id: "R>"')), expect: /rule_id: must be one bus-topic segment/ },
  { name: 'id-with-space', bytes: Buffer.from(edit('rule_id: BAD', 'rule_id: "R 1"')), expect: /rule_id: must be one bus-topic segment/ },
  { name: 'id-empty', bytes: Buffer.from(edit('rule_id: BAD', 'rule_id: ""')), expect: /rule_id: must not be empty/ },
  { name: 'id-10kb', bytes: Buffer.from(edit('rule_id: BAD', `rule_id: ${'R'.repeat(10_240)}`)), expect: /rule_id: must be at most 128 characters/ },
  { name: 'id-sql', bytes: Buffer.from(edit('rule_id: BAD', `rule_id: "R1'; DROP TABLE ttp_rule; --"`)), expect: /rule_id: must be one bus-topic segment/ },
  { name: 'id-number', bytes: Buffer.from(edit('rule_id: BAD', 'rule_id: 42')), expect: /rule_id: expected string/ },
  { name: 'duplicate-keys', bytes: Buffer.from(`${good}rule_id: OTHER\n`), expect: /YAML: Map keys must be unique/ },
  { name: 'alias-bomb', bytes: Buffer.from(aliasBomb()), expect: /YAML: .*alias/i },
  { name: 'five-megabytes', bytes: Buffer.from(`${good}padding: "${'x'.repeat(5 * 1024 * 1024)}"\n`), expect: /bytes; the limit is/ },
  { name: 'invalid-utf8', bytes: Buffer.concat([Buffer.from(good), Buffer.from('note: "'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"\n')]), expect: /not valid UTF-8/ },
  { name: 'js-function-tag', bytes: Buffer.from(`${good}hook: !!js/function "function () { process.exit(1) }"\n`), expect: /YAML: .*tag/i },
  { name: 'python-object-tag', bytes: Buffer.from(`${good}hook: !!python/object/apply:os.system ["rm -rf /"]\n`), expect: /YAML: .*tag/i },
  { name: 'nul-character', bytes: Buffer.from(`${good}note: "a\u0000b"\n`), expect: /NUL/ },
];
