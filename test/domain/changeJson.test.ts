import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRule, DEFAULT_RULE_STATE, type RuleChange } from '../../src/index.js';
import { changeFromJson } from '../../src/domain/changeFromJson.js';
import { changeJson } from '../../src/domain/changeJson.js';
import { ruleYaml } from '../helpers/rules.js';

// The one change↔JSON codec: what `changeJson` writes (watch --json, SSE, the NATS bus), `changeFromJson` reads back.

const at = new Date('2026-11-30T10:00:00.000Z');
const base = { ruleId: 'CJ1', position: '42', commit: '41', lastInCommit: true, actor: 'alice', at } as const;
const rule = compileRule(ruleYaml('CJ1'));
const changes: RuleChange[] = [
  { ...base, kind: 'definition', rule },
  { ...base, kind: 'deleted' },
  { ...base, kind: 'state', expired: false, state: { state: 'clipped', confidenceMax: 0.2, expiresAt: new Date('2026-12-01T00:00:00.000Z'), reason: 'noisy', setBy: 'alice', setAt: at } },
  { ...base, kind: 'state', expired: true, state: DEFAULT_RULE_STATE },
];
const wire = (change: RuleChange): unknown => JSON.parse(JSON.stringify(changeJson(change)));

test('every kind of change survives the wire: dates revived, the result frozen', () => {
  for (const change of changes) {
    const { change: read, problem } = changeFromJson(wire(change));
    assert.equal(problem, undefined);
    assert.deepEqual(read, change);
    assert.ok(Object.isFrozen(read));
  }
});

test('a change from an older writer (no commit / lastInCommit) is its own transaction', () => {
  const json = wire(changes[1]!) as Record<string, unknown>;
  delete json['commit'];
  delete json['lastInCommit'];
  assert.deepEqual(changeFromJson(json).change, { ...changes[1]!, commit: '42', lastInCommit: true });
});

test('refused with the reason: a wrong shape, a rule under another id, a commit after the position', () => {
  assert.match(changeFromJson({ kind: 'nope' }).problem ?? '', /^malformed change: /);
  assert.match(changeFromJson({ ...(wire(changes[2]!) as object), at: 'yesterday' }).problem ?? '', /^malformed change: at: is not a date/);
  assert.equal(changeFromJson({ ...(wire(changes[0]!) as object), ruleId: 'OTHER' }).problem, 'the rule does not match its rule id');
  assert.equal(changeFromJson({ ...(wire(changes[1]!) as object), commit: '43' }).problem, 'commit is after position');
});
