import { z } from 'zod';
import { PAST_POINT_EXPECTED, parsePastPoint } from '../domain/pastPoint.js';
import { DEFAULT_MAX_RULE_BYTES } from '../domain/compileRule.js';
import { RULE_STATES } from '../domain/ruleState.js';
import { ruleIdProblem } from '../domain/ruleSchema.js';

const noNul = (value: string): boolean => !value.includes('\u0000');

/** The `{rule_id}` path parameter: a valid rule id (the domain's rule). */
export const ruleIdParamSchema = z.object({
  rule_id: z.string().superRefine((value, ctx) => {
    const problem = ruleIdProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
});

/**
 * The body of `POST /api/v1/ttp/rules/{rule_id}/state` (DECNET's shape). The
 * store validates the result again with the domain's state schema.
 */
export const stateBodySchema = z.strictObject({
  state: z.enum(RULE_STATES),
  confidence_max: z.number().min(0).max(1).nullable().optional(),
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  reason: z.string().max(4096).refine(noNul, 'must not contain NUL characters').nullable().optional(),
});

/** The JSON body of `PUT /api/v1/ttp/rules/{rule_id}` (a YAML body is taken as is). */
export const ruleBodySchema = z.strictObject({
  yaml: z.string().max(DEFAULT_MAX_RULE_BYTES * 4).refine(noNul, 'must not contain NUL characters'),
});

/** The body of `POST /api/v1/session`. */
export const sessionBodySchema = z.strictObject({ token: z.string().min(1).max(512) });

/** The query of `GET /api/v1/ttp/rules/{rule_id}/history`. */
export const historyQuerySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional() });

/** `GET /api/v1/ttp/snapshot?at=`: a position or an ISO-8601 time with a zone (absent: now). */
export const snapshotQuerySchema = z.strictObject({
  at: z
    .string()
    .transform((text, ctx) => {
      const point = parsePastPoint(text);
      if (point === null) ctx.addIssue({ code: 'custom', message: `must be ${PAST_POINT_EXPECTED}` });
      return point ?? undefined;
    })
    .optional(),
});

/** A log position in `Last-Event-ID` or `?since=`. */
export const positionSchema = z.string().regex(/^\d{1,20}$/, 'must be a log position (a non-negative integer)');

/** One line per issue, `path: message`, for a 400's `detail`. */
export function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}
