import type { Command } from 'commander';
import { CliFailure } from '../cliErrors.js';
import { addCommonOptions, checkRuleIdArgument, createContext, READ_ONLY, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { describeState, listingJson } from '../format.js';
import { printJson, printLine } from '../output.js';
import type { ActionRunner } from '../program.js';
import { atOption } from '../pastPoint.js';

interface PastOptions extends DatabaseOptions {
  at?: string | Date;
}

/** `ttp-rules show <rule_id>`: one rule's YAML and state. */
export function registerShow(program: Command, run: ActionRunner): void {
  const command = program
    .command('show')
    .description("print one stored rule: its state and its YAML as stored (exit 1 if it is not stored)")
    .argument('<rule_id>', 'the rule id')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules show EX001_ssh_bruteforce
  $ ttp-rules show EX001_ssh_bruteforce --json | jq .state
  $ ttp-rules show EX001_ssh_bruteforce --at 2026-11-29T14:03:00Z   # the version and state in force then`,
    );
  addCommonOptions(command.addOption(atOption()), { database: true }).action(
    run(async (ruleId: string, options: PastOptions) => {
      await checkRuleIdArgument(ruleId);
      const context = await createContext(options);
      const rule = await withStore(context, resolveDatabaseUrl(options.db), (store) => store.getRule(ruleId, options.at === undefined ? {} : { at: options.at }), READ_ONLY);
      if (!rule) throw new CliFailure(options.at === undefined ? `rule ${ruleId} is not stored` : `rule ${ruleId} was not stored at ${options.at instanceof Date ? options.at.toISOString() : `position ${options.at}`}`, 'RULE_NOT_FOUND');
      if (context.json) {
        printJson({ ...listingJson(rule), yaml: rule.yamlContent });
        return 0;
      }
      printLine(`rule_id:     ${rule.ruleId}`);
      printLine(`version:     ${rule.ruleVersion}`);
      printLine(`source:      ${rule.sourcePath || '-'}`);
      printLine(`updated:     ${rule.updatedAt.toISOString()} by ${rule.updatedBy || '-'}`);
      printLine(`state:       ${describeState(rule.state)}${rule.state.setAt ? ` at ${rule.state.setAt.toISOString()}` : ''}`);
      if (rule.error) printLine(`problem:     ${rule.error.message} (the last good version stays in force)`);
      printLine('---');
      for (const line of rule.yamlContent.replace(/\n$/, '').split('\n')) printLine(line);
      return 0;
    }),
  );
}
