import { Subject } from 'rxjs';
import type { Logger } from 'pino';
import { readRuleDocument, type CompiledRule } from '../domain/compileRule.js';
import { RuleStoreError, RuleValidationError, StoreUnavailableError } from '../domain/errors.js';
import { ruleIdProblem } from '../domain/ruleSchema.js';
import { DEFAULT_RULE_STATE, actorProblem, effectiveState, isExpired, parseStateInput } from '../domain/ruleState.js';
import { INPUT_LIMITS, textProblem } from '../domain/inputLimits.js';
import { EXPIRY_ACTOR, compileRow, stateFromRow, type LogEvent, type RuleRow } from '../log/logEvent.js';
import { rememberRuleDocument } from '../log/ruleDocCache.js';
import type { Backend, RuleWrite } from './backend.js';
import { readRows } from './readPast.js';
import { readRule, readRuleMetadata, ruleListing, tryCompileRow } from './readRule.js';
import { createExpiryScheduler } from './expiryScheduler.js';
import { createLogReader } from './logReader.js';
import { replayThenLive } from './replay.js';
import { createPublicReadLog } from './publicReadLog.js';
import { checkPosition } from '../domain/ruleChange.js';
import { createReadHealth } from './readHealth.js';
import { createRetention } from './retention.js';
import type { RuleSnapshot, RuleStore, SnapshotOptions } from './ruleStore.js';
import type { Tracing } from '../observability/tracing.js';

/** Settings shared by every backend (resolved defaults). */
export interface StoreSettings {
  logger: Logger;
  pageSize: number;
  /** Byte budget of one log page (`pageBytes`). */
  pageBytes: number;
  revertExpired: boolean;
  strict: boolean;
  maxRuleBytes: number;
  tracing: Tracing;
  /** A log reader that has failed for this long logs at error level (ms). */
  stallWarnMs: number;
}

/** How far back to look for the last good version of a rule whose current row is bad. */
const LAST_GOOD_LOOKBACK = 50;

function checkRuleId(ruleId: string): void {
  const problem = ruleIdProblem(ruleId);
  if (problem) throw new RuleValidationError([{ path: 'rule_id', message: problem }], { ruleId: typeof ruleId === 'string' && ruleId.length <= 128 ? ruleId : null });
}

/**
 * Input bounds of the write API, checked before any SQL (see src/domain/inputLimits.ts).
 * `who` is optional where the API defaults it ('api'): only a given value is checked.
 */
function checkStateActor(setBy: unknown, method: string, required: boolean): void {
  if (!required && (setBy === undefined || setBy === '')) return;
  if (typeof setBy !== 'string' || setBy.length === 0) throw new RuleStoreError('STATE_INVALID', `${method} needs a non-empty setBy (who is changing the state)`);
  const problem = actorProblem(setBy);
  if (problem) throw new RuleStoreError('STATE_INVALID', `${method}: setBy ${problem}`);
}

function checkUpdatedBy(updatedBy: unknown): void {
  if (updatedBy === undefined || updatedBy === '') return;
  const problem = actorProblem(updatedBy);
  if (problem) throw new RuleValidationError([{ path: 'updatedBy', message: problem }]);
}

/** A source path as error messages show it: cut short, NUL made visible. */
const shownPath = (path: string): string => (path.length > 200 ? `${path.slice(0, 200)}…` : path).replace(/\u0000/g, '\\0');

function checkSourcePath(sourcePath: string | undefined, field: 'sourcePath' | 'pruneUnder' = 'sourcePath'): void {
  if (sourcePath === undefined) return;
  const problem = typeof sourcePath === 'string' ? textProblem(sourcePath, INPUT_LIMITS.sourcePathLength) : 'must be a string';
  if (problem) throw new RuleValidationError([{ path: field, message: problem }], { source: typeof sourcePath === 'string' ? shownPath(sourcePath) : null });
}

/**
 * Builds the public store over one backend: the single log reader, replay,
 * expiry and compile logic are shared by Postgres and SQLite.
 */
