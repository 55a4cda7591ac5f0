import type { Command } from 'commander';
import { addCommonOptions, createContext, READ_ONLY, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { displaySourcePath, formatTable, listingJson, stateCell } from '../format.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';
import { atOption } from '../pastPoint.js';

interface PastOptions extends DatabaseOptions {
  at?: string | Date;
}

/** `ttp-rules list`: every stored rule with its state. */
export function registerList(program: Command, run: ActionRunner): void {
  const command = program
    .command('list')
    .description('list the stored rules with their state (a table; --json: one object per rule); --at: as they were at a past position or time')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules list
  $ ttp-rules list --json | jq -r 'select(.state.state != "enabled") | .ruleId'
  $ ttp-rules list --at 2026-11-29T14:03:00Z   # what was in force then (from the log)
  $ ttp-rules list --at 1200 --json`,
    );
  addCommonOptions(command.addOption(atOption()), { database: true }).action(
    run(async (options: PastOptions) => {
      const context = await createContext(options);
      const rules = await withStore(context, resolveDatabaseUrl(options.db), (store) => store.listRules(options.at === undefined ? {} : { at: options.at }), READ_ONLY);
      if (context.json) {
        for (const rule of rules) printJson(listingJson(rule));
        return 0;
      }
      if (rules.length === 0) {
        printStatus('no rules stored');
        return 0;
      }
      const anyError = rules.some((r) => r.error !== null);
      const header = ['RULE_ID', 'VERSION', 'STATE', 'EXPIRES', 'UPDATED_BY', 'SOURCE', ...(anyError ? ['PROBLEM'] : [])];
      const rows = rules.map((r) => [
        r.ruleId,
        String(r.ruleVersion),
        stateCell(r.state),
        r.state.expiresAt ? r.state.expiresAt.toISOString() : '-',
        r.updatedBy || '-',
        displaySourcePath(r.sourcePath),
        ...(anyError ? [r.error ? `does not compile (see ttp-rules check)` : ''] : []),
      ]);
      for (const line of formatTable(header, rows)) printLine(line);
      return 0;
    }),
  );
}
