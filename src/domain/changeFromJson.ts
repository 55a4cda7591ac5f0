import { z } from 'zod';
import { deepFreeze } from './compileRule.js';
import type { RuleChange } from './ruleChange.js';
import { RULE_STATES } from './ruleState.js';

// The decoder of changeJson's output (zod), apart from the encoders so that they load without zod.
const decimal = z.string().regex(/^\d{1,20}$/);
const isoDate = z
  .string()
  .transform((text) => new Date(text))
  .refine((date) => !Number.isNaN(date.getTime()), 'is not a date');
const stateSchema = z.object({
  state: z.enum(RULE_STATES),
  confidenceMax: z.number().min(0).max(1).nullable(),
  expiresAt: isoDate.nullable(),
  reason: z.string().nullable(),
  setBy: z.string().nullable(),
  setAt: isoDate.nullable(),
});
const ruleSchema = z.object({
  ruleId: z.string(),
  ruleVersion: z.number().int(),
  name: z.string(),
  description: z.string(),
  appliesTo: z.array(z.string()).min(1),
  match: z.record(z.string(), z.unknown()),
  emits: z.array(z.object({ techniqueId: z.string(), subTechniqueId: z.string().nullable(), tactic: z.string(), confidence: z.number() })).min(1),
  evidenceFields: z.array(z.string()),
  state: stateSchema,
});
// commit / lastInCommit: absent from a writer older than issue 14 (each change its own commit).
const base = { ruleId: z.string(), position: decimal, commit: decimal.optional(), lastInCommit: z.boolean().optional(), actor: z.string().nullable(), at: isoDate };
const changeSchema = z.discriminatedUnion('kind', [
  z.object({ ...base, kind: z.literal('definition'), rule: ruleSchema }),
  z.object({ ...base, kind: z.literal('deleted') }),
  z.object({ ...base, kind: z.literal('state'), state: stateSchema, expired: z.boolean() }),
]);

/** What {@link changeFromJson} read: the change, or why there is none. */
export type ChangeFromJsonResult = { readonly change: RuleChange; readonly problem?: undefined } | { readonly change?: undefined; readonly problem: string };

/**
 * Reads back a change written by {@link changeJson} (after `JSON.parse`): dates
 * revived, the result deeply frozen. A change without `commit`/`lastInCommit`
 * (an older writer) is its own transaction. Refuses, with the reason, a value of
 * the wrong shape, a definition whose rule has another id, and a commit after
 * the change's position.
 *
 * @example
 * const { change, problem } = changeFromJson(JSON.parse(line));
 */
export function changeFromJson(json: unknown): ChangeFromJsonResult {
  const parsed = changeSchema.safeParse(json);
  if (!parsed.success) return { problem: `malformed change: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ').slice(0, 300)}` };
  const change = { ...parsed.data, commit: parsed.data.commit ?? parsed.data.position, lastInCommit: parsed.data.lastInCommit ?? true };
  if (change.kind === 'definition' && change.rule.ruleId !== change.ruleId) return { problem: 'the rule does not match its rule id' };
  if (BigInt(change.commit) > BigInt(change.position)) return { problem: 'commit is after position' };
  return { change: deepFreeze(change as RuleChange) };
}
