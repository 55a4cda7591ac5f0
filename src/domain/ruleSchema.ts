import { z } from 'zod';

/**
 * A rule id is a single bus-topic segment (SPEC §2): non-empty, at most 128
 * characters, no `.`, `*`, `>` (NATS separators and wildcards), and no character
 * of the Unicode White_Space property, the Cc (control) or Cf (format: bidi
 * controls such as U+202E, zero-width U+200B–U+200D, U+2060, BOM U+FEFF, …)
 * categories, so that no id has an invisible look-alike. The database CHECK
 * (`ttp_rule_id_valid`, migration 0005; SQLite schema version 3) refuses exactly
 * the same code points: test/security/ruleIdParity.test.ts compares them all.
 */
export const RULE_ID_PATTERN = /^[^.*>\s\p{White_Space}\p{Cc}\p{Cf}]{1,128}$/u;

/**
 * Orders anything with a `ruleId` by its id, code unit by code unit (the order of
 * every listing, snapshot and index the store hands out).
 *
 * @example rules.sort(byRuleId)
 */
export const byRuleId = (a: { readonly ruleId: string }, b: { readonly ruleId: string }): number => (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0);

/** Why `id` is not a valid rule id, or null when it is. */
export function ruleIdProblem(id: unknown): string | null {
  if (typeof id !== 'string') return 'must be a string';
  if (id.length === 0) return 'must not be empty';
  if (id.length > 128) return `must be at most 128 characters (got ${id.length})`;
  if (!RULE_ID_PATTERN.test(id)) return "must be one bus-topic segment: no '.', '*', '>', whitespace, control or format (bidi, zero-width) characters";
  return null;
}

/** True when `id` can be used as a rule id (and as a NATS subject token). */
export function isValidRuleId(id: unknown): id is string {
  return ruleIdProblem(id) === null;
}

const ruleId = z.string().superRefine((value, ctx) => {
  const problem = ruleIdProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const nonEmptyString = z.string().trim().min(1, 'must not be empty');

const emitSchema = z.object({
  technique_id: nonEmptyString,
  sub_technique_id: z
    .string()
    .nullish()
    .transform((v) => (v ? v : null)),
  tactic: nonEmptyString,
  confidence: z.number().finite().min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]'),
});

const mapping = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'must be a mapping',
);

const ruleShape = {
  rule_id: ruleId,
  rule_version: z.number().int('must be an integer').min(0).max(2_147_483_647),
  name: nonEmptyString,
  description: z
    .string()
    .nullish()
    .transform((v) => v ?? ''),
  applies_to: z.array(nonEmptyString).min(1, 'must list at least one event kind'),
  match: mapping,
  emits: z.array(emitSchema).min(1, 'must list at least one technique (a rule that emits nothing is a mistake)'),
  evidence_fields: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
};

/** The rule document schema (SPEC §2), tolerant of unknown top-level keys like the seed. */
export const ruleDocumentSchema = z.object(ruleShape);
/** The same schema, refusing unknown top-level keys (`strict` mode). */
export const strictRuleDocumentSchema = z.strictObject(ruleShape);

/** A validated rule document, snake_case as in YAML. */
export type RuleDocument = z.output<typeof ruleDocumentSchema>;
