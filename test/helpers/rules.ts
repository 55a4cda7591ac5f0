import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The 59 DECNET rules shipped beside the project (never copied into it). */
export const FIXTURES_DIR = fileURLToPath(new URL('../../../shared/fixtures/decnet-rules/', import.meta.url));

export function fixtureFiles(): string[] {
  return readdirSync(FIXTURES_DIR)
    .filter((f) => /^[A-Za-z0-9_]+\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(FIXTURES_DIR, f));
}

/** A small valid rule document; vary `version` or `confidence` to make a real change. */
export function ruleYaml(ruleId: string, options: { version?: number; confidence?: number; name?: string; appliesTo?: string[] } = {}): string {
  const appliesTo = options.appliesTo ?? ['command'];
  return [
    `rule_id: ${ruleId}`,
    `rule_version: ${options.version ?? 1}`,
    `name: ${options.name ?? `test rule ${ruleId}`}`,
    'applies_to:',
    ...appliesTo.map((k) => `  - ${k}`),
    'match:',
    '  kind: regex',
    '  pattern: "wget .*"',
    'emits:',
    '  - technique_id: T1105',
    '    tactic: TA0011',
    `    confidence: ${options.confidence ?? 0.5}`,
    'evidence_fields:',
    '  - cmd',
    '',
  ].join('\n');
}

export function readFixture(path: string): string {
  return readFileSync(path, 'utf8');
}
