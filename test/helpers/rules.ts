import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * The 59 DECNET rules shipped beside the project in ../shared (never copied into
 * it); TTP_FIXTURES_DIR points elsewhere for a checkout without ../shared.
 */
export const FIXTURES_DIR = process.env['TTP_FIXTURES_DIR'] ?? fileURLToPath(new URL('../../../shared/fixtures/decnet-rules/', import.meta.url));

export function fixtureFiles(): string[] {
  if (!existsSync(FIXTURES_DIR)) {
    throw new Error(`the DECNET fixtures are not at ${FIXTURES_DIR}: clone the project beside ../shared, or set TTP_FIXTURES_DIR`);
  }
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
