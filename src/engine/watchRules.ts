import { Observable } from 'rxjs';
import type { RuleStore } from '../store/ruleStore.js';
import { createCommitBuffer, createRuleIndex, type RuleIndex, type RulePredicate } from './ruleIndex.js';

/** Options of {@link watchRules}. */
export interface WatchRulesOptions {
  /** Which rules to hold (default: all). A rule whose new definition fails it is evicted. */
  predicate?: RulePredicate;
  /**
   * Resume from an index held earlier (e.g. restored with `ruleIndexFromJson`
   * after a restart) instead of loading a snapshot: follows `changesSince(from.position)`.
   */
  from?: RuleIndex;
}

/**
 * The engine's view of the rules: an observable of immutable {@link RuleIndex}
 * snapshots. It takes `snapshot()` and then follows `changesSince(snapshot.position)`,
 * so nothing falls between loading and subscribing. The first index is emitted
 * once the snapshot is loaded, then a new one at the end of every transaction
 * (`lastInCommit`) that concerns the held rules: an engine never sees half a
 * transaction, and transactions delivered together (a page of the log) make one.
 *
 * @example
 * watchRules(store, { predicate: (r) => r.appliesTo.includes('command') })
 *   .subscribe((index) => { current = index; }); // swap atomically
 */
export function watchRules(store: RuleStore, options: WatchRulesOptions = {}): Observable<RuleIndex> {
  const predicate = options.predicate ?? (() => true);
  return new Observable<RuleIndex>((subscriber) => {
    let closed = false;
    let inner: { unsubscribe(): void } | null = null;
    const start = options.from
      ? Promise.resolve(options.from)
      : store.snapshot().then((snapshot) => createRuleIndex(snapshot.position, snapshot.rules, predicate));
    start
      .then((first) => {
        if (closed) return;
        subscriber.next(first);
        // A new index only at the end of a transaction (lastInCommit): a 500-rule
        // transaction is one index, and an engine never holds half of one. Changes
        // that arrive together (a page of the log) are applied as one batch: each
        // change still applies whole, and a burst costs one copy of the maps. A
        // transaction larger than a page is applied page by page to a working index
        // that is published at its end: memory is one index plus one page.
        const buffer = createCommitBuffer(first, predicate);
        let queued = false;
        const flush = (): void => {
          queued = false;
          const next = buffer.flush();
          if (next && !closed) subscriber.next(next);
        };
        inner = store.changesSince(first.position).subscribe({
          next: (change) => {
            buffer.push(change);
            if (!queued) {
              queued = true;
              queueMicrotask(flush);
            }
          },
          error: (error) => subscriber.error(error),
          complete: () => subscriber.complete(),
        });
      })
      .catch((error) => subscriber.error(error));
    return () => {
      closed = true;
      inner?.unsubscribe();
    };
  });
}
