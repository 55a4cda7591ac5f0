import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleValidationError, compileRule } from '../../src/index.js';

/** A rule whose match block is `lines` (indented under `match:`). */
function ruleWith(lines: readonly string[]): string {
  return `rule_id: A1\nrule_version: 1\nname: a\napplies_to: [command]\nmatch:\n${lines.map((l) => `  ${l}`).join('\n')}\nemits:\n  - {technique_id: T1105, tactic: TA0011, confidence: 0.5}\n`;
}
const refused = (text: string, why: RegExp): void => {
  assert.throws(() => compileRule(text), (e: unknown) => e instanceof RuleValidationError && why.test(e.message), String(why));
};

test('at most 100 aliases are expanded, an alias counting the aliases inside what it names', () => {
  const uses = (n: number): string => ruleWith(['a: &a x', `l: [${Array(n).fill('*a').join(', ')}]`]);
  assert.equal((compileRule(uses(100)).match['l'] as unknown[]).length, 100);
  refused(uses(101), /YAML: Excessive alias count .*more than 100 aliases/);
  // *b stands for itself and its ten *a: 10 + 8 × 11 = 98 expanded, 10 + 9 × 11 = 109 too many.
  const nested = (n: number): string => ruleWith(['a: &a [x]', `b: &b [${Array(10).fill('*a').join(', ')}]`, `l: [${Array(n).fill('*b').join(', ')}]`]);
  assert.deepEqual((compileRule(nested(8)).match['l'] as unknown[][])[7], Array(10).fill(['x']));
  refused(nested(9), /YAML: Excessive alias count/);
  // Merges through an alias count too.
  const merges = (n: number): string => ruleWith(['d: &d {k: 1}', 'l:', ...Array.from({ length: n }, (_, i) => `  - {<<: *d, i: ${i}}`)]);
  assert.deepEqual((compileRule(merges(100)).match['l'] as unknown[])[99], { k: 1, i: 99 });
  refused(merges(101), /YAML: Excessive alias count/);
});

test('keys PyYAML cannot hash or merge at are refused; a null key is the empty string', () => {
  refused(ruleWith(['[a, b]: 1']), /YAML: found unhashable key/);
  refused(ruleWith(['? {a: 1}', ': 2']), /YAML: found unhashable key/);
  refused(ruleWith(['x: &s [1]', '*s : 2']), /YAML: found unhashable key/);
  refused(ruleWith(['? <<', ': {a: 1}']), /YAML: an explicit '\? <<' merge key/);
  refused(ruleWith(['v: !!merge <<']), /only a merge key/);
  assert.deepEqual(compileRule(ruleWith(['v: {~: 1}'])).match['v'], { '': 1 });
  assert.deepEqual(compileRule(ruleWith(['v: {!!merge <<: {a: 1}, b: 2}'])).match['v'], { a: 1, b: 2 });
});
