import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { readRuleDocument } from '../domain/compileRule.js';
import { DEFAULT_RULE_STATE } from '../domain/ruleState.js';
import type { RuleStore } from '../store/ruleStore.js';
import { historyQuerySchema, issuesOf, ruleBodySchema, ruleIdParamSchema, snapshotQuerySchema, stateBodySchema } from './apiSchemas.js';
import type { Authenticator } from './authenticator.js';
import { guard, HttpError } from './httpGuard.js';
import { historyEntryJson, ruleRowJson, stateJson } from './ruleJson.js';

/** Parses with a zod schema or answers 400 with the issues. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'INVALID_REQUEST', `invalid ${what}`, issuesOf(result.error));
  return result.data;
}

function ruleIdOf(request: FastifyRequest): string {
  return parseOr400(ruleIdParamSchema, request.params, 'rule id').rule_id;
}

async function storedRule(store: RuleStore, ruleId: string) {
  const found = await store.getRule(ruleId);
  if (!found) throw new HttpError(404, 'RULE_NOT_FOUND', `rule ${ruleId} is not stored`);
  return found;
}

/**
 * The rule endpoints: DECNET's `GET /api/v1/ttp/rules` and `POST`/`DELETE
 * …/{rule_id}/state`, and `GET`/`PUT`/`DELETE …/{rule_id}` and `…/history`.
 * Every write records the caller's token name as the actor.
 */
export function registerRuleRoutes(app: FastifyInstance, store: RuleStore, auth: Authenticator): void {
  const base = '/api/v1/ttp/rules';

  app.get(base, async (request) => {
    guard(auth, request, 'reader');
    return (await store.listRules()).map(ruleRowJson);
  });

  // What was in force at a position or instant, from the log (the current rules without `at`).
  // The position first, then the listing at that position: one consistent point even for a time.
  app.get('/api/v1/ttp/snapshot', async (request) => {
    guard(auth, request, 'reader');
    const { at } = parseOr400(snapshotQuerySchema, request.query, 'query');
    const { position } = await store.snapshot(at === undefined ? {} : { at });
    const rules = await store.listRules({ at: position });
    return { position, rules: rules.map(ruleRowJson) };
  });

  app.get(`${base}/:rule_id`, async (request) => {
    guard(auth, request, 'reader');
    const listing = await storedRule(store, ruleIdOf(request));
    return { ...ruleRowJson(listing), yaml: listing.yamlContent };
  });

  app.get(`${base}/:rule_id/history`, async (request) => {
    guard(auth, request, 'reader');
    const ruleId = ruleIdOf(request);
    const { limit } = parseOr400(historyQuerySchema, request.query, 'query');
    const entries = await store.history({ ruleId, limit: limit ?? 50 });
    if (entries.length === 0) await storedRule(store, ruleId);
    return entries.map(historyEntryJson);
  });

  app.post(`${base}/:rule_id/state`, async (request) => {
    const caller = guard(auth, request, 'operator');
    const ruleId = ruleIdOf(request);
    const body = parseOr400(stateBodySchema, request.body, 'state');
    await storedRule(store, ruleId);
    const state = await store.setState(
      ruleId,
      {
        state: body.state,
        confidenceMax: body.confidence_max ?? null,
        expiresAt: body.expires_at ? new Date(body.expires_at) : null,
        reason: body.reason ?? null,
      },
      caller.name,
    );
    return stateJson(ruleId, state);
  });

  app.delete(`${base}/:rule_id/state`, async (request) => {
    const caller = guard(auth, request, 'operator');
    const ruleId = ruleIdOf(request);
    await storedRule(store, ruleId);
    await store.clearState(ruleId, caller.name);
    return stateJson(ruleId, DEFAULT_RULE_STATE);
  });

  app.put(`${base}/:rule_id`, async (request, reply) => {
    const caller = guard(auth, request, 'author');
    const ruleId = ruleIdOf(request);
    const yaml = typeof request.body === 'string' ? request.body : parseOr400(ruleBodySchema, request.body, 'rule body').yaml;
    // The domain's own validation (YAML, schema, size), and the path must name the document's rule.
    readRuleDocument(yaml, { expectRuleId: ruleId, source: 'request body' });
    const existing = await store.getRule(ruleId);
    // Keep the stored source path: a rule the directory sync owns stays owned by it.
    const result = await store.upsertRule(yaml, { updatedBy: caller.name, ...(existing?.sourcePath ? { sourcePath: existing.sourcePath } : {}) });
    reply.code(existing ? 200 : 201);
    return { rule_id: result.ruleId, rule_version: result.ruleVersion, changed: result.changed };
  });

  app.delete(`${base}/:rule_id`, async (request) => {
    const caller = guard(auth, request, 'author');
    const ruleId = ruleIdOf(request);
    if (!(await store.deleteRule(ruleId, { updatedBy: caller.name }))) throw new HttpError(404, 'RULE_NOT_FOUND', `rule ${ruleId} is not stored`);
    return { rule_id: ruleId, deleted: true };
  });
}