export async function createRuleStore(backend: Backend, settings: StoreSettings): Promise<RuleStore> {
  const log = settings.logger;
  const errors = new Subject<RuleStoreError>();
  let errorCount = 0;
  const reportError = (error: RuleStoreError): void => {
    errorCount++;
    errors.next(error);
  };
  const { tracing } = settings;
  const health = createReadHealth({ logger: log, stallWarnMs: settings.stallWarnMs, onError: reportError });
  const expiry = createExpiryScheduler(backend, log, () => afterWrite(), reportError);
  const onEvent = (event: LogEvent): void => {
    if (settings.revertExpired && event.entity === 'state' && event.state?.expiresAt) expiry.noteExpiry(event.state.expiresAt);
  };
  const reader = createLogReader({ backend, logger: log, pageSize: settings.pageSize, pageBytes: settings.pageBytes, maxRuleBytes: settings.maxRuleBytes, onEvent, onError: reportError, health, tracing, errorsObserved: () => errors.observed });
  const feed = backend.createFeed();
  const readLogPage = createPublicReadLog(backend, settings);
  const retention = createRetention(backend, log, (position) => store.changesSince(position));
  let closed = false;
  let lastHead = 0n;

  const ensureOpen = (): void => {
    if (closed) throw new RuleStoreError('STORE_CLOSED', 'the rule store is closed');
  };
  /**
   * Reads our own writes at once: a poll feed would not hear them before its next
   * tick (SQLite's data_version ignores this connection's commits), and on listen
   * it saves the doorbell's round trip (whose read then finds nothing).
   */
  function afterWrite(): void {
    reader.pump('local-write');
  }

  /** The last version of a rule that compiles, from the log (used when the current row is bad). */
  const lastGood = async (ruleId: string, upTo: bigint): Promise<RuleRow | null> => {
    const events = await backend.readHistory(ruleId, LAST_GOOD_LOOKBACK, upTo);
    for (const event of events) {
      if (event.entity !== 'rule') continue;
      if (event.op === 'delete' || !event.rule) return null;
      try {
        compileRow(event.rule, DEFAULT_RULE_STATE, settings.maxRuleBytes);
        return event.rule;
      } catch {
        // keep looking further back
      }
    }
    return null;
  };

  const snapshot = async (options: SnapshotOptions = {}): Promise<RuleSnapshot> => {
    ensureOpen();
    const rows = await readRows(backend, options.at);
    const now = rows.asOf;
    const states = new Map(rows.states.map((s) => [s.ruleId, s]));
    const rules: CompiledRule[] = [];
    const bad: RuleValidationError[] = [];
    for (const row of rows.rules) {
      const state = effectiveState(stateFromRow(states.get(row.ruleId) ?? null), now);
      try {
        rules.push(compileRow(row, state, settings.maxRuleBytes));
      } catch (error) {
        if (!(error instanceof RuleValidationError)) throw error;
        bad.push(error);
        // The last good version stays in force, as it does for a stream consumer.
        const good = await lastGood(row.ruleId, rows.position);
        if (good) rules.push(compileRow(good, state, settings.maxRuleBytes));
      }
    }
    return Object.freeze({ position: rows.position.toString(), rules: Object.freeze(rules), errors: Object.freeze(bad) });
  };

  const store: RuleStore = {
    kind: backend.kind,
    changes$: reader.changes$,
    errors$: errors.asObservable(),

    async loadCompiled(options = {}) {
      const snap = await snapshot();
      if (snap.errors.length > 0) {
        if (options.strict) throw snap.errors[0]!;
        for (const error of snap.errors) reportError(error);
      }
      return [...snap.rules];
    },

    snapshot,

    async listRules(options = {}) {
      ensureOpen();
      const rows = await readRows(backend, options.at);
      const now = rows.asOf;
      const states = new Map(rows.states.map((s) => [s.ruleId, s]));
      return rows.rules.map((row) => {
        const compiled = tryCompileRow(row, DEFAULT_RULE_STATE, settings.maxRuleBytes);
        return ruleListing(row, effectiveState(stateFromRow(states.get(row.ruleId) ?? null), now), compiled instanceof RuleValidationError ? compiled : null);
      });
    },

    async getRule(ruleId, options = {}) {
      ensureOpen();
      return readRule(backend, ruleId, options.at, settings.maxRuleBytes);
    },

    async listRuleMetadata(options = {}) {
      ensureOpen();
      return readRuleMetadata(backend, options.at);
    },

    async history(options = {}) {
      ensureOpen();
      if (options.ruleId !== undefined) checkRuleId(options.ruleId);
      const limit = options.limit ?? 50;
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RuleStoreError('CONFIG_INVALID', `history limit must be a positive integer, got ${String(limit)}`);
      const events = await backend.readHistory(options.ruleId ?? null, limit);
      return events.map((e) => {
        const kind = e.entity === 'state' ? 'state' : e.op === 'delete' ? 'deleted' : 'definition';
        return Object.freeze({
          position: e.position.toString(),
          at: e.at,
          actor: e.actor,
          loginRole: e.loginRole,
          ruleId: e.ruleId,
          kind,
          ruleVersion: e.rule?.ruleVersion ?? null,
          state: kind === 'state' ? stateFromRow(e.state) : null,
          expired: kind === 'state' && e.op === 'delete' && e.actor === EXPIRY_ACTOR,
        } as const);
      });
    },

    async getState(ruleId) {
      ensureOpen();
      // An id that can never be stored has the default state, like any unknown rule.
      if (ruleIdProblem(ruleId) !== null) return DEFAULT_RULE_STATE;
      const row = await backend.readState(ruleId);
      const state = stateFromRow(row);
      if (isExpired(state)) {
        // An expired state is the default, whatever the revert does: revert it now
        // (written once, whoever gets here first); a revert that fails is reported
        // and retried, and none is tried on a read-only database (a hot standby).
        await expiry.revertNow(ruleId);
        return DEFAULT_RULE_STATE;
      }
      return state;
    },

    async setState(ruleId, input, setBy) {
      ensureOpen();
      checkRuleId(ruleId);
      const value = parseStateInput(input);
      checkStateActor(setBy, 'setState', true);
      return tracing.span('ttp.rule.state.change', { rule_id: ruleId, state: value.state, set_by: setBy }, async () => {
        const row = await tracing.span('ttp.store.write_state', { rule_id: ruleId }, () =>
          backend.writeState({
            ruleId,
            state: value.state,
            confidenceMax: value.confidenceMax ?? null,
            expiresAt: value.expiresAt ?? null,
            reason: value.reason ?? null,
            setBy,
          }),
        );
        afterWrite();
        return stateFromRow(row);
      });
    },

    async clearState(ruleId, setBy) {
      ensureOpen();
      checkRuleId(ruleId);
      checkStateActor(setBy, 'clearState', false);
      return tracing.span('ttp.rule.state.change', { rule_id: ruleId, state: 'default', set_by: setBy || 'api' }, async () => {
        const cleared = await tracing.span('ttp.store.write_state', { rule_id: ruleId }, () => backend.deleteState(ruleId, setBy || 'api'));
        afterWrite();
        return cleared;
      });
    },

    async upsertRule(yaml, options = {}) {
      ensureOpen();
      checkSourcePath(options.sourcePath);
      checkUpdatedBy(options.updatedBy);
      const { doc, text } = readRuleDocument(yaml, { strict: settings.strict, maxBytes: settings.maxRuleBytes, source: options.sourcePath ?? null });
      const write: RuleWrite = { ruleId: doc.rule_id, ruleVersion: doc.rule_version, sourcePath: options.sourcePath ?? '', yamlContent: text };
      rememberRuleDocument(text, doc);
      const result = await tracing.span('ttp.store.write_rules', { rule_id: doc.rule_id, 'ttp.rules.count': 1 }, () => backend.writeRules([write], options.updatedBy || 'api'));
      afterWrite();
      return { ruleId: doc.rule_id, ruleVersion: doc.rule_version, changed: result.upserted.length > 0 };
    },

    async upsertRules(documents, options = {}) {
      ensureOpen();
      checkUpdatedBy(options.updatedBy);
      checkSourcePath(options.pruneUnder, 'pruneUnder');
      const writes: RuleWrite[] = [];
      const problems: RuleValidationError[] = [];
      const seen = new Map<string, string>();
      for (const document of documents) {
        try {
          checkSourcePath(document.sourcePath);
          const { doc, text } = readRuleDocument(document.yaml, { strict: settings.strict, maxBytes: settings.maxRuleBytes, source: document.sourcePath ?? null });
          const previous = seen.get(doc.rule_id);
          if (previous !== undefined) {
            throw new RuleValidationError([{ path: 'rule_id', message: `duplicate: also defined in ${previous || 'another document'}` }], { ruleId: doc.rule_id, source: document.sourcePath ?? null });
          }
          seen.set(doc.rule_id, document.sourcePath ?? '');
          writes.push({ ruleId: doc.rule_id, ruleVersion: doc.rule_version, sourcePath: document.sourcePath ?? '', yamlContent: text });
          rememberRuleDocument(text, doc);
        } catch (error) {
          if (error instanceof RuleValidationError) problems.push(error);
          else throw error;
        }
      }
      if (problems.length > 0) {
        // All or nothing: one bad document and nothing is written.
        const issues = problems.flatMap((p) => p.issues.map((i) => ({ path: [p.source, p.ruleId, i.path].filter(Boolean).join(': '), message: i.message })));
        throw new RuleValidationError(issues, { source: `${problems.length} of ${documents.length} documents` });
      }
      const result = await tracing.span('ttp.store.write_rules', { 'ttp.rules.count': writes.length }, () =>
        backend.writeRules(writes, options.updatedBy || 'api', options.pruneUnder !== undefined ? { under: options.pruneUnder } : undefined),
      );
      afterWrite();
      const upserted = new Set(result.upserted);
      return {
        upserted: [...upserted],
        unchanged: writes.map((w) => w.ruleId).filter((id) => !upserted.has(id)),
        deleted: [...result.deleted],
      };
    },

    async deleteRule(ruleId, options = {}) {
      return (await store.deleteRules([ruleId], options)).length > 0;
    },

    async deleteRules(ruleIds, options = {}) {
      ensureOpen();
      ruleIds.forEach(checkRuleId);
      checkUpdatedBy(options.updatedBy);
      if (ruleIds.length === 0) return [];
      const deleted = await tracing.span('ttp.store.write_rules', { 'ttp.rules.count': ruleIds.length, 'ttp.rules.delete': true }, () => backend.deleteRules(ruleIds, options.updatedBy || 'api'));
      afterWrite();
      return deleted;
    },

    changesSince(position) {
      ensureOpen();
      const from = checkPosition(position);
      return replayThenLive(from, { backend, reader, logger: log, pageSize: settings.pageSize, pageBytes: settings.pageBytes, maxRuleBytes: settings.maxRuleBytes, onError: reportError, health });
    },

    readLog: (after, options) => {
      ensureOpen();
      return readLogPage(after, options);
    },

    prune: (options) => {
      ensureOpen();
      return retention.prune(options);
    },
    consumers: () => {
      ensureOpen();
      return retention.consumers();
    },
    consumer: (name, options) => {
      ensureOpen();
      return retention.consumer(name, options);
    },

    async stats() {
      ensureOpen();
      const watermark = reader.watermark;
      // While reads fail, stats() still answers: with the last head it could read.
      const head = await backend.readHead().then((h) => (lastHead = h), () => (lastHead > watermark ? lastHead : watermark));
      return {
        kind: backend.kind,
        transport: feed.transport,
        position: watermark.toString(),
        head: head.toString(),
        lag: (head > watermark ? head - watermark : 0n).toString(),
        delivered: reader.delivered,
        reconnects: feed.reconnects,
        errors: errorCount,
        subscribers: reader.subscribers,
        stalledSince: health.stalledSince,
        expiry: expiry.stats,
      };
    },

    position: () => reader.watermark.toString(),

    waitForPosition(position) {
      return reader.waitFor(checkPosition(position));
    },

    async close() {
      if (closed) return;
      closed = true;
      expiry.close();
      await feed.close();
      reader.close();
      health.close();
      errors.complete();
      await backend.close();
      log.info({ component: 'store', event: 'store:close' }, 'rule store closed');
    },
  };

  // Listen first, then read the head: a doorbell rung in between is not lost,
  // and the reader starts live from the head.
  try {
    await feed.start((reason) => reader.pump(reason));
    reader.start(await backend.readHead());
    if (settings.revertExpired) await expiry.start();
  } catch (error) {
    expiry.close();
    await feed.close().catch(() => {});
    await backend.close().catch(() => {});
    throw RuleStoreError.is(error) ? error : new StoreUnavailableError(`could not start the change feed: ${(error as Error).message}`, { cause: error });
  }
  reader.pump('open');
  log.info({ component: 'store', event: 'store:open', kind: backend.kind, position: reader.watermark.toString() }, 'rule store open');
  return store;
}
