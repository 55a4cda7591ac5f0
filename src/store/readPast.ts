import { RuleStoreError } from '../domain/errors.js';
import { checkPosition } from '../domain/ruleChange.js';
import { effectiveState, type RuleState } from '../domain/ruleState.js';
import { byRuleId } from '../domain/ruleSchema.js';
import { stateFromRow, type LogEvent, type RuleMetadataRow, type RuleRow, type StateRow } from '../log/logEvent.js';
import type { Backend, RowSnapshot } from './backend.js';

/** A point in the past: a log position (decimal string or bigint) or an instant. */
export type PastPoint = string | bigint | Date;

/** The rows in force at a point of the past, from the log. */
export interface PastRows<R = RuleRow> {
  /** The last event at or before the point (0 before the first event). */
  readonly position: bigint;
  /** The instant the states' expiries are judged at: the given Date, or the time of the event at `position`. */
  readonly asOf: Date;
  readonly rules: readonly R[];
  readonly states: readonly StateRow[];
}

/**
 * Reads the rules and states in force at `at`, from the log: a fold over the
 * events at or below it (the newest rule event and the newest state event of
 * every rule id; a deletion means absent). Fails with `LOG_TRUNCATED`, naming the
 * oldest readable point, when compaction deleted an event that was in force
 * there, and with `POSITION_INVALID` for a position beyond the head.
 *
 * With `ruleId`, only that rule's rows are folded; `position` and `asOf` are
 * still those of the whole log at `at` (an expiry is judged at the same instant
 * as in the full read).
 */
export function readRowsAt(backend: Backend, at: PastPoint, ruleId?: string): Promise<PastRows> {
  return foldAt(backend, at, ruleId, (bound) => backend.readLatestEvents(bound, ruleId));
}

/** {@link readRowsAt} of every rule, with the rule rows read without their documents (`listRuleMetadata({ at })`). */
export function readMetadataAt(backend: Backend, at: PastPoint): Promise<PastRows<RuleMetadataRow>> {
  return foldAt(backend, at, undefined, (bound) => backend.readLatestMetadataEvents(bound));
}

/** The newest event of each rule and entity, as the fold needs it. */
type Latest<R> = Pick<LogEvent, 'position' | 'entity' | 'op' | 'state' | 'at'> & { readonly rule: R | null };

async function foldAt<R extends { readonly ruleId: string }>(backend: Backend, at: PastPoint, ruleId: string | undefined, readLatest: (bound: bigint) => Promise<Latest<R>[]>): Promise<PastRows<R>> {
  let bound: bigint;
  let instant: Date | null = null;
  if (at instanceof Date) {
    if (Number.isNaN(at.getTime())) throw new RuleStoreError('POSITION_INVALID', 'at must be a valid Date or a position');
    instant = at;
    // Event times are shown (and compared) at millisecond resolution.
    bound = await backend.readPositionBefore(new Date(at.getTime() + 1));
  } else {
    bound = checkPosition(at);
    const head = await backend.readHead();
    if (bound > head) throw new RuleStoreError('POSITION_INVALID', `position ${bound} is beyond the head of the log (${head})`);
  }
  const readableFrom = await backend.readReadableFrom();
  if (bound < readableFrom) {
    const [oldest] = await backend.readHistory(null, 1, readableFrom);
    const when = oldest ? ` (recorded ${oldest.at.toISOString()})` : '';
    const asked = instant ? `${instant.toISOString()} (position ${bound})` : `position ${bound}`;
    throw new RuleStoreError('LOG_TRUNCATED', `${asked} is older than the retained log: compaction removed what was in force then; the oldest readable point is position ${readableFrom}${when}`);
  }
  const events = bound > 0n ? await readLatest(bound) : [];
  const rules: R[] = [];
  const states: StateRow[] = [];
  let position = 0n;
  let last: Date | null = null;
  if (ruleId !== undefined && bound > 0n) {
    // The newest event of the whole log at the bound: what the full fold would find.
    const [newest] = await backend.readHistory(null, 1, bound);
    if (newest) ({ position, at: last } = newest);
  }
  for (const event of events) {
    if (event.position > position) {
      position = event.position;
      last = event.at;
    }
    if (event.op !== 'upsert') continue;
    if (event.entity === 'rule' && event.rule) rules.push(event.rule);
    else if (event.entity === 'state' && event.state) states.push(event.state);
  }
  rules.sort(byRuleId);
  states.sort(byRuleId);
  return { position, asOf: instant ?? last ?? new Date(0), rules, states };
}

/** The state in force of a rule with this state row (null: none), its expiry judged at `asOf`. */
export const stateInForce = (row: StateRow | null, asOf: Date): RuleState => effectiveState(stateFromRow(row), asOf);

/** Rows now or at a past point, with the state in force of each rule. */
export interface RowsInForce extends RowSnapshot {
  /** The instant the states' expiries are judged at. */
  readonly asOf: Date;
  /** The state in force of a rule, judged at `asOf` (the default when it has no state row). */
  stateOf(ruleId: string): RuleState;
}

/**
 * The rows now (one consistent read, expiries judged by this process's clock),
 * or in force at `at` (a fold of the log, {@link readRowsAt}), with each rule's
 * state in force (see {@link RowsInForce.stateOf}).
 */
export async function readRows(backend: Backend, at: PastPoint | undefined): Promise<RowsInForce> {
  const rows = at === undefined ? { ...(await backend.readSnapshot()), asOf: new Date() } : await readRowsAt(backend, at);
  const states = new Map(rows.states.map((s) => [s.ruleId, s]));
  return { ...rows, stateOf: (ruleId) => stateInForce(states.get(ruleId) ?? null, rows.asOf) };
}
