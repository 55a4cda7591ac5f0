import { api, ApiError, ruleUrl, type HistoryItem, type RuleRow, type Session } from './api.js';
import { followChanges } from './changeStream.js';
import { byId, el, timeEl } from './dom.js';
import { matchesFilter, renderRow, tickCountdowns, type RowAction } from './rulesTable.js';

const rows = new Map<string, RuleRow>();
const tbody = document.querySelector<HTMLTableSectionElement>('#rules tbody')!;
let session: Session | null = null;
let loaded = false;
const pending = new Set<string>();

const canOperate = (): boolean => session !== null && session.role !== 'reader';

function notice(text: string | null): void {
  const node = byId('notice');
  node.hidden = text === null;
  node.textContent = text ?? '';
}

function place(row: RuleRow, highlight: boolean): void {
  const fresh = renderRow(row, canOperate());
  fresh.hidden = !matchesFilter(row, byId<HTMLInputElement>('filter').value);
  const old = tbody.querySelector<HTMLTableRowElement>(`tr[data-rule-id="${CSS.escape(row.rule_id)}"]`);
  if (old) old.replaceWith(fresh);
  else {
    // Keep the table sorted by rule id, as the API lists it.
    const next = [...tbody.rows].find((tr) => (tr.dataset['ruleId'] ?? '') > row.rule_id);
    tbody.insertBefore(fresh, next ?? null);
  }
  if (highlight) fresh.classList.add('changed');
  updateCount();
}

function updateCount(): void {
  const shown = [...tbody.rows].filter((tr) => !tr.hidden).length;
  byId('count').textContent = `${shown} of ${rows.size} rules`;
}

async function loadAll(): Promise<void> {
  const list = await api<RuleRow[]>('GET', '/api/v1/ttp/rules');
  rows.clear();
  tbody.replaceChildren();
  for (const row of list) {
    rows.set(row.rule_id, row);
    place(row, false);
  }
  byId('rules').hidden = false;
  loaded = true;
  for (const ruleId of pending) void refresh(ruleId);
  pending.clear();
}

/** Re-reads one rule after a change (the row then shows the database's current truth). */
async function refresh(ruleId: string): Promise<void> {
  if (!loaded) {
    pending.add(ruleId);
    return;
  }
  try {
    const row = await api<RuleRow>('GET', ruleUrl(ruleId));
    rows.set(ruleId, row);
    place(row, true);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    rows.delete(ruleId);
    tbody.querySelector(`tr[data-rule-id="${CSS.escape(ruleId)}"]`)?.remove();
    updateCount();
  }
}

function setConnection(live: boolean, position?: string): void {
  const conn = byId('conn');
  conn.className = `conn ${live ? 'live' : 'down'}`;
  conn.querySelector('span')!.textContent = live ? `live · position ${position}` : 'reconnecting…';
}

async function openHistory(ruleId: string): Promise<void> {
  const drawer = byId('drawer');
  byId('drawer-title').textContent = ruleId;
  const row = rows.get(ruleId);
  const errorBox = byId('drawer-error');
  errorBox.hidden = !row?.error;
  errorBox.textContent = row?.error?.message ?? '';
  const list = byId('drawer-list');
  list.replaceChildren(el('li', { class: 'muted' }, 'loading…'));
  drawer.hidden = false;
  const items = await api<HistoryItem[]>('GET', `${ruleUrl(ruleId)}/history?limit=100`);
  list.replaceChildren(
    ...items.map((item) => {
      let what: string = item.kind;
      if (item.kind === 'definition') what = `definition v${item.rule_version ?? '?'}`;
      if (item.state) {
        what = `state ${item.state.state}${item.state.confidence_max !== null ? ` ≤ ${item.state.confidence_max}` : ''}${item.expired ? ' (expired, reverted)' : ''}`;
        if (item.state.expires_at) what += ` until ${new Date(item.state.expires_at).toLocaleString()}`;
        if (item.state.reason) what += ` — “${item.state.reason}”`;
      }
      return el('li', {}, el('span', { class: 'pos' }, `#${item.position}`), what, el('br'), el('span', { class: 'muted' }, `${item.actor ?? '?'} · `, timeEl(item.at)));
    }),
  );
  if (items.length === 0) list.replaceChildren(el('li', { class: 'muted' }, 'no history retained'));
}

