import type { Observable, Subscription } from 'rxjs';

/** Collects what an observable emits and waits, with a timeout, until a condition holds. */
export interface Collector<T> {
  readonly items: T[];
  /** Resolves when `predicate(items)` is true; rejects after `ms` with what arrived so far. */
  waitFor(predicate: (items: readonly T[]) => boolean, ms?: number, what?: string): Promise<void>;
  /** Resolves when at least `n` items arrived. */
  waitForCount(n: number, ms?: number): Promise<void>;
  stop(): void;
}

export function collect<T>(source: Observable<T>): Collector<T> {
  const items: T[] = [];
  const waiters = new Set<() => void>();
  let failure: unknown = null;
  const subscription: Subscription = source.subscribe({
    next: (item) => {
      items.push(item);
      for (const check of [...waiters]) check();
    },
    error: (error) => {
      failure = error;
      for (const check of [...waiters]) check();
    },
  });
  const collector: Collector<T> = {
    items,
    waitFor(predicate, ms = 10_000, what = 'condition') {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (failure) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(failure as Error);
          } else if (predicate(items)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const tail = JSON.stringify(items.slice(-5), (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 1500);
          reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${items.length} items, last: ${tail}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    waitForCount(n, ms) {
      return collector.waitFor((all) => all.length >= n, ms, `${n} items`);
    },
    stop() {
      subscription.unsubscribe();
    },
  };
  return collector;
}
