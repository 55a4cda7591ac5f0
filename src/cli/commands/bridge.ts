import { InvalidArgumentError, Option, type Command } from 'commander';
import type { NatsBridgeEvent } from '../../index.js';
import { RuleValidationError } from '../../domain/errors.js';
import { addCommonOptions, createContext, openStore, redactUrl, resolveDatabaseUrl, type DatabaseOptions } from '../context.js';
import { onStdoutClosed, printError, printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

interface BridgeOptions extends DatabaseOptions {
  nats: string;
  name: string;
  jetstream: boolean;
  stream: string;
  subjectPrefix: string;
  startAt: 'head' | 'beginning';
  checkpointEvery: number;
  checkpointInterval: number;
}

function positiveInteger(value: string): number {
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function publishedLine(event: Extract<NatsBridgeEvent, { type: 'published' }>): string {
  const change = event.change;
  let what: string;
  if (change.kind === 'definition') what = `definition v${change.rule.ruleVersion}`;
  else if (change.kind === 'deleted') what = 'deleted';
  else what = change.expired ? 'state enabled (expired state reverted)' : `state ${change.state.state}`;
  return `${event.position.padStart(6)}  ${event.subject}  ${what}${event.duplicate ? '  (duplicate: already on the stream)' : ''}`;
}

function publishedJson(event: Extract<NatsBridgeEvent, { type: 'published' }>): Record<string, unknown> {
  return {
    kind: 'published',
    subject: event.subject,
    position: event.position,
    prevPosition: event.prevPosition,
    ruleId: event.change.ruleId,
    change: event.change.kind,
    duplicate: event.duplicate,
    streamSeq: event.streamSeq,
  };
}

/** `ttp-rules bridge --nats URL`: publish every change on NATS until Ctrl-C. */
export function registerBridge(program: Command, run: ActionRunner): void {
  const command = program
    .command('bridge')
    .description('publish every change on NATS (ttp.rule.reloaded.<id>, ttp.rule.state.<id>), exactly once and in order, until Ctrl-C (SIGINT) or SIGTERM')
    .addOption(new Option('--nats <url>', 'NATS server URL (comma-separated for several)').env('NATS_URL').default('nats://127.0.0.1:4222'))
    .option('--name <name>', 'durable consumer name: the checkpoint is stored in the database under it', 'ttp-bridge')
    .option('--no-jetstream', 'publish with core NATS (no stream, no dedupe) instead of JetStream')
    .option('--stream <name>', 'JetStream stream to create or use', 'TTP_RULES')
    .option('--subject-prefix <prefix>', 'subject prefix', 'ttp.rule')
    .addOption(new Option('--start-at <where>', 'where a new consumer starts').choices(['head', 'beginning']).default('head'))
    .option('--checkpoint-every <n>', 'store the checkpoint after this many acknowledged publishes', positiveInteger, 100)
    .option('--checkpoint-interval <ms>', '…or this many milliseconds after the first unsaved one', positiveInteger, 1000)
    .addHelpText(
      'after',
      `
Payloads are JSON: the seed's fields, then position, prev_position and the
whole change:
  ttp.rule.reloaded.<id>  {"rule_id":…,"rule_version":…,"position":…,"prev_position":…,"change":{…}}
  ttp.rule.reloaded.<id>  {"rule_id":…,"deleted":true,…}
  ttp.rule.state.<id>     {"rule_id":…,"state":…,"set_by":…,…}
  ttp.rule.state.<id>     {"rule_id":…,"auto_revert":true,…}        (an expired state reverted)
NATS down: the bridge retries with backoff and catches up; the store is not affected.

With --json: {"kind":"ready","name":…,"position":…} once reading, then one
{"kind":"published","subject":…,"position":…,"prevPosition":…,"ruleId":…,"change":…,"duplicate":…,"streamSeq":…}
per change and {"kind":"status","status":"connected"|"disconnected"|…} lines.

Examples:
  $ ttp-rules bridge --db postgres://localhost/rules --nats nats://127.0.0.1:4222
  $ ttp-rules bridge --no-jetstream --json | jq -c 'select(.kind == "published")'`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (options: BridgeOptions) => {
      const context = await createContext(options);
      const log = context.logger.child({ component: 'cli:bridge' });
      const { bridgeToNats } = await import('../../nats/natsBridge.js');
      const servers = options.nats.split(',').map((s) => s.trim()).filter(Boolean);
      const store = await openStore(context, resolveDatabaseUrl(options.db), { revertExpired: true });
      try {
        const bridge = await bridgeToNats(store, {
          nats: servers,
          name: options.name,
          jetstream: options.jetstream ? { stream: options.stream } : false,
          subjectPrefix: options.subjectPrefix,
          startAt: options.startAt,
          checkpointEvery: options.checkpointEvery,
          checkpointIntervalMs: options.checkpointInterval,
          logger: context.logger,
        });
        const storeErrors = store.errors$.subscribe((error) => {
          if (error instanceof RuleValidationError) log.warn({ event: 'cli:bridge:bad-row', ruleId: error.ruleId, position: error.position, reason: error.message }, 'a stored rule does not compile; not published');
          else log.warn({ event: 'cli:bridge:store-error', code: error.code, err: error }, error.message);
        });
        bridge.events$.subscribe((event) => {
          if (event.type === 'published') {
            if (context.json) printJson(publishedJson(event));
            else printLine(publishedLine(event));
          } else if (event.type === 'status') {
            if (context.json) printJson({ kind: 'status', status: event.status, ...(event.detail ? { detail: event.detail } : {}) });
            else printStatus(`${event.status === 'stopped' ? 'bridge' : 'NATS'} ${event.status}${event.detail ? `: ${event.detail}` : ''}`);
          }
        });
        const state = bridge.state();
        if (context.json) printJson({ kind: 'ready', name: bridge.name, position: state.lastPublished });
        else printStatus(`bridging changes after position ${state.lastPublished} to ${servers.map(redactUrl).join(', ')} as ${bridge.name} (Ctrl-C to stop)`);

        const stop = (signal: string): void => {
          log.info({ event: 'cli:bridge:stop', signal }, 'stopping');
          void bridge.stop();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        const restoreStdout = onStdoutClosed(() => void bridge.stop());
        const failure = await bridge.done;
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        restoreStdout();
        storeErrors.unsubscribe();
        // A second Ctrl-C while the store closes means "now".
        process.once('SIGINT', () => process.exit(130));
        if (failure) {
          printError(context.json, { code: failure.code, message: `the bridge stopped: ${failure.message}`, tagged: true });
          return 1;
        }
        return 0;
      } finally {
        await store.close();
      }
    }),
  );
}
