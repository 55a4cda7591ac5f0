import type { RuleRow } from './api.js';
import { el, humanDuration, timeEl } from './dom.js';

/** What a row's buttons ask for. */
export type RowAction = 'disable' | 'clip' | 'enable' | 'clear' | 'history';

/** Renders one rule as a table row; `withActions` adds the operator buttons. */
export function renderRow(row: RuleRow, withActions: boolean): HTMLTableRowElement {
  const tr = el('tr', { 'data-rule-id': row.rule_id, 'data-state': row.state }) as HTMLTableRowElement;
  if (row.error) tr.classList.add('invalid');
  const idLink = el('a', { href: '#', 'data-action': 'history', title: 'history' }, row.rule_id);
  const name = row.error
    ? el('td', { class: 'name' }, el('div', { class: 'error', title: row.error.message }, `⚠ invalid stored row: ${row.error.message}`))
    : el('td', { class: 'name', title: row.description ?? '' }, row.name ?? '');
  const kinds = el('td', { class: 'kinds' }, ...row.applies_to.map((kind) => el('span', {}, kind)));
  const state = el('td', { class: 'state' }, el('span', { class: `badge ${row.state}` }, row.state));
  const ceiling = el('td', { class: 'ceiling muted' }, row.state === 'clipped' && row.confidence_max !== null ? `≤ ${row.confidence_max}` : '');
  const expires = el('td', { class: 'expires muted' });
  if (row.expires_at) expires.append(el('span', { 'data-expires': row.expires_at, title: row.expires_at }, countdown(row.expires_at)));
  const reason = el('td', { class: 'reason' }, row.reason ?? '');
  const setBy = el('td', { class: 'setby muted' });
  if (row.set_by) setBy.append(row.set_by, el('br'), row.set_at ? timeEl(row.set_at) : '');
  tr.append(el('td', { class: 'id' }, idLink), name, kinds, state, ceiling, expires, reason, setBy);
  if (withActions) {
    const button = (action: RowAction, label: string): HTMLElement => el('button', { type: 'button', 'data-action': action }, label);
    tr.append(el('td', { class: 'actions' }, button('disable', 'Disable…'), button('clip', 'Clip…'), button('enable', 'Enable…'), button('clear', 'Clear')));
  }
  return tr;
}

/** `in 9m 58s`, or `expired` once past. */
export function countdown(iso: string, now = Date.now()): string {
  const left = Date.parse(iso) - now;
  return left > 0 ? `in ${humanDuration(left)}` : 'expired';
}

/** Updates every countdown on the page. */
export function tickCountdowns(root: ParentNode): void {
  const now = Date.now();
  for (const span of root.querySelectorAll<HTMLElement>('[data-expires]')) span.textContent = countdown(span.dataset['expires']!, now);
}

/** True when the row matches the filter text (id, name, kinds, state, reason, who). */
export function matchesFilter(row: RuleRow, filter: string): boolean {
  if (filter === '') return true;
  const haystack = [row.rule_id, row.name, row.applies_to.join(' '), row.state, row.reason, row.set_by, row.error ? 'invalid' : ''].join(' ').toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .every((word) => haystack.includes(word));
}
