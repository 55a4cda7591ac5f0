import { z } from 'zod';
import type { RuleChange } from '../domain/ruleChange.js';
import { changeFromJson } from '../domain/changeFromJson.js';
import { changeJson } from '../domain/changeJson.js';
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
  const { change, problem } = changeFromJson(envelope.data.change);
  if (!change) return without(problem);
  const target = parseSubject(subject, prefix);
  const expectedKind = change.kind === 'state' ? 'state' : 'reloaded';
  if (!target || target.ruleId !== change.ruleId || target.kind !== expectedKind || change.ruleId !== envelope.data.rule_id || change.position !== envelope.data.position) {
    return without(`the change does not belong on subject ${subject}`);
  }
  if (position <= prevPosition) return without('prev_position is not below position');
  return { position, prevPosition, change, problem: null };
}
