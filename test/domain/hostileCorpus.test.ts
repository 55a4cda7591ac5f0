import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleValidationError, parseRule } from '../../src/index.js';
import { BAD_RULES } from '../corpus/badRules.js';

test('the hostile corpus has at least 30 documents, each refused by the parser with an error naming the problem', () => {
  assert.ok(BAD_RULES.length >= 30, `${BAD_RULES.length} documents`);
  for (const bad of BAD_RULES) {
    assert.throws(
      () => parseRule(bad.bytes, { source: `${bad.name}.yaml` }),
      (e: unknown) => {
        assert.ok(e instanceof RuleValidationError, `${bad.name}: ${String(e)}`);
        assert.match(e.message, bad.expect, bad.name);
        assert.ok(e.message.startsWith(`${bad.name}.yaml`), `${bad.name}: names the file`);
        assert.ok(e.message.length < 2000, `${bad.name}: the message stays readable`);
        return true;
      },
      bad.name,
    );
  }
});
