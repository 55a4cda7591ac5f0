import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import type { RuleStateInput, RuleStateName } from '../../index.js';
import { CliFailure, UsageError } from '../cliErrors.js';
import { addCommonOptions, checkRuleIdArgument, createContext, defaultActor, parseActor, resolveDatabaseUrl, withStore, type DatabaseOptions } from '../context.js';
import { parseDuration, parseFutureInstant } from '../duration.js';
import { describeState } from '../format.js';
import { printJson, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

const ACTIONS = ['enable', 'disable', 'clip', 'clear'] as const;
type StateAction = (typeof ACTIONS)[number];
const STATE_OF: Record<Exclude<StateAction, 'clear'>, RuleStateName> = { enable: 'enabled', disable: 'disabled', clip: 'clipped' };

interface StateOptions extends DatabaseOptions {
  confidenceMax?: number;
  for?: number;
  until?: Date;
  reason?: string;
  by?: string;
  force?: boolean;
}

function parseConfidence(value: string): number {
  const number = Number(value);
  if (!/^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/.test(value) || !Number.isFinite(number) || number < 0 || number > 1) {
    throw new InvalidArgumentError('expected a number in [0, 1], e.g. 0.5');
  }
  return number;
}

/** `ttp-rules state <rule_id> enable|disable|clip|clear`: set or clear a rule's operational state. */
export function registerState(program: Command, run: ActionRunner): void {
  const command = program
    .command('state')
    .description("set a rule's operational state (enable, disable, clip) or clear it back to the default")
    .argument('<rule_id>', 'the rule id')
    .addArgument(new Argument('<action>', 'what to do').choices(ACTIONS))
    .option('--confidence-max <x>', 'ceiling in [0, 1] on emitted confidence (required by clip, only for clip)', parseConfidence)
    .addOption(new Option('--for <duration>', 'revert to the default after this long: 90s, 30m, 2h, 1d, 1h30m').argParser(parseDuration).conflicts('until'))
    .addOption(new Option('--until <iso>', 'revert to the default at this instant (ISO 8601, in the future)').argParser((v) => parseFutureInstant(v)))
    .option('--reason <text>', 'why (shown to other operators)')
    .option('--by <name>', 'recorded as set_by (default: $USER@hostname)', parseActor)
    .option('--force', 'set a state even if no rule with this id is stored')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules state EX001_ssh_bruteforce disable --for 10m --reason "noisy during pentest"
  $ ttp-rules state EX002_wget_download clip --confidence-max 0.4 --until 2030-01-31T18:00:00Z
  $ ttp-rules state EX001_ssh_bruteforce clear
  $ ttp-rules state NOT_YET_LOADED disable --force`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (ruleId: string, action: StateAction, options: StateOptions) => {
      await checkRuleIdArgument(ruleId);
      if (action === 'clip' && options.confidenceMax === undefined) throw new UsageError('clip needs --confidence-max X (a ceiling in [0, 1])');
      if (action !== 'clip' && options.confidenceMax !== undefined) throw new UsageError(`--confidence-max only applies to clip, not ${action}`);
      if (action === 'clear') {
        const extra = (['for', 'until', 'reason'] as const).filter((key) => options[key] !== undefined);
        if (extra.length > 0) throw new UsageError(`clear takes no ${extra.map((k) => `--${k}`).join(', ')}`);
      }
      const by = options.by ?? defaultActor();
      const context = await createContext(options);
      const result = await withStore(context, resolveDatabaseUrl(options.db), async (store) => {
        if (action === 'clear') {
          const cleared = await store.clearState(ruleId, by);
          const { DEFAULT_RULE_STATE } = await import('../../domain/ruleState.js');
          return { state: DEFAULT_RULE_STATE, cleared };
        }
        if (!options.force && (await store.getRule(ruleId)) === null) {
          throw new CliFailure(`rule ${ruleId} is not stored (use --force to set its state anyway)`, 'RULE_NOT_FOUND');
        }
        const expiresAt = options.until ?? (options.for !== undefined ? new Date(Date.now() + options.for) : null);
        const input: RuleStateInput = {
          state: STATE_OF[action],
          confidenceMax: options.confidenceMax ?? null,
          expiresAt,
          reason: options.reason ?? null,
        };
        return { state: await store.setState(ruleId, input, by), cleared: undefined };
      });
      if (context.json) {
        printJson({ ruleId, state: result.state, ...(result.cleared !== undefined ? { cleared: result.cleared } : {}) });
      } else if (result.cleared !== undefined) {
        printStatus(result.cleared ? `${ruleId}: state cleared (now ${describeState(result.state)})` : `${ruleId}: no state to clear (already ${describeState(result.state)})`);
      } else {
        printStatus(`${ruleId}: ${describeState(result.state)}`);
      }
      return 0;
    }),
  );
}
