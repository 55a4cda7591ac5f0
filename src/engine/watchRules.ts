import { Observable } from 'rxjs';
import type { RuleStore } from '../store/ruleStore.js';
import { applyChangesToIndex, createRuleIndex, type RuleIndex, type RulePredicate } from './ruleIndex.js';
import type { RuleChange } from '../domain/ruleChange.js';

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
 * once the snapshot is loaded, then a new one whenever changes that concern the
 * held rules arrive (changes delivered together — a page of the log — make one).
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
        let index = first;
        subscriber.next(index);
        // Changes that arrive together (a page of the log) are applied as one batch
        // and give one index: each change still applies whole, and a burst costs
        // one copy of the maps instead of one per change.
        let pending: RuleChange[] = [];
        const flush = (): void => {
          const batch = pending;
          pending = [];
          const next = applyChangesToIndex(index, batch, predicate);
          const concerned = next.byId !== index.byId;
          index = next;
          if (concerned && !closed) subscriber.next(index);
        };
        inner = store.changesSince(index.position).subscribe({
          next: (change) => {
            if (pending.push(change) === 1) queueMicrotask(flush);
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
