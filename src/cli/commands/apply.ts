import type { Command } from 'commander';
import type { RuleStore, UpsertRulesResult } from '../../index.js';
import { CliFailure, UsageError } from '../cliErrors.js';
import { addCommonOptions, createContext, defaultActor, parseActor, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';
import { checkRuleFiles, collectRuleFiles, problemLines, type FileCheck } from '../ruleFiles.js';

interface ApplyOptions extends DatabaseOptions {
  prune?: boolean;
  strict?: boolean;
  by?: string;
}

/** Rule files read and validated, ready to be written in one batch. */
interface PreparedApply {
  readonly checks: readonly FileCheck[];
  readonly invalid: readonly FileCheck[];
  /** The canonical directory (with a trailing `/`) whose stale rules `--prune` deletes. */
  readonly pruneUnder: string | undefined;
}

/** Reads and validates the files of `apply`/`start`; refuses `--prune` without exactly one directory. */
async function prepareApply(paths: readonly string[], options: { prune: boolean; strict: boolean }): Promise<PreparedApply> {
  const { files, directories } = await collectRuleFiles(paths);
  if (options.prune && directories.length !== 1) {
    throw new UsageError(`--prune needs exactly one directory argument (got ${directories.length})`);
  }
  if (files.length === 0 && !options.prune) throw new UsageError(`no rule files (named [A-Za-z0-9_]+.yaml or .yml) in ${paths.join(', ')}`);
  const checks = await checkRuleFiles(files, { strict: options.strict });
  return { checks, invalid: checks.filter((c) => !c.valid), pruneUnder: options.prune ? directories[0] : undefined };
}

/** Prints every problem of an invalid batch (`file: rule_id: field: reason`, or JSON per bad file); the caller fails. */
function reportInvalid(prepared: PreparedApply, json: boolean): CliFailure {
  for (const check of prepared.invalid) {
    if (json) printJson({ file: check.file.displayPath, sourcePath: check.file.sourcePath, ruleId: check.ruleId, valid: false, issues: check.issues });
    else for (const line of problemLines(check)) printLine(line);
  }
  return new CliFailure(`${prepared.invalid.length} of ${prepared.checks.length} rule file(s) invalid; nothing was applied`, 'RULE_INVALID');
}

/** Writes a validated batch in one transaction (all or nothing). */
async function writeBatch(store: RuleStore, prepared: PreparedApply, updatedBy: string): Promise<UpsertRulesResult> {
  const documents = prepared.checks.map((c) => ({ yaml: c.bytes!, sourcePath: c.file.sourcePath }));
  return store.upsertRules(documents, { updatedBy, ...(prepared.pruneUnder !== undefined ? { pruneUnder: prepared.pruneUnder } : {}) });
}

/** A one-line summary of a batch. */
function batchSummary(result: UpsertRulesResult): string {
  const total = result.upserted.length + result.unchanged.length;
  return `${total} rule(s): ${result.upserted.length} upserted, ${result.unchanged.length} unchanged, ${result.deleted.length} deleted`;
}

/** `ttp-rules apply <file|dir>… [--prune]`: validate, then upsert everything in one transaction. */
export function registerApply(program: Command, run: ActionRunner): void {
  const command = program
    .command('apply')
    .description('validate rule files, then upsert them all in one transaction (all or nothing)')
    .argument('<paths...>', 'rule files, or directories (their files named [A-Za-z0-9_]+.yaml/.yml; not recursive)')
    .option('--prune', "also delete stored rules whose source_path lies under the (single) directory argument but whose file is gone")
    .option('--strict', 'also refuse unknown top-level keys')
    .option('--by <name>', 'recorded as updated_by (default: $USER@hostname)', parseActor)
    .addHelpText(
      'after',
      `
source_path is stored as the file's absolute path, its directory's symlinks
resolved (e.g. /srv/detect/rules/EX001_ssh_bruteforce.yaml); --prune deletes the
stored rules whose source_path starts with the directory's path + "/" and that
are not in the batch.

Examples:
  $ ttp-rules apply rules/
  $ ttp-rules apply --prune rules/ --by ci@build-7
  $ ttp-rules apply rules/EX002_wget_download.yaml --db postgres://localhost/rules`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (paths: string[], options: ApplyOptions) => {
      const context = await createContext(options);
      const url = resolveDatabaseUrl(options.db);
      const prepared = await prepareApply(paths, { prune: options.prune === true, strict: options.strict === true });
      if (prepared.invalid.length > 0) throw reportInvalid(prepared, context.json);
      const result = await withStore(context, url, (store) => writeBatch(store, prepared, options.by ?? defaultActor()), { strict: options.strict === true });
      if (context.json) {
        printJson({ upserted: result.upserted, unchanged: result.unchanged, deleted: result.deleted });
      } else {
        for (const id of result.upserted) printLine(`upserted  ${id}`);
        for (const id of result.deleted) printLine(`deleted   ${id}`);
        printStatus(batchSummary(result));
      }
      return 0;
    }),
  );
}
