import type { Subscription } from 'rxjs';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import type { RuleStore } from '../store/ruleStore.js';

/** How far {@link readLogUntil} reads. */
export interface ReadGoal {
  /** At least up to this position (a position the bridge published, so a change exists there or later). */
  readonly target: bigint | null;
  /** At least up to what the store had read when the read began (its head). */
  readonly toHead: boolean;
}

/** A read in progress: `done` resolves with the number of changes delivered. */
export interface LogRead {
  readonly done: Promise<number>;
  cancel(): void;
}

/**
 * Reads `store.changesSince(after)` and hands each change to `onChange` until the
 * goal is reached, then unsubscribes. Stopping needs care because positions have
 * holes and a stored row that does not compile yields no change: "up to the head"
 * means up to the store's watermark `W` when the read began, and a bad row at or
 * below `W` (reported on `errors$` by the replay, in order with the changes)
 * counts as progress. The two subscriptions are made in the same tick as `W` is
 * read, so the replay ends exactly at `W` and errors above it come from live reads.
 */
export function readLogUntil(store: RuleStore, after: bigint, goal: ReadGoal, onChange: (change: RuleChange) => void): LogRead {
  let cancel: () => void = () => {};
  const done = new Promise<number>((resolve, reject) => {
    const head = BigInt(store.position());
    let wanted = goal.target ?? 0n;
    if (goal.toHead && head > wanted) wanted = head;
    let progress = after;
    let count = 0;
    let finished = false;
    if (progress >= wanted) {
      resolve(0);
      return;
    }
    let changes: Subscription | undefined;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      errors.unsubscribe();
      changes?.unsubscribe();
      if (error) reject(error);
      else resolve(count);
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
