import { defer, from, switchMap, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { RuleStoreError } from '../domain/errors.js';
import { checkPosition, type RuleChange } from '../domain/ruleChange.js';
import type { Backend } from './backend.js';
import type { RuleStore } from './ruleStore.js';

/**
 * Log retention (compaction) and durable named consumers: what `prune`,
 * `consumers` and `consumer` do, over any backend.
 */
export function createRetention(
  backend: Backend,
  log: Logger,
  changesSince: (position: bigint) => Observable<RuleChange>,
): Pick<RuleStore, 'prune' | 'consumers' | 'consumer'> {
  return {
    async prune(options) {
      const { keepCount, keepAgeMs } = options;
      if (keepCount === undefined && keepAgeMs === undefined) throw new RuleStoreError('CONFIG_INVALID', 'prune needs keepCount or keepAgeMs');
      for (const [name, value] of [['keepCount', keepCount], ['keepAgeMs', keepAgeMs]] as const) {
        if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) throw new RuleStoreError('CONFIG_INVALID', `${name} must be a non-negative integer, got ${String(value)}`);
      }
      const head = await backend.readHead();
      let before = head;
      if (keepCount !== undefined) before = head - BigInt(keepCount);
      if (keepAgeMs !== undefined) {
        const byAge = await backend.readPositionBefore(new Date(Date.now() - keepAgeMs));
        before = byAge < before ? byAge : before;
      }
      let heldBackBy: string | null = null;
      if (!options.force) {
        for (const c of await backend.readConsumers()) {
          if (c.position < before) {
            before = c.position;
            heldBackBy = c.name;
          }
        }
      }
      const deleted = before > 0n ? await backend.pruneLog(before) : 0;
      log.info({ component: 'store:retention', event: 'store:log:pruned', deleted, before: before.toString(), heldBackBy }, 'event log compacted');
      return { deleted, before: (before > 0n ? before : 0n).toString(), heldBackBy };
    },

    async consumers() {
      const [head, rows] = await Promise.all([backend.readHead(), backend.readConsumers()]);
      return rows.map((c) => ({ name: c.name, position: c.position.toString(), updatedAt: c.updatedAt, lag: (head > c.position ? head - c.position : 0n).toString() }));
    },

    async consumer(name, options = {}) {
      if (!/^[A-Za-z0-9_.:@-]{1,128}$/.test(name)) throw new RuleStoreError('CONFIG_INVALID', `consumer names are 1-128 characters of A-Z a-z 0-9 _ . : @ -, got ${JSON.stringify(name.slice(0, 64))}`);
      if (!(await backend.readConsumer(name))) {
        await backend.writeConsumer(name, options.startAt === 'beginning' ? 0n : await backend.readHead());
      }
      const stored = async (): Promise<bigint> => (await backend.readConsumer(name))?.position ?? 0n;
      return {
        name,
        changes: () => defer(() => from(stored())).pipe(switchMap((position) => changesSince(position))),
        checkpoint: async (position) => backend.writeConsumer(name, checkPosition(position)),
        position: async () => (await backend.readConsumer(name))?.position.toString() ?? null,
        remove: () => backend.deleteConsumer(name),
      };
    },

  };
}
