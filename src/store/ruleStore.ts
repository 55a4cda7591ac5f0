import type { Observable } from 'rxjs';
import type { CompiledRule } from '../domain/compileRule.js';
import type { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import type { RuleState, RuleStateInput, RuleStateName } from '../domain/ruleState.js';
import type { ExpiryStats } from './expiryScheduler.js';
import type { ReadLogOptions, ReadLogResult } from '../log/readLog.js';

/** Rules as of one log position: apply every change after `position` to stay current. */
export interface RuleSnapshot {
  /** Decimal string; pass it to `changesSince`. */
  readonly position: string;
  readonly rules: readonly CompiledRule[];
  /** Stored rows that do not compile (their last good version, if any, is in `rules`). */
  readonly errors: readonly RuleValidationError[];
}

/** Options of `snapshot` and `listRules`: read the past. */
export interface SnapshotOptions {
  /**
   * A log position (decimal string or bigint) or an instant: the rules and states in
   * force then, from the log (`position` is the last event at or before it; expiries
   * are judged at the instant, or at the time of that event). Before the retained log
   * (after `prune`) it fails with `LOG_TRUNCATED`, naming the oldest readable point;
   * a position beyond the head with `POSITION_INVALID`. Default: now.
   */
  at?: string | bigint | Date;
}

/** Options of `upsertRule`. */
export interface UpsertRuleOptions {
  /** Where the rule came from (a file path); the directory sync owns rules by it. */
  sourcePath?: string;
  /** Recorded as `updated_by` and as the event's actor (default `'api'`). */
  updatedBy?: string;
}

/** What `upsertRule` did. */
export interface UpsertRuleResult {
  readonly ruleId: string;
  readonly ruleVersion: number;
  /** False when the stored rule already had identical content (no event). */
  readonly changed: boolean;
}

/** One rule document for `upsertRules`. */
export interface RuleDocumentInput {
  readonly yaml: string | Uint8Array;
  readonly sourcePath?: string;
}

/** Options of `upsertRules`. */
export interface UpsertRulesOptions {
  updatedBy?: string;
  /** Also delete stored rules whose `source_path` starts with this prefix and that are not in the batch. */
  pruneUnder?: string;
}

/** What `upsertRules` did. */
export interface UpsertRulesResult {
  readonly upserted: readonly string[];
  readonly unchanged: readonly string[];
  readonly deleted: readonly string[];
}

/** Options of `loadCompiled`. */
export interface LoadCompiledOptions {
  /** Throw the first bad row's error instead of reporting it (default false). */
  strict?: boolean;
}

/**
 * One stored rule row's metadata and state, read without parsing its YAML
 * (`listRuleMetadata`): a row whose document does not compile is listed too.
 */
export interface RuleMetadata {
  readonly ruleId: string;
  /** The `rule_version` column (the document's own is authoritative once compiled). */
  readonly ruleVersion: number;
  /** Where the rule came from (the file the directory sync owns it by); `''` if written otherwise. */
  readonly sourcePath: string;
  readonly updatedAt: Date;
  readonly updatedBy: string;
  /** The state in force (an expired state reads as the default). */
  readonly state: RuleState;
}

/** One stored rule row with its state, for listings (`ttp-rules list`). */
export interface RuleListing extends RuleMetadata {
  /** The stored document, as written (`ttp-rules show` prints it). */
  readonly yamlContent: string;
  /** Null when the stored document compiles; otherwise why it does not. */
  readonly error: RuleValidationError | null;
}

/** Options of `getRule`. */
export interface GetRuleOptions {
  /**
   * A log position (decimal string or bigint) or an instant: the rule and its state
   * as they stood then, from the log, exactly as `listRules({ at })` lists it
   * (same `LOG_TRUNCATED` and `POSITION_INVALID` failures). Default: now.
   */
  at?: string | bigint | Date;
}

/** One stored rule as `getRule` reads it: its listing plus the document compiled. */
export interface GetRuleResult extends RuleListing {
  /**
   * This row's document compiled, with `state` stamped; null when it does not
   * compile (`error` says why). Not the last good version an engine keeps in force
   * for a bad row: `snapshot()` has that one.
   */
  readonly rule: CompiledRule | null;
}

/** One entry of the event log, for `ttp-rules history`. */
export interface HistoryEntry {
  readonly position: string;
  readonly at: Date;
  readonly actor: string | null;
  /** The database login that made the change (Postgres `session_user`); null on SQLite and before migration 0005. */
  readonly loginRole: string | null;
  readonly ruleId: string;
  readonly kind: 'definition' | 'deleted' | 'state';
  /** For definitions: the stored `rule_version`. */
  readonly ruleVersion: number | null;
  /** For state changes: the state written (the default for a clear or revert). */
  readonly state: RuleState | null;
  /** For state changes: true when the store reverted an expired state. */
  readonly expired: boolean;
}

/** Options of `prune`: keep at least this much of the log (both: the more conservative). */
export interface PruneOptions {
  /** Keep the newest `keepCount` positions. */
  keepCount?: number;
  /** Keep events younger than this many milliseconds. */
  keepAgeMs?: number;
  /** Also trim past the slowest registered consumer (default false). */
  force?: boolean;
}

/** What `prune` did. */
export interface PruneResult {
  /** Events deleted (only ever events superseded by a later one for the same rule). */
  readonly deleted: number;
  /** Events at or below this position were considered. */
  readonly before: string;
  /** The registered consumer that held retention back, if any. */
  readonly heldBackBy: string | null;
}

/** A durable named consumer, as listed by `consumers()`. */
export interface ConsumerInfo {
  readonly name: string;
  readonly position: string;
  readonly updatedAt: Date;
  /** Positions between its checkpoint and the head of the log. */
  readonly lag: string;
}

/** A durable named consumer: its checkpoint lives in the database (`ttp_rule_consumer`). */
export interface NamedConsumer {
  readonly name: string;
  /** Every change after the stored checkpoint (read when subscribing), then live. */
  changes(): Observable<RuleChange>;
  /** Stores `position` as the checkpoint; it never moves backwards. */
  checkpoint(position: string | bigint): Promise<void>;
  /** The stored checkpoint, or null before the first one. */
  position(): Promise<string | null>;
  /** Forgets the consumer (retention is no longer held back by it). */
  remove(): Promise<boolean>;
}

/** What `stats()` reports about one store. */
export interface StoreStats {
  readonly kind: 'postgres' | 'sqlite';
  readonly transport: 'listen' | 'poll';
  /** The last position this store has read and emitted (its watermark). */
  readonly position: string;
  /** The newest position in the log. */
  readonly head: string;
  /** `head - position`: how far this store is behind. */
  readonly lag: string;
  /** Changes emitted since the store opened. */
  readonly delivered: number;
  /** How many times the feed's connection came back after a loss. */
  readonly reconnects: number;
  /** Errors emitted on `errors$` since the store opened. */
  readonly errors: number;
  /** Current subscriptions to the change stream (each `changesSince` counts). */
  readonly subscribers: number;
  /**
   * Since when a log read of this store (the live reader, or a `changesSince`
   * replay) has been failing and retrying, each attempt a `FEED_ERROR` on
   * `errors$`; null while every read succeeds. `head` and `lag` are then the last known.
   */
  readonly stalledSince: Date | null;
  /** This store's expiry reverts: failures, a pending retry, stopped on a read-only database (hot standby). */
  readonly expiry: ExpiryStats;
}

/** Options of {@link RuleStore.history}. */
export interface HistoryOptions {
  /** Only this rule's entries (default: every rule). */
  ruleId?: string;
  /** The newest this many entries (default 50). */
  limit?: number;
}

/** Options of {@link RuleStore.consumer}. */
export interface ConsumerOptions {
  /** Where a consumer that does not exist yet starts: the log's head (default) or its beginning. */
  startAt?: 'head' | 'beginning';
}

/**
 * The rule store: rules and their operational state in a database, and every
 * change to either as a stream. Open one with `openRuleStore`.
 */
export interface RuleStore {
  /** `'postgres'` or `'sqlite'`. */
  readonly kind: 'postgres' | 'sqlite';
  /** Every rule, compiled, with its state stamped. Bad rows are reported on `errors$` and skipped (or thrown with `strict`). */
  loadCompiled(options?: LoadCompiledOptions): Promise<CompiledRule[]>;
  /**
   * Rules plus the position they are consistent at; continue with `changesSince(snapshot.position)`.
   * With `at`, what was in force at a past position or instant.
   *
   * @example await store.snapshot({ at: new Date('2026-11-29T14:03:00Z') })
   */
  snapshot(options?: SnapshotOptions): Promise<RuleSnapshot>;
  /** A rule's state; the default for unknown rules. An expired state reads as the default and is reverted. */
  getState(ruleId: string): Promise<RuleState>;
  /** Sets a rule's state, stamping `setBy` and `setAt`; raises on any failure. Returns the state stored. */
  setState(ruleId: string, state: RuleStateInput | RuleStateName, setBy: string): Promise<RuleState>;
  /** Reverts a rule to the default state; true when there was a state to clear. */
  clearState(ruleId: string, setBy: string): Promise<boolean>;
  /** Validates and stores one rule document. Throws `RuleValidationError` and changes nothing on bad input. */
  upsertRule(yaml: string | Uint8Array, options?: UpsertRuleOptions): Promise<UpsertRuleResult>;
  /** Validates every document, then stores them in one transaction (all or nothing). */
  upsertRules(documents: readonly RuleDocumentInput[], options?: UpsertRulesOptions): Promise<UpsertRulesResult>;
  /** Deletes a rule; true when it existed. */
  deleteRule(ruleId: string, options?: { updatedBy?: string }): Promise<boolean>;
  /** Deletes rules in one transaction; returns the ids that existed. */
  deleteRules(ruleIds: readonly string[], options?: { updatedBy?: string }): Promise<string[]>;
  /** Every stored rule row with its state (expired states read as the default), sorted by id. */
  listRules(options?: SnapshotOptions): Promise<RuleListing[]>;
  /**
   * One stored rule: its row, state (an expired state reads as the default; nothing
   * is reverted) and YAML, compiled or with the reason it does not compile. Reads
   * one row and compiles one document; null when no rule with this id is stored
   * (or could be: an id that is not valid). With `at`, the rule as it stood then.
   *
   * @example const found = await store.getRule('EX001_ssh_bruteforce'); if (found?.error) console.log(found.error.message);
   */
  getRule(ruleId: string, options?: GetRuleOptions): Promise<GetRuleResult | null>;
  /**
   * Every stored rule row's id, version, source path, writer and state, sorted by
   * id, without parsing any YAML: a row that does not compile is listed like any
   * other (`listRules` says why it does not). With `at`, what was stored then.
   *
   * @example const owned = (await store.listRuleMetadata()).filter((r) => r.sourcePath.startsWith('/srv/rules/'));
   */
  listRuleMetadata(options?: SnapshotOptions): Promise<RuleMetadata[]>;
  /** The newest log entries, newest first; of one rule when `ruleId` is given (default limit 50). */
  history(options?: HistoryOptions): Promise<HistoryEntry[]>;
  /**
   * Compacts the event log: deletes events older than what `options` keeps, but
   * only those a later event for the same rule supersedes, and never past the
   * slowest registered consumer unless `force`. Run it as the schema owner.
   */
  prune(options: PruneOptions): Promise<PruneResult>;
  /** The durable named consumers with their lag. */
  consumers(): Promise<ConsumerInfo[]>;
  /** A durable named consumer; a new one is registered at once, at the head (or at 0 with `startAt: 'beginning'`). */
  consumer(name: string, options?: ConsumerOptions): Promise<NamedConsumer>;
  /** Live changes from the moment of subscription, in position order. */
  readonly changes$: Observable<RuleChange>;
  /** Every change after `position`, then live: no gap, no duplicate. */
  changesSince(position: string | bigint): Observable<RuleChange>;
  /**
   * One page of the log after `after` (a position, decimal string or bigint):
   * the decoded changes, the events that did not decode (`invalid`:
   * `RULE_INVALID`, `RULE_TOO_LARGE`, each naming its rule and position; not
   * emitted on `errors$` by this call), and `through`, the last position read
   * (holes and invalid events included: continue from it). A page holds at most
   * `maxEvents` events (default `pageSize`) and `maxBytes` of rows (default
   * `pageBytes`), one event at least; `more` says whether the log goes on below
   * `upTo`. The loop that `changesSince` runs, for callers that pace themselves.
   *
   * @example
   * const page = await store.readLog(snapshot.position, { upTo: target, maxEvents: 500 });
   */
  readLog(after: string | bigint, options?: ReadLogOptions): Promise<ReadLogResult>;
  /** Stored rows that fail to compile, and background failures (the feed, the reader). */
  readonly errors$: Observable<RuleStoreError>;
  /** The last position this store has read and emitted. */
  position(): string;
  /** Operational figures: position, head, lag, reconnects, errors, subscribers. */
  stats(): Promise<StoreStats>;
  /** Resolves once this store has emitted every change up to `position`. */
  waitForPosition(position: string | bigint): Promise<void>;
  /** Stops the feed and closes every connection; streams complete. */
  close(): Promise<void>;
}
