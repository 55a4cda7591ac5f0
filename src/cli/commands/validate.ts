import type { Command } from 'commander';
import { addCommonOptions, createContext, type CommonOptions } from '../context.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';
import { checkRuleFiles, collectRuleFiles, problemLines, type FileCheck } from '../ruleFiles.js';
import { UsageError } from '../cliErrors.js';

interface ValidateOptions extends CommonOptions {
  strict?: boolean;
}

/** One file's result as JSON. */
export function fileCheckJson(check: FileCheck): Record<string, unknown> {
  return { file: check.file.displayPath, sourcePath: check.file.sourcePath, ruleId: check.ruleId, valid: check.valid, issues: check.issues };
}

/** `ttp-rules validate <file|dir>…`: checks rule files, no database. */
export function registerValidate(program: Command, run: ActionRunner): void {
  const command = program
    .command('validate')
    .description('check rule files without touching a database; prints "file: rule_id: field: reason" per problem, exit 1 if any file is invalid')
    .argument('<paths...>', 'rule files, or directories (their files named [A-Za-z0-9_]+.yaml/.yml; not recursive)')
    .option('--strict', 'also refuse unknown top-level keys')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules validate rules/
  $ ttp-rules validate rules/EX001_ssh_bruteforce.yaml other/R42.yml
  $ ttp-rules validate --json rules/ | jq 'select(.valid | not)'`,
    );
  addCommonOptions(command, { database: false }).action(
    run(async (paths: string[], options: ValidateOptions) => {
      const context = await createContext(options);
      const { files } = await collectRuleFiles(paths);
      if (files.length === 0) throw new UsageError(`no rule files (named [A-Za-z0-9_]+.yaml or .yml) in ${paths.join(', ')}`);
      const checks = await checkRuleFiles(files, { strict: options.strict === true });
      const invalid = checks.filter((c) => !c.valid);
      for (const check of checks) {
        if (context.json) printJson(fileCheckJson(check));
        else for (const line of problemLines(check)) printLine(line);
      }
      if (!context.json) {
        printStatus(invalid.length === 0 ? `${checks.length} rule file(s) valid` : `${invalid.length} of ${checks.length} rule file(s) invalid`);
      }
      return invalid.length === 0 ? 0 : 1;
    }),
  );
}
