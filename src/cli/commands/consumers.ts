import type { Command } from 'commander';
import { addCommonOptions, createContext, READ_ONLY, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { formatTable } from '../format.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

/** `ttp-rules consumers`: the durable named consumers with their lag. */
export function registerConsumers(program: Command, run: ActionRunner): void {
  const command = program
    .command('consumers')
    .description('list the durable named consumers (bridges, engines) with their checkpoint and lag')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules consumers
  $ ttp-rules consumers --json | jq 'select((.lag | tonumber) > 1000)'`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (options: DatabaseOptions) => {
      const context = await createContext(options);
      const consumers = await withStore(context, resolveDatabaseUrl(options.db), (store) => store.consumers(), READ_ONLY);
      if (context.json) {
        for (const c of consumers) printJson(c);
        return 0;
      }
      if (consumers.length === 0) {
        printStatus('no named consumers');
        return 0;
      }
      const rows = consumers.map((c) => [c.name, c.position, c.lag, c.updatedAt.toISOString()]);
      for (const line of formatTable(['NAME', 'POSITION', 'LAG', 'UPDATED_AT'], rows)) printLine(line);
      return 0;
    }),
  );
}
