import { createHash } from 'node:crypto';
import type { CompiledRule } from '../../src/index.js';

function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** A digest of a rule set (definitions and states), identical for equal sets whatever their origin. */
export function digestRules(rules: Iterable<CompiledRule>): string {
  const sorted = [...rules].sort((a, b) => (a.ruleId < b.ruleId ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(canonical(sorted))).digest('hex').slice(0, 16);
}
