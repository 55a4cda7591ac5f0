import { RuleStoreError } from '../domain/errors.js';
import { checkPosition } from '../domain/ruleChange.js';
import { decodePage, readLog, type ReadLogOptions, type ReadLogResult } from '../log/readLog.js';
import type { Backend } from './backend.js';

/** The defaults `store.readLog` resolves its options against. */
export interface PublicReadLogSettings {
  readonly pageSize: number;
  readonly pageBytes: number;
  readonly maxRuleBytes: number;
}

function bound(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RuleStoreError('CONFIG_INVALID', `readLog ${name} must be a positive whole number, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * `store.readLog(after, options)`: one page of the log over the log layer's
 * `readLog`, positions and options checked (`POSITION_INVALID`, `CONFIG_INVALID`),
 * the result frozen. Invalid events are returned, not emitted: the store's own
 * reader reports them on `errors$` as it reads them.
 */
export function createPublicReadLog(backend: Backend, settings: PublicReadLogSettings): (after: string | bigint, options?: ReadLogOptions) => Promise<ReadLogResult> {
  return async (after, options = {}) => {
    const from = checkPosition(after);
    const upTo = options.upTo === undefined ? undefined : checkPosition(options.upTo);
    const maxEvents = bound(options.maxEvents, settings.pageSize, 'maxEvents');
    const maxBytes = bound(options.maxBytes, settings.pageBytes, 'maxBytes');
    if (upTo !== undefined && upTo <= from) return Object.freeze({ changes: Object.freeze([]), invalid: Object.freeze([]), through: from.toString(), more: false });
    const page = await readLog(backend, from, { upTo, maxEvents, maxBytes, maxRuleBytes: settings.maxRuleBytes });
    const { changes, invalid } = decodePage(page, settings.maxRuleBytes);
    return Object.freeze({ changes: Object.freeze(changes), invalid: Object.freeze(invalid), through: page.through.toString(), more: page.more });
  };
}
