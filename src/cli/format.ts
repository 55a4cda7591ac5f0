import { relative, isAbsolute } from 'node:path';
import type { HistoryEntry, RuleChange, RuleListing, RuleState } from '../index.js';
import { errorJson } from '../domain/changeJson.js';
import { formatDuration } from './duration.js';

export { changeJson, errorJson } from '../domain/changeJson.js';

/** Renders rows as a left-aligned table with a header; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A state in a few words: `enabled`, `disabled until …`, `clipped ≤ 0.5 until …`. */
export function describeState(state: RuleState, options: { setBy?: boolean; now?: Date } = {}): string {
  const now = options.now ?? new Date();
  let text: string = state.state;
  if (state.state === 'clipped' && state.confidenceMax !== null) text += ` <= ${state.confidenceMax}`;
  if (state.expiresAt) text += ` until ${state.expiresAt.toISOString()} (in ${formatDuration(state.expiresAt.getTime() - now.getTime())})`;
  if (state.reason) text += `, reason ${JSON.stringify(state.reason)}`;
  if (state.setBy && options.setBy !== false) text += `, set by ${state.setBy}`;
  return text;
}

/** The short state for table cells: `enabled`, `disabled`, `clipped<=0.5`. */
export function stateCell(state: RuleState): string {
  return state.state === 'clipped' && state.confidenceMax !== null ? `clipped<=${state.confidenceMax}` : state.state;
}

/** A stored path relative to the working directory when it lies below it. */
export function displaySourcePath(path: string): string {
  if (!path || !isAbsolute(path)) return path || '-';
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** `list --json` / `show --json`: one stored rule and its state. */
export function listingJson(listing: RuleListing): Record<string, unknown> {
  return {
    ruleId: listing.ruleId,
    ruleVersion: listing.ruleVersion,
    sourcePath: listing.sourcePath,
    updatedAt: listing.updatedAt,
    updatedBy: listing.updatedBy,
    state: listing.state,
    error: listing.error ? errorJson(listing.error) : null,
  };
}

/** One readable line per change: `position  at  rule_id  what  by actor`. */
export function changeLine(change: RuleChange): string {
  let what: string;
  if (change.kind === 'definition') {
    what = `definition v${change.rule.ruleVersion} ${JSON.stringify(change.rule.name)}`;
  } else if (change.kind === 'deleted') {
    what = 'deleted';
  } else {
    const state = describeState(change.state, { setBy: false });
    what = change.expired ? `state ${state} (expired state reverted)` : `state ${state}`;
  }
  return `${change.position.padStart(6)}  ${change.at.toISOString()}  ${change.ruleId}  ${what}${change.actor ? `  by ${change.actor}` : ''}`;
}

/** `history --json`: one log entry. */
export function historyJson(entry: HistoryEntry): Record<string, unknown> {
  return {
    position: entry.position,
    at: entry.at,
    actor: entry.actor,
    loginRole: entry.loginRole,
    ruleId: entry.ruleId,
    kind: entry.kind,
    ruleVersion: entry.ruleVersion,
    state: entry.state,
    expired: entry.expired,
  };
}

/** The detail cell of a history row. */
export function historyDetail(entry: HistoryEntry): string {
  if (entry.kind === 'definition') return entry.ruleVersion !== null ? `v${entry.ruleVersion}` : '';
  if (entry.kind === 'deleted') return '';
  if (!entry.state) return '';
  let text = stateCell(entry.state);
  if (entry.expired) text += ' (expired state reverted)';
  if (entry.state.expiresAt) text += ` until ${entry.state.expiresAt.toISOString()}`;
  if (entry.state.reason) text += ` ${JSON.stringify(entry.state.reason)}`;
  return text;
}
