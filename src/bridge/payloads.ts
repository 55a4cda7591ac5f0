import { z } from 'zod';
import type { CompiledRule } from '../domain/compileRule.js';
import type { RuleChange } from '../domain/ruleChange.js';
import { changeJson } from '../domain/changeJson.js';
import { RULE_STATES, type RuleState } from '../domain/ruleState.js';
import { parseSubject } from './subjects.js';

/**
 * The JSON published for one change. The seed's fields come first, unchanged
 * (definition `{rule_id, rule_version}`, deletion `{rule_id, deleted: true}`,
 * state `{rule_id, state, set_by}`, expiry revert `{rule_id, auto_revert: true}`),
 * then `position` and `prev_position` (decimal strings: the change's log position
 * and that of the previous change this bridge published, so a subscriber can tell
 * a missed message from a hole in the positions), `commit` and `last_in_commit`
 * (the change's transaction, see `RuleChange.commit`), then `change`: the whole
 * {@link RuleChange} as `ttp-rules watch --json` prints it (dates as ISO strings),
 * so a bus-fed engine needs no database read per change. A change too large for
 * the server's `max_payload` is sent without `change` and with `truncated: true`.
 */
export interface BusPayload {
  readonly rule_id: string;
  readonly rule_version?: number;
  readonly deleted?: true;
  readonly state?: string;
  readonly set_by?: string | null;
  readonly auto_revert?: true;
  readonly position: string;
  readonly prev_position: string;
  /** The change's transaction (`RuleChange.commit`): equal for every message of one transaction. */
  readonly commit: string;
  /** Whether this is the last message of its transaction. */
  readonly last_in_commit: boolean;
  readonly change?: Record<string, unknown>;
  readonly truncated?: true;
}

/** The seed-compatible part of a payload. */
function seedFields(change: RuleChange): Pick<BusPayload, 'rule_id' | 'rule_version' | 'deleted' | 'state' | 'set_by' | 'auto_revert'> {
  if (change.kind === 'definition') return { rule_id: change.ruleId, rule_version: change.rule.ruleVersion };
  if (change.kind === 'deleted') return { rule_id: change.ruleId, deleted: true };
  if (change.expired) return { rule_id: change.ruleId, auto_revert: true };
  return { rule_id: change.ruleId, state: change.state.state, set_by: change.state.setBy ?? change.actor };
}

/**
 * Builds the payload of `change`, published after `prevPosition`.
 *
 * @example busPayload(change, '41') // { rule_id, rule_version, position: '42', prev_position: '41', change: {…} }
 */
export function busPayload(change: RuleChange, prevPosition: string, options: { withChange?: boolean } = {}): BusPayload {
  const head = { ...seedFields(change), position: change.position, prev_position: prevPosition, commit: change.commit, last_in_commit: change.lastInCommit };
  return options.withChange === false ? { ...head, truncated: true } : { ...head, change: changeJson(change) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The payload as UTF-8 JSON bytes. */
export function encodePayload(payload: BusPayload): Uint8Array {
  return encoder.encode(JSON.stringify(payload));
}

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
// commit / lastInCommit: absent from a bridge older than issue 14 (each change its own commit).
const base = { ruleId: z.string(), position: decimal, commit: decimal.optional(), lastInCommit: z.boolean().optional(), actor: z.string().nullable(), at: isoDate };
const changeSchema = z.discriminatedUnion('kind', [
  z.object({ ...base, kind: z.literal('definition'), rule: ruleSchema }),
  z.object({ ...base, kind: z.literal('deleted') }),
  z.object({ ...base, kind: z.literal('state'), state: stateSchema, expired: z.boolean() }),
]);
const envelopeSchema = z.object({ rule_id: z.string(), position: decimal, prev_position: decimal, change: z.unknown().optional() });

/** One message read from the bus: where it sits in the log, and the change when it is usable. */
export interface BusMessage {
  readonly position: bigint;
  readonly prevPosition: bigint;
  /** Null when the message carries no usable change (truncated, malformed, or on the wrong subject). */
  readonly change: RuleChange | null;
  /** Why `change` is null. */
  readonly problem: string | null;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof Date) && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads one bus message. Returns null when not even its position can be read;
 * otherwise the positions, and the change when the message carries a valid one
 * for the subject it came on (a change on another rule's or kind's subject is
 * refused). The engine treats a message without a usable change as a gap.
 *
 * @example
 * nc.subscribe('ttp.rule.>', { callback: (_e, msg) => {
 *   const message = decodeBusMessage(msg.subject, msg.data, 'ttp.rule');
 *   if (message?.change) apply(message.change);
 * } });
 */
export function decodeBusMessage(subject: string, data: Uint8Array, prefix: string): BusMessage | null {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) return null;
  const position = BigInt(envelope.data.position);
  const prevPosition = BigInt(envelope.data.prev_position);
  const without = (problem: string): BusMessage => ({ position, prevPosition, change: null, problem });
  if (envelope.data.change === undefined) return without('the message carries no change (truncated)');
  const parsed = changeSchema.safeParse(envelope.data.change);
  if (!parsed.success) return without(`malformed change: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ').slice(0, 300)}`);
  const change = { ...parsed.data, commit: parsed.data.commit ?? parsed.data.position, lastInCommit: parsed.data.lastInCommit ?? true };
  const target = parseSubject(subject, prefix);
  const expectedKind = change.kind === 'state' ? 'state' : 'reloaded';
  if (!target || target.ruleId !== change.ruleId || target.kind !== expectedKind || change.ruleId !== envelope.data.rule_id || change.position !== envelope.data.position) {
    return without(`the change does not belong on subject ${subject}`);
  }
  if (change.kind === 'definition' && change.rule.ruleId !== change.ruleId) return without('the rule does not match its rule id');
  if (position <= prevPosition) return without('prev_position is not below position');
  if (BigInt(change.commit) > position) return without('commit is after position');
  return { position, prevPosition, change: deepFreeze(change as RuleChange & { rule?: CompiledRule; state?: RuleState }) as RuleChange, problem: null };
}
