import { InvalidArgumentError, Option, type Command } from 'commander';
import { addCommonOptions, createContext, openStore, READ_ONLY, resolveDatabaseUrl, type DatabaseOptions } from '../context.js';
import { followChanges } from '../followChanges.js';
import type { ActionRunner } from '../program.js';

interface WatchOptions extends DatabaseOptions {
  since?: string;
}

function parsePosition(value: string): string {
  const text = value.trim();
  if (!/^\d{1,20}$/.test(text)) throw new InvalidArgumentError('expected a log position (a non-negative integer)');
  return BigInt(text).toString();
}

/** `ttp-rules watch [--since POSITION]`: print live changes until Ctrl-C. */
export function registerWatch(program: Command, run: ActionRunner): void {
  const command = program
    .command('watch')
    .description('print every change as it happens, one line each, until Ctrl-C (SIGINT) or SIGTERM')
    .addOption(new Option('--since <position>', 'first replay every change after this log position, then go live').argParser(parsePosition))
    .addHelpText(
      'after',
      `
With --json the first line is {"kind":"ready","position":"P"} once the stream is
live; every change with a position above P follows, one object per line:
  {"kind":"definition","ruleId":…,"position":…,"actor":…,"at":…,"rule":{…}}
  {"kind":"deleted","ruleId":…,"position":…,"actor":…,"at":…}
  {"kind":"state","ruleId":…,"position":…,"actor":…,"at":…,"state":{…},"expired":false}
and a stored row that does not compile:
  {"kind":"error","code":"RULE_INVALID","message":…,"ruleId":…,"position":…,"issues":[…]}

Examples:
  $ ttp-rules watch
  $ ttp-rules watch --since 0 --json          # the whole log, then live
  $ ttp-rules watch --db postgres://localhost/rules --json | jq -c 'select(.kind == "state")'`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (options: WatchOptions) => {
      const context = await createContext(options);
      const store = await openStore(context, resolveDatabaseUrl(options.db), { ...READ_ONLY, revertExpired: true });
      try {
        return await followChanges(store, context, options.since ?? store.position());
      } finally {
        await store.close();
      }
    }),
  );
}
