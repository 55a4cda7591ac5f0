import type { Feed } from '../feed/feed.js';
import type { LogEvent, MetadataEvent, RuleMetadataRow, RuleRow, StateRow } from '../log/logEvent.js';

/** A rule row to write: what `upsertRule` validated. */
export interface RuleWrite {
  readonly ruleId: string;
  readonly ruleVersion: number;
  readonly sourcePath: string;
  readonly yamlContent: string;
}

/** A state row to write; `setAt` is stamped by the database. */
export interface StateWrite {
  readonly ruleId: string;
  readonly state: string;
  readonly confidenceMax: number | null;
  readonly expiresAt: Date | null;
  readonly reason: string | null;
  readonly setBy: string;
}

/** Rows and the log position they are consistent at. */
export interface RowSnapshot {
  readonly position: bigint;
  readonly rules: readonly RuleRow[];
  readonly states: readonly StateRow[];
}

/** A {@link RowSnapshot} without the rules' documents. */
export interface MetadataSnapshot {
  readonly position: bigint;
  readonly rules: readonly RuleMetadataRow[];
  readonly states: readonly StateRow[];
}

/** One rule row and its state row, read in one statement (one consistent view). */
export interface RuleWithStateRow {
  readonly rule: RuleRow;
  /** Null when the rule has no state row (the default state). */
  readonly state: StateRow | null;
}

/** What a batch write did. */
export interface BatchResult {
  /** Rule ids whose row changed (inserted or updated with different content). */
  readonly upserted: readonly string[];
  /** Rule ids deleted by the prune. */
  readonly deleted: readonly string[];
}

/** A durable named consumer's checkpoint. */
export interface ConsumerRow {
  readonly name: string;
  readonly position: bigint;
  readonly updatedAt: Date;
}

/** What {@link Backend.readEvents} reads: one page of the log. */
export interface ReadEventsRequest {
  /** The most events in the page. */
  readonly limit: number;
  /** No event above this position (inclusive); undefined: no bound. */
  readonly upTo?: bigint;
  /**
   * The page stops once its rows (rule and state row text) reach this many
   * bytes; it always holds at least one event.
   */
  readonly maxBytes: number;
  /**
   * A row whose rule document is larger (bytes, checked in the query) comes back
   * without its rule and state rows, with `oversized` set: it is never loaded.
   */
  readonly maxRuleBytes: number;
}

/** One page of the log as a backend reads it. */
export interface EventPage {
  /** Events with `after < position <= upTo`, in order, commits stamped (`commit`, `lastInCommit`). */
  readonly events: LogEvent[];
  /** The last position read: the last event's, `upTo` when nothing is left below it, else `after`. */
  readonly through: bigint;
  /** True when the page stopped at `limit` or `maxBytes` with events left (below `upTo`). */
  readonly more: boolean;
}

/**
 * One database dialect. The Postgres and SQLite backends implement the same
 * functions over the same tables; everything above them (the reader, replay,
 * expiry, compile) is shared.
 */
export interface Backend {
  readonly kind: 'postgres' | 'sqlite';
  /**
   * One page of events after `after` (see {@link ReadEventsRequest}): at most
   * `limit` events and `maxBytes` of rows, each row's size checked in the query,
   * so an oversized row is never loaded. Stamps `commit` and `lastInCommit`
   * (the next event, read in the same query, tells whether the last one ends its
   * transaction).
   */
  readEvents(after: bigint, request: ReadEventsRequest): Promise<EventPage>;
  /** The newest events at or below `upTo` (no bound if omitted), newest first, of one rule or of all (`ruleId` null). */
  readHistory(ruleId: string | null, limit: number, upTo?: bigint): Promise<LogEvent[]>;
  /** The newest committed position (0 for an empty log). */
  readHead(): Promise<bigint>;
  /** Every rule and state row plus the position they are consistent at. */
  readSnapshot(): Promise<RowSnapshot>;
  /** One rule row with its state row; null when no rule with this id is stored. */
  readRule(ruleId: string): Promise<RuleWithStateRow | null>;
  readState(ruleId: string): Promise<StateRow | null>;
  /** Upserts the state row and returns it as stored. */
  writeState(write: StateWrite): Promise<StateRow>;
  /** Deletes the state row; true when one existed. */
  deleteState(ruleId: string, actor: string): Promise<boolean>;
  /**
   * Upserts rules in one transaction (all or nothing); identical content is left
   * alone. With `prune`, also deletes rules whose `source_path` starts with
   * `prune.under` and that are not in `rules`.
   */
  writeRules(rules: readonly RuleWrite[], actor: string, prune?: { under: string }): Promise<BatchResult>;
  /** Deletes rule rows; returns the ids that existed. */
  deleteRules(ruleIds: readonly string[], actor: string): Promise<string[]>;
  /** Deletes every state whose `expires_at` has passed (database clock); returns their ids. */
  revertExpired(ruleId?: string): Promise<string[]>;
  /**
   * The newest event of every rule and entity at or below `upTo` (what was in force
   * there), in no particular order; of one rule only when `ruleId` is given.
   */
  readLatestEvents(upTo: bigint, ruleId?: string): Promise<LogEvent[]>;
  /** The oldest position a fold of the log reads exactly after compaction (0 if the log was never pruned). */
  readReadableFrom(): Promise<bigint>;
  /** The newest position retention ever deleted (0 if the log was never pruned). */
  readPrunedThrough(): Promise<bigint>;
  /** The newest position recorded before `cutoff` (database clock), 0 if none. */
  readPositionBefore(cutoff: Date): Promise<bigint>;
  /**
   * Compacts the log: deletes the events at or below `before` that a later event
   * for the same rule and entity supersedes, and records how far it pruned.
   * Returns how many events it deleted.
   */
  pruneLog(before: bigint): Promise<number>;
  readConsumers(): Promise<ConsumerRow[]>;
  readConsumer(name: string): Promise<ConsumerRow | null>;
  /** Moves a named consumer's checkpoint to `position` (creating it); never backwards. */
  writeConsumer(name: string, position: bigint): Promise<void>;
  deleteConsumer(name: string): Promise<boolean>;
  /** Milliseconds (database clock) until the earliest expiry, or null if none. */
  msUntilNextExpiry(): Promise<number | null>;
  /** The feed for this backend (listen or poll). */
  createFeed(): Feed;
  close(): Promise<void>;
  /**
   * {@link readSnapshot} without `yaml_content`: every rule row's metadata and every
   * state row, consistent at one position, and no rule body read from the database.
   */
  readMetadataSnapshot(): Promise<MetadataSnapshot>;
  /** {@link readLatestEvents} of every rule with the rule rows' `yaml_content` left in the database. */
  readLatestMetadataEvents(upTo: bigint): Promise<MetadataEvent[]>;
}
