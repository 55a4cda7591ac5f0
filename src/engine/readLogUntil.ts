import type { Subscription } from 'rxjs';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import type { RuleStore } from '../store/ruleStore.js';

/** A read in progress: `done` resolves with the number of changes delivered and the head it read to. */
export interface LogRead {
  readonly done: Promise<{ changes: number; head: bigint }>;
  cancel(): void;
}

/**
 * Reads `store.changesSince(after)` and hands each change to `onChange` up to the
 * head `W`: the position the store had read when the read began (for a store
 * opened for the read, the newest committed change). Stopping needs care because
 * positions have holes and a stored row that does not compile yields no change: a
 * bad row at or below `W` (reported on `errors$` by the replay, in order with the
 * changes) counts as progress. Both subscriptions are made in the same tick as `W`
 * is read, so the replay ends exactly at `W` and errors above it come from live
 * reads. A change superseded and compacted away is covered by the later one.
 */
export function readLogUntil(store: RuleStore, after: bigint, onChange: (change: RuleChange) => void): LogRead {
  let cancel: () => void = () => {};
  const done = new Promise<{ changes: number; head: bigint }>((resolve, reject) => {
    const head = BigInt(store.position());
    const wanted = head;
    let progress = after;
    let count = 0;
    let finished = false;
    if (progress >= wanted) {
      resolve({ changes: 0, head });
      return;
    }
    let changes: Subscription | undefined;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      errors.unsubscribe();
      changes?.unsubscribe();
      if (error) reject(error);
      else resolve({ changes: count, head });
    };
    cancel = () => finish(new RuleStoreError('STORE_CLOSED', 'the read was cancelled'));
    const errors = store.errors$.subscribe((error) => {
      if (!(error instanceof RuleValidationError) || error.position === null) return;
      const position = BigInt(error.position);
      if (position <= head && position > progress) {
        progress = position;
        if (progress >= wanted) finish();
      }
    });
    changes = store.changesSince(after).subscribe({
      next: (change) => {
        if (finished) return;
        const position = BigInt(change.position);
        if (position > progress) progress = position;
        count++;
        onChange(change);
        if (progress >= wanted) finish();
      },
      error: (error: unknown) => finish(error ?? new Error('the change stream failed')),
      complete: () => finish(new RuleStoreError('STORE_CLOSED', 'the rule store closed during the read')),
    });
    if (finished) changes.unsubscribe();
  });
  return { done, cancel: () => cancel() };
}
