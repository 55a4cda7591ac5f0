import { InvalidArgumentError, type Command } from 'commander';
import { CliFailure } from '../cliErrors.js';
import { addCommonOptions, checkRuleIdArgument, createContext, READ_ONLY, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { formatTable, historyDetail, historyJson } from '../format.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

interface HistoryOptions extends DatabaseOptions {
  limit: number;
}

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a positive integer');
  const limit = Number(value);
  if (limit < 1 || limit > 100_000) throw new InvalidArgumentError('expected an integer from 1 to 100000');
  return limit;
}

/** `ttp-rules history [rule_id] [--limit N]`: the event log, newest first. */
export function registerHistory(program: Command, run: ActionRunner): void {
  const command = program
    .command('history')
    .description('show the event log, newest first: position, time, who, rule, kind, version or state')
    .argument('[rule_id]', 'only this rule')
    .option('--limit <n>', 'how many entries', parseLimit, 50)
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules history
  $ ttp-rules history EX001_ssh_bruteforce --limit 10
  $ ttp-rules history --json --limit 1000 | jq -r 'select(.kind == "state") | .actor'`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (ruleId: string | undefined, options: HistoryOptions) => {
      if (ruleId !== undefined) await checkRuleIdArgument(ruleId);
      const context = await createContext(options);
      const entries = await withStore(context, resolveDatabaseUrl(options.db), (store) =>
        store.history({ limit: options.limit, ...(ruleId !== undefined ? { ruleId } : {}) }),
        READ_ONLY,
      );
      // A stored rule always has an event (pruning keeps the newest of each rule): none means never stored, as for show.
      if (ruleId !== undefined && entries.length === 0) throw new CliFailure(`rule ${ruleId} is not stored and has no history`, 'RULE_NOT_FOUND');
      if (context.json) {
        for (const entry of entries) printJson(historyJson(entry));
        return 0;
      }
      if (entries.length === 0) {
        printStatus('the event log is empty');
        return 0;
      }
      const rows = entries.map((e) => [e.position, e.at.toISOString(), e.actor ?? '-', e.ruleId, e.kind, historyDetail(e)]);
      for (const line of formatTable(['POSITION', 'AT', 'ACTOR', 'RULE_ID', 'KIND', 'DETAIL'], rows)) printLine(line);
      return 0;
    }),
  );
}
