import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * The project's own rule corpus (test/fixtures/rules/): 36 honeypot rules written
 * for these tests, as varied as a real rule set, with YAML 1.1 scalars in `match`.
 * The DECNET rules beside the checkout are only read by `npm run test:decnet`.
 */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/rules/', import.meta.url));

/** How many rules the corpus holds (tests count against it). */
export const FIXTURE_COUNT = 36;

/** The corpus files, sorted by name (R0001.yaml first). */
export function fixtureFiles(dir: string = FIXTURES_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /^[A-Za-z0-9_]+\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
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
