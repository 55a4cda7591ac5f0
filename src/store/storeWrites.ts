import { readRuleDocument } from '../domain/compileRule.js';
import { RuleValidationError } from '../domain/errors.js';
import { parseStateInput } from '../domain/ruleState.js';
import { stateFromRow } from '../log/logEvent.js';
import { rememberRuleDocument } from '../log/ruleDocCache.js';
import type { Tracing } from '../observability/tracing.js';
import type { Backend, RuleWrite } from './backend.js';
import type { RuleStore } from './ruleStore.js';
import { checkRuleId, checkSourcePath, checkStateActor, checkUpdatedBy } from './writeInputs.js';

/** What {@link createStoreWrites} writes through. */
export interface StoreWritesContext {
  readonly backend: Backend;
  /** Refuse unknown fields in rule documents. */
  readonly strict: boolean;
  /** Rule documents larger than this (bytes) are refused. */
  readonly maxRuleBytes: number;
  readonly tracing: Tracing;
  /** Throws `STORE_CLOSED` once the store is closed. */
  ensureOpen(): void;
  /** Called after every committed write (the store reads its own writes at once). */
  afterWrite(): void;
}

/** The write half of the store API: states and rules. */
export type StoreWrites = Pick<RuleStore, 'setState' | 'clearState' | 'upsertRule' | 'upsertRules' | 'deleteRule' | 'deleteRules'>;

/**
 * The store's writes over one backend. Every input is checked before any SQL
 * (see writeInputs.ts); a batch is all or nothing.
 *
 * @example const writes = createStoreWrites({ backend, strict, maxRuleBytes, tracing, ensureOpen, afterWrite });
 */
export function createStoreWrites(context: StoreWritesContext): StoreWrites {
  const { backend, strict, maxRuleBytes, tracing, ensureOpen, afterWrite } = context;

  const deleteRules: StoreWrites['deleteRules'] = async (ruleIds, options = {}) => {
    ensureOpen();
    ruleIds.forEach(checkRuleId);
    checkUpdatedBy(options.updatedBy);
    if (ruleIds.length === 0) return [];
    const deleted = await tracing.span('ttp.store.write_rules', { 'ttp.rules.count': ruleIds.length, 'ttp.rules.delete': true }, () => backend.deleteRules(ruleIds, options.updatedBy || 'api'));
    afterWrite();
    return deleted;
  };

  return {
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
      const { doc, text } = readRuleDocument(yaml, { strict, maxBytes: maxRuleBytes, source: options.sourcePath ?? null });
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
          const { doc, text } = readRuleDocument(document.yaml, { strict, maxBytes: maxRuleBytes, source: document.sourcePath ?? null });
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
      return (await deleteRules([ruleId], options)).length > 0;
    },

    deleteRules,
  };
}
