import { z } from 'zod';
import { RuleStoreError } from './errors.js';
import { INPUT_LIMITS, textProblem } from './inputLimits.js';

/** The three operational states a rule can be in. */
export const RULE_STATES = ['enabled', 'disabled', 'clipped'] as const;
export type RuleStateName = (typeof RULE_STATES)[number];

/**
 * A rule's operational state. The default (no row in `ttp_rule_state`) is
 * `enabled` with every other field null.
 */
export interface RuleState {
  readonly state: RuleStateName;
  /** Ceiling in [0, 1] on emitted confidence; applied only when `state` is `clipped`. */
  readonly confidenceMax: number | null;
  /** After this instant the state reverts to the default. */
  readonly expiresAt: Date | null;
  readonly reason: string | null;
  readonly setBy: string | null;
  readonly setAt: Date | null;
}

/** What a caller passes to `setState`: `setBy`/`setAt` are stamped by the store. */
export interface RuleStateInput {
  readonly state: RuleStateName;
  readonly confidenceMax?: number | null;
  readonly expiresAt?: Date | null;
  readonly reason?: string | null;
}

/** The default state: enabled, nothing else set. */
export const DEFAULT_RULE_STATE: RuleState = Object.freeze({
  state: 'enabled',
  confidenceMax: null,
  expiresAt: null,
  reason: null,
  setBy: null,
  setAt: null,
});

const text = (max: number) =>
  z.string().superRefine((value, ctx) => {
    const problem = textProblem(value, max);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const stateInputSchema = z
  .object({
    state: z.enum(RULE_STATES),
    confidenceMax: z.number().min(0).max(1).nullable().optional(),
    expiresAt: z
      .date()
      .refine((d) => !Number.isNaN(d.getTime()), 'is not a valid date')
      .refine((d) => Number.isNaN(d.getTime()) || d.getTime() <= INPUT_LIMITS.expiresAtMax.getTime(), `is after ${INPUT_LIMITS.expiresAtMax.toISOString()}, the latest instant the store keeps`)
      .nullable()
      .optional(),
    reason: text(INPUT_LIMITS.reasonLength).nullable().optional(),
  })
  .superRefine((value, ctx) => {
    // A clipped state without a ceiling would cap nothing (the CLI refuses `clip` without one too).
    if (value.state === 'clipped' && (value.confidenceMax === null || value.confidenceMax === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['confidenceMax'], message: 'is required when the state is clipped (the ceiling in [0, 1] on emitted confidence)' });
    }
  });

/**
 * Validates a state a caller wants to set. A string is shorthand for `{ state }`.
 * Throws `STATE_INVALID` naming the field when: the state is unknown;
 * `confidenceMax` is outside [0, 1], or missing for `clipped`; `expiresAt` is not
 * a valid Date, not after `now`, or after the last millisecond of year 9999;
 * `reason` is longer than 4,096 characters or contains U+0000.
 *
 * @example parseStateInput({ state: 'clipped', confidenceMax: 0.4, expiresAt: new Date(Date.now() + 3_600_000) })
 */
export function parseStateInput(input: RuleStateInput | RuleStateName, now: Date = new Date()): RuleStateInput {
  const value = typeof input === 'string' ? { state: input } : input;
  const result = stateInputSchema.safeParse(value);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${i.path.join('.') || 'state'}: ${i.message}`).join('; ');
    throw new RuleStoreError('STATE_INVALID', `invalid rule state: ${detail}`);
  }
  const expiresAt = result.data.expiresAt;
  if (expiresAt && expiresAt.getTime() <= now.getTime()) {
    throw new RuleStoreError(
      'STATE_INVALID',
      `invalid rule state: expiresAt: ${expiresAt.toISOString()} is not in the future (now is ${now.toISOString()}); to return a rule to the default state now, call clearState`,
    );
  }
  return result.data as RuleStateInput;
}

/**
 * Checks who is making a change (`setBy`, `updatedBy`): a non-empty string of at
 * most 256 characters without U+0000. Returns the problem, or null.
 *
 * @example actorProblem('alice') // null
 */
export function actorProblem(actor: unknown): string | null {
  if (typeof actor !== 'string' || actor.length === 0) return 'must be a non-empty string (who is making the change)';
  return textProblem(actor, INPUT_LIMITS.actorLength);
}

/** True when the state has an expiry that is not in the future. */
export function isExpired(state: RuleState, now: Date = new Date()): boolean {
  return state.expiresAt !== null && state.expiresAt.getTime() <= now.getTime();
}

/** An expired state is the default; anything else is returned as is. */
export function effectiveState(state: RuleState, now: Date = new Date()): RuleState {
  return isExpired(state, now) ? DEFAULT_RULE_STATE : state;
}

/**
 * Whether a rule in this state may fire at `now`: disabled rules never fire; an
 * expired state counts as the default (enabled).
 *
 * @example if (isActive(rule.state)) dispatch(rule)
 */
export function isActive(state: RuleState, now: Date = new Date()): boolean {
  return effectiveState(state, now).state !== 'disabled';
}

/**
 * Clamps a confidence down to the state's ceiling, only when the state is
 * `clipped` (and not expired). Never raises a confidence.
 *
 * @example applyCeiling(0.9, { ...state, state: 'clipped', confidenceMax: 0.5 }) // 0.5
 */
export function applyCeiling(confidence: number, state: RuleState, now: Date = new Date()): number {
  const effective = effectiveState(state, now);
  if (effective.state !== 'clipped' || effective.confidenceMax === null) return confidence;
  return Math.min(confidence, effective.confidenceMax);
}
