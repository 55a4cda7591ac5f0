import { InvalidArgumentError, type Command } from 'commander';
import { addCommonOptions, createContext, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { parseDuration } from '../duration.js';
import { printJson, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

interface PruneOptions extends DatabaseOptions {
  keep: { count: number } | { ageMs: number };
  force?: boolean;
}

/** `--keep 10000` keeps a count of positions; `--keep 30d` keeps an age. */
function parseKeep(value: string): { count: number } | { ageMs: number } {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const count = Number(text);
    if (!Number.isSafeInteger(count)) throw new InvalidArgumentError('count too large');
    return { count };
  }
  try {
    return { ageMs: parseDuration(text) };
  } catch (error) {
    throw new InvalidArgumentError(`expected a count (10000) or an age (30d, 12h): ${(error as Error).message}`);
  }
}

/** `ttp-rules prune --keep <age|count> [--force]`: compacts the event log. */
export function registerPrune(program: Command, run: ActionRunner): void {
  const command = program
    .command('prune')
    .description('compact the event log: delete events older than --keep that a later event for the same rule supersedes (run as the schema owner)')
    .requiredOption('--keep <age|count>', 'keep events younger than an age (30d, 12h) or the newest N positions', parseKeep)
    .option('--force', 'also trim past the slowest registered consumer')
    .addHelpText(
      'after',
      `
The newest event of every rule (deletions included) is always kept, so a consumer
resuming from any position still reaches the current state; one resuming from below
the pruned position is warned that it gets a compacted replay. Registered consumers
(ttp-rules consumers) hold retention back unless --force.

Examples:
  $ ttp-rules prune --keep 30d
  $ ttp-rules prune --keep 100000 --json`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (options: PruneOptions) => {
      const context = await createContext(options);
      const keep = 'count' in options.keep ? { keepCount: options.keep.count } : { keepAgeMs: options.keep.ageMs };
      const result = await withStore(context, resolveDatabaseUrl(options.db), (store) => store.prune({ ...keep, force: options.force === true }));
      if (context.json) printJson(result);
      else {
        printStatus(`deleted ${result.deleted} superseded event(s) at or below position ${result.before}`);
        if (result.heldBackBy) printStatus(`held back by the consumer ${result.heldBackBy} (use --force to trim past it)`);
      }
      return 0;
    }),
  );
}
