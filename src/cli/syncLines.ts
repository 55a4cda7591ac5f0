import { stat } from 'node:fs/promises';
import type { DirectorySync, RuleValidationError, SyncReport } from '../index.js';
import { UsageError } from './cliErrors.js';
import { displaySourcePath } from './format.js';
import { printJson, printLine } from './output.js';

/** Refuses (usage error, exit 2) a `dir` argument that is not a directory. */
export async function requireRulesDirectory(dir: string, command: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new UsageError(`${dir}: not a directory (${command} takes a rules directory)`);
}

/** `{"kind":"applied",…}`: what one reconcile or one batch of file events wrote. */
export function appliedJson(sync: Pick<DirectorySync, 'directory'>, report: SyncReport): Record<string, unknown> {
  return { kind: 'applied', directory: sync.directory, upserted: report.upserted, unchanged: report.unchanged, deleted: report.deleted };
}

/** `{"kind":"invalid",…}`: one rule file that did not validate. */
export function invalidJson(error: RuleValidationError): Record<string, unknown> {
  return { kind: 'invalid', file: error.source, ruleId: error.ruleId, issues: error.issues };
}

/** Counts of a report: `2 upserted, 5 unchanged, 1 deleted, 0 invalid`. */
export function reportCounts(report: SyncReport): string {
  return `${report.upserted.length} upserted, ${report.unchanged.length} unchanged, ${report.deleted.length} deleted, ${report.invalid.length} invalid`;
}

/** One line per applied batch: `applied: 1 upserted (EX001), 0 unchanged, 1 deleted (EX004)`. */
export function appliedLine(report: SyncReport): string {
  const ids = (list: readonly string[]): string => (list.length > 0 && list.length <= 20 ? ` (${list.join(', ')})` : '');
  return `applied: ${report.upserted.length} upserted${ids(report.upserted)}, ${report.unchanged.length} unchanged, ${report.deleted.length} deleted${ids(report.deleted)}`;
}

/** One line per invalid file: `invalid: rules/X.yaml: X: emits.0.confidence: must be in [0, 1] (…)`. */
export function invalidLine(error: RuleValidationError): string {
  const file = error.source ? displaySourcePath(error.source) : '-';
  const problems = error.issues.map((issue) => `${issue.path || '-'}: ${issue.message}`).join('; ');
  return `invalid: ${file}: ${error.ruleId ?? '-'}: ${problems} (not applied; the stored version stays in force)`;
}

/** Prints every invalid file of a report on stdout, one line (or JSON object) each. */
export function printInvalid(errors: readonly RuleValidationError[], json: boolean): void {
  for (const error of errors) {
    if (json) printJson(invalidJson(error));
    else printLine(invalidLine(error));
  }
}
