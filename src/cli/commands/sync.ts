import type { Command } from 'commander';
import type { DirectorySync, SyncReport } from '../../index.js';
import { addCommonOptions, createContext, defaultActor, openStore, parseActor, redactUrl, resolveDatabaseUrl, type DatabaseOptions } from '../context.js';
import { onStdoutClosed, printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';
import { appliedJson, appliedLine, printInvalid, reportCounts, requireRulesDirectory } from '../syncLines.js';

interface SyncOptions extends DatabaseOptions {
  watch?: boolean;
  by?: string;
}

/** Resolves with the signal once SIGINT or SIGTERM arrives, or stdout's reader goes away. */
function untilStopped(): { stopped: Promise<string>; release: () => void } {
  let release = (): void => {};
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => resolve(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const restoreStdout = onStdoutClosed(() => resolve('EPIPE'));
    release = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      restoreStdout();
      // A second Ctrl-C while the store closes means "now".
      process.once('SIGINT', () => process.exit(130));
    };
  });
  return { stopped, release };
}

/**
 * `ttp-rules sync <dir> [--watch]`: the master as a service. Reconciles the
 * directory into the store, then with `--watch` follows it until SIGINT or
 * SIGTERM (exit 0), printing one line per applied batch and one per invalid
 * file — not the change feed (that is `watch`, and `start` does both).
 */
export function registerSync(program: Command, run: ActionRunner): void {
  const command = program
    .command('sync')
    .description('the master: reconcile a rules directory into the store, and with --watch keep following it until Ctrl-C (SIGINT) or SIGTERM; prints one line per applied batch and per invalid file')
    .argument('<dir>', 'the rules directory (its files named [A-Za-z0-9_]+.yaml/.yml; not recursive)')
    .option('--watch', 'keep following the directory after the reconcile (each save is applied within about 50 ms)')
    .option('--by <name>', 'recorded as updated_by (default: $USER@hostname)', parseActor)
    .addHelpText(
      'after',
      `
The directory is the truth for the rules it owns (stored rules whose
source_path is a rule file directly in it): files are upserted, rules whose
file is gone are deleted, rules written from elsewhere are left alone. An
invalid file is reported and skipped; its stored version stays in force, and
the rest is applied.

Output (stdout): one line per applied batch, the reconcile first,
  applied: 2 upserted (EX001_ssh_bruteforce, EX002_wget_download), 3 unchanged, 0 deleted
and one per invalid file,
  invalid: rules/EX009.yaml: EX009: emits.0.confidence: must be in [0, 1] (not applied; …)
With --json: {"kind":"applied","directory":…,"upserted":[…],"unchanged":[…],"deleted":[…]}
and {"kind":"invalid","file":…,"ruleId":…,"issues":[{"path":…,"message":…}]}.
Status goes to stderr. Exit: 0 (with --watch: when stopped by a signal); without
--watch, 1 if a file was invalid.

Examples:
  $ ttp-rules sync rules/                              # reconcile once
  $ ttp-rules sync /srv/detect/rules --watch --by master@$(hostname) --db postgres://localhost/rules
  $ ttp-rules sync rules/ --watch --json | jq -c 'select(.kind == "invalid")'`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (dir: string, options: SyncOptions) => {
      await requireRulesDirectory(dir, 'sync');
      const context = await createContext(options);
      const url = resolveDatabaseUrl(options.db);
      const watch = options.watch === true;
      const { syncDirectory } = await import('../../sync/syncDirectory.js');
      const store = await openStore(context, url);
      let sync: DirectorySync | null = null;
      const stop = watch ? untilStopped() : null;
      try {
        const print = (report: SyncReport, always: boolean): void => {
          if (always || report.upserted.length + report.deleted.length > 0) {
            if (context.json) printJson(appliedJson(sync!, report));
            else printLine(appliedLine(report));
          }
          printInvalid(report.invalid, context.json);
        };
        sync = await syncDirectory(store, dir, { watch, updatedBy: options.by ?? defaultActor(), logger: context.logger });
        print(sync.initial, true);
        if (!stop) {
          if (!context.json) printStatus(`synced ${dir} to ${redactUrl(url)}: ${reportCounts(sync.initial)}`);
          return sync.initial.invalid.length > 0 ? 1 : 0;
        }
        const reports = sync.reports$.subscribe((report) => print(report, false));
        if (!context.json) printStatus(`synced ${dir} to ${redactUrl(url)}: ${reportCounts(sync.initial)}; watching it (Ctrl-C to stop)`);
        const signal = await stop.stopped;
        context.logger.info({ event: 'cli:sync:stop', signal }, 'stopping');
        reports.unsubscribe();
        return 0;
      } finally {
        stop?.release();
        await sync?.close();
        await store.close();
      }
    }),
  );
}
