import { RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import type { Backend } from '../store/backend.js';
import { decodeEvent, type LogEvent } from './logEvent.js';

/** Default of `maxBytes` (and of `openRuleStore`'s `pageBytes`): 16 MiB of rule and state rows per page. */
export const DEFAULT_PAGE_BYTES = 16 * 1024 * 1024;

/** Options of `store.readLog`: how far to read and how large a page may be. */
export interface ReadLogOptions {
  /** Read no event above this position (decimal string or bigint; inclusive). Default: no bound (the head). */
  upTo?: string | bigint;
  /** The most events in the page (default: the store's `pageSize`, 1000). */
  maxEvents?: number;
  /**
   * The most bytes of rule and state rows in the page (default: the store's
   * `pageBytes`, 16 MiB). A page always holds at least one event, whatever its
   * size; a row above `maxRuleBytes` is never loaded (it arrives in `invalid` as
   * `RULE_TOO_LARGE`) and costs nothing here.
   */
  maxBytes?: number;
}

/**
 * One page of the log, read past a position: what `store.readLog` returns.
 * Loop with `after = through` while `more` is true to read to the head (or `upTo`).
 *
 * @example
 * let after = '0';
 * for (;;) {
 *   const page = await store.readLog(after, { maxEvents: 500 });
 *   for (const change of page.changes) apply(change);
 *   for (const error of page.invalid) report(error);
 *   after = page.through;
 *   if (!page.more) break;
 * }
 */
export interface ReadLogResult {
  /** The decoded changes, in position order (`commit` / `lastInCommit` as on the live stream). */
  readonly changes: readonly RuleChange[];
  /**
   * The events of the page that did not decode, in position order, each naming
   * its rule and position: `RULE_INVALID` (a stored row that does not compile) or
   * `RULE_TOO_LARGE` (a row above `maxRuleBytes`, never loaded whole).
   */
  readonly invalid: readonly RuleValidationError[];
  /**
   * The last position read (decimal string): holes and invalid events included,
   * so the next page starts after it. `after` itself when nothing was read; `upTo`
   * when everything up to it has been read.
   */
  readonly through: string;
  /** True when the page stopped at `maxEvents` or `maxBytes` (more events follow up to `upTo`); false at the head or `upTo`. */
  readonly more: boolean;
}

/** What the log layer's {@link readLog} takes (resolved: positions are bigint, every bound given). */
export interface ReadLogRequest {
  /** Inclusive upper bound; undefined: none. */
  readonly upTo?: bigint | undefined;
  readonly maxEvents: number;
  readonly maxBytes: number;
  /** Rows whose rule document is larger than this are not loaded (`RULE_TOO_LARGE`). */
  readonly maxRuleBytes: number;
}

/** {@link ReadLogResult} as the log layer hands it over: positions as bigint, events not yet decoded. */
export interface LogPage {
  /** Every event of the page, in position order; decode each with {@link decodeEvent} (`maxRuleBytes`). */
  readonly events: readonly LogEvent[];
  readonly through: bigint;
  readonly more: boolean;
}

/**
 * Reads one page of the log after `after`: the one read of the log, which the
 * live reader, `changesSince`'s replay and `store.readLog` loop over. The
 * backend checks each row's size in its query, so a row above `maxRuleBytes`
 * arrives without its body (it decodes to `RULE_TOO_LARGE`), and the page stops
 * at `maxBytes` of rows (one event at least). Decoding is left to the caller,
 * one event at a time as it emits them (a page of compiled rules is not held
 * at once), or all of them with {@link decodePage}.
 */
export function readLog(backend: Backend, after: bigint, request: ReadLogRequest): Promise<LogPage> {
  return backend.readEvents(after, {
    limit: request.maxEvents,
    maxBytes: request.maxBytes,
    maxRuleBytes: request.maxRuleBytes,
    ...(request.upTo !== undefined ? { upTo: request.upTo } : {}),
  });
}

/** A page decoded: its changes and its invalid events, each in position order. */
export function decodePage(page: LogPage, maxRuleBytes: number): { changes: RuleChange[]; invalid: RuleValidationError[] } {
  const changes: RuleChange[] = [];
  const invalid: RuleValidationError[] = [];
  for (const event of page.events) {
    const item = decodeEvent(event, maxRuleBytes);
    if (item instanceof RuleValidationError) invalid.push(item);
    else changes.push(item);
  }
  return { changes, invalid };
}

/**
 * The largest stored row (rule and state rows, bytes as the backend measures them)
 * that is loaded at all, whatever its rule document's size: a document of
 * `maxRuleBytes` takes at most six times that once JSON-escaped, and the other
 * fields the write API accepts (src/domain/inputLimits.ts) well under 128 KiB.
 * Anything larger was written by hand and is `RULE_TOO_LARGE` as well.
 */
export function maxRowBytes(maxRuleBytes: number): number {
  return 6 * maxRuleBytes + 128 * 1024;
}

/**
 * `through` and `more` of a backend's page, from its events and the position of
 * the event after the last one (read in the same query; null when there is none).
 */
export function endOfPage(after: bigint, events: readonly LogEvent[], next: bigint | null, upTo: bigint | undefined): { through: bigint; more: boolean } {
  const last = events.at(-1)?.position ?? after;
  if (next === null) return { through: last, more: false };
  if (upTo !== undefined && next > upTo) return { through: events.length > 0 && upTo > last ? upTo : last, more: false };
  return { through: last, more: true };
}
