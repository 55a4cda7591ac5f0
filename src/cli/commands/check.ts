import type { Command } from 'commander';
import { addCommonOptions, createContext, READ_ONLY, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

/** `ttp-rules check`: compiles every stored row and reports the bad ones (after hand edits). */
export function registerCheck(program: Command, run: ActionRunner): void {
  const command = program
    .command('check')
    .description('compile every stored rule row and report the ones that do not compile (e.g. after a psql edit); exit 1 if any')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules check
  $ ttp-rules check --json | jq 'select(.valid | not)'`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (options: DatabaseOptions) => {
      const context = await createContext(options);
      const rules = await withStore(context, resolveDatabaseUrl(options.db), (store) => store.listRules(), READ_ONLY);
      const bad = rules.filter((r) => r.error !== null);
      for (const rule of rules) {
        if (context.json) {
          printJson({ ruleId: rule.ruleId, valid: rule.error === null, code: rule.error?.code ?? null, issues: rule.error?.issues ?? [] });
        } else if (rule.error) {
          for (const issue of rule.error.issues) printLine(`${rule.ruleId}: ${issue.path || '-'}: ${issue.message}`);
        }
      }
      if (!context.json) printStatus(bad.length === 0 ? `${rules.length} stored rule(s) compile` : `${bad.length} of ${rules.length} stored rule(s) do not compile`);
      return bad.length === 0 ? 0 : 1;
    }),
  );
}