function openAction(ruleId: string, action: Exclude<RowAction, 'history' | 'clear'>): void {
  const dialog = byId<HTMLDialogElement>('action');
  byId('action-title').textContent = `${action === 'disable' ? 'Disable' : action === 'clip' ? 'Clip' : 'Enable'} ${ruleId}`;
  byId('ceiling-row').hidden = action !== 'clip';
  byId('action-error').textContent = '';
  byId<HTMLInputElement>('reason').value = '';
  dialog.dataset['ruleId'] = ruleId;
  dialog.dataset['action'] = action;
  dialog.showModal();
}

async function submitAction(): Promise<void> {
  const dialog = byId<HTMLDialogElement>('action');
  const ruleId = dialog.dataset['ruleId']!;
  const action = dialog.dataset['action']!;
  const minutes = Number(byId<HTMLSelectElement>('for').value);
  const reason = byId<HTMLInputElement>('reason').value.trim();
  const body: Record<string, unknown> = { state: action === 'disable' ? 'disabled' : action === 'clip' ? 'clipped' : 'enabled' };
  if (action === 'clip') body['confidence_max'] = Number(byId<HTMLInputElement>('ceiling').value);
  if (minutes > 0) body['expires_at'] = new Date(Date.now() + minutes * 60_000).toISOString();
  if (reason) body['reason'] = reason;
  try {
    await api('POST', `${ruleUrl(ruleId)}/state`, body);
    dialog.close();
  } catch (error) {
    byId('action-error').textContent = (error as Error).message;
  }
}

function wire(): void {
  tbody.addEventListener('click', (event) => {
    const target = (event.target as HTMLElement).closest<HTMLElement>('[data-action]');
    const ruleId = target?.closest('tr')?.dataset['ruleId'];
    if (!target || !ruleId) return;
    event.preventDefault();
    const action = target.dataset['action'] as RowAction;
    if (action === 'history') void openHistory(ruleId);
    else if (action === 'clear') void api('DELETE', `${ruleUrl(ruleId)}/state`).catch((error: Error) => notice(error.message));
    else openAction(ruleId, action);
  });
  byId('action-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void submitAction();
  });
  byId('action-cancel').addEventListener('click', () => byId<HTMLDialogElement>('action').close());
  byId('drawer-close').addEventListener('click', () => (byId('drawer').hidden = true));
  byId('filter').addEventListener('input', () => {
    const filter = byId<HTMLInputElement>('filter').value;
    for (const tr of tbody.rows) tr.hidden = !matchesFilter(rows.get(tr.dataset['ruleId'] ?? '')!, filter);
    updateCount();
  });
  byId('logout').addEventListener('click', () => void api('DELETE', '/api/v1/session').finally(() => location.reload()));
  setInterval(() => tickCountdowns(tbody), 1000);
}

async function start(): Promise<void> {
  session = await api<Session>('GET', '/api/v1/session');
  byId('who').textContent = `${session.name} (${session.role}${session.read_only ? ', read-only server' : ''})`;
  byId('logout').hidden = session.name === 'anonymous';
  byId('rules').classList.toggle('readonly', !canOperate());
  if (!canOperate()) document.querySelector('.actions-head')?.remove();
  wire();
  let first = true;
  followChanges({
    change: (ruleId, _kind, position) => {
      if (position !== null) setConnection(true, position);
      void refresh(ruleId);
    },
    live: (position) => {
      setConnection(true, position);
      if (first) void loadAll().catch((error: Error) => notice(error.message));
      first = false;
    },
    down: () => setConnection(false),
    truncated: () => void loadAll(),
  });
}

async function login(token: string): Promise<void> {
  await api('POST', '/api/v1/session', { token });
}

async function main(): Promise<void> {
  const hashToken = /^#token=(.+)$/.exec(location.hash)?.[1];
  if (hashToken) {
    history.replaceState(null, '', location.pathname); // the one-time token leaves the address bar at once
    await login(decodeURIComponent(hashToken)).catch((error: Error) => notice(`login failed: ${error.message}`));
  }
  try {
    await start();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    const form = byId<HTMLFormElement>('login');
    form.hidden = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      login(byId<HTMLInputElement>('token').value.trim()).then(
        () => location.reload(),
        (failure: Error) => (byId('login-error').textContent = failure.message),
      );
    });
  }
}

void main();
