/** The console's view of the HTTP API (snake_case, as served). */

export interface RuleRow {
  rule_id: string;
  rule_version: number;
  name: string | null;
  description: string | null;
  applies_to: string[];
  state: 'enabled' | 'disabled' | 'clipped';
  confidence_max: number | null;
  expires_at: string | null;
  reason: string | null;
  set_by: string | null;
  set_at: string | null;
  updated_at: string;
  updated_by: string;
  error: { code: string; message: string } | null;
}

export interface HistoryItem {
  position: string;
  at: string;
  actor: string | null;
  kind: 'definition' | 'deleted' | 'state';
  rule_version: number | null;
  state: { state: string; confidence_max: number | null; expires_at: string | null; reason: string | null } | null;
  expired: boolean;
}

export interface Session {
  name: string;
  role: 'reader' | 'operator' | 'author';
  read_only: boolean;
}

/** An answer other than 2xx: the status and the server's `detail`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(detail);
  }
}

/** Calls the API with the session cookie; writes send JSON (the server refuses cookie writes without it). */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (method !== 'GET') {
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
    init.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const value = text ? (JSON.parse(text) as unknown) : null;
  if (!response.ok) throw new ApiError(response.status, (value as { detail?: string } | null)?.detail ?? response.statusText);
  return value as T;
}

export const ruleUrl = (ruleId: string): string => `/api/v1/ttp/rules/${encodeURIComponent(ruleId)}`;
