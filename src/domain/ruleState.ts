import { z } from 'zod';
import { RuleStoreError } from './errors.js';

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

const stateInputSchema = z.object({
  state: z.enum(RULE_STATES),
  confidenceMax: z.number().min(0).max(1).nullable().optional(),
  expiresAt: z.date().refine((d) => !Number.isNaN(d.getTime()), 'is not a valid date').nullable().optional(),
  reason: z.string().max(4096).nullable().optional(),
}).refine((v) => v.state !== 'clipped' || (v.confidenceMax !== undefined && v.confidenceMax !== null), {
  path: ['confidenceMax'],
  message: 'is required for clipped (the ceiling on emitted confidence)',
});

/**
 * Validates a state a caller wants to set. A string is shorthand for `{ state }`.
 * Throws `STATE_INVALID` naming the field.
 */
export function parseStateInput(input: RuleStateInput | RuleStateName): RuleStateInput {
  const value = typeof input === 'string' ? { state: input } : input;
  const result = stateInputSchema.safeParse(value);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${i.path.join('.') || 'state'}: ${i.message}`).join('; ');
    throw new RuleStoreError('STATE_INVALID', `invalid rule state: ${detail}`);
  }
  return result.data as RuleStateInput;
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
