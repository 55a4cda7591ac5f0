import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { createRuleServer, openRuleStore } from '../../src/index.js';
import { parseTokensFile } from '../../src/server/apiTokens.js';
import { BACKENDS } from '../helpers/backends.js';
import { openIdleTransaction } from '../helpers/idleSession.js';
import { ruleYaml } from '../helpers/rules.js';
import { createServerFixture, type ServerFixture } from './serverFixture.js';

const CSP = /default-src 'none'; script-src 'self'/;

async function call(fixture: ServerFixture, method: string, path: string, options: { headers?: Record<string, string>; body?: string | object } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${fixture.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  assert.match(response.headers.get('content-security-policy') ?? '', CSP, `CSP on ${method} ${path}`);
  return { status: response.status, json, text, headers: response.headers };
}

for (const backend of BACKENDS.filter((b) => b !== 'postgres-poll')) {
  describe(`HTTP API (${backend})`, () => {
    let f: ServerFixture;
    let ruleId: string;
    before(async () => {
      f = await createServerFixture(backend, 'server_api');
      ruleId = f.ruleIds[0]!;
    });
    after(() => f.teardown());

    it('GET /api/v1/ttp/rules: 401 without or with a bad token, the DECNET rows sorted by rule_id for a reader', async () => {
      assert.equal((await call(f, 'GET', '/api/v1/ttp/rules')).status, 401);
      assert.equal((await call(f, 'GET', '/api/v1/ttp/rules', { headers: { authorization: 'Bearer nope' } })).status, 401);
      assert.equal((await call(f, 'GET', '/api/v1/ttp/rules', { headers: { authorization: 'Basic abc' } })).status, 401);
      const list = await call(f, 'GET', '/api/v1/ttp/rules', { headers: f.bearer('reader') });
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.map((r: any) => r.rule_id), f.ruleIds);
      for (const key of ['rule_id', 'rule_version', 'name', 'description', 'state', 'confidence_max', 'expires_at', 'reason', 'set_by', 'set_at']) assert.ok(key in list.json[0], key);
      assert.equal(list.json[0].state, 'enabled');
    });

    it('GET /api/v1/ttp/rules/{id}: the rule with its YAML; 404 not stored; 400 for an impossible id', async () => {
      const one = await call(f, 'GET', `/api/v1/ttp/rules/${ruleId}`, { headers: f.bearer('reader') });
      assert.equal(one.status, 200);
      assert.match(one.json.yaml, new RegExp(`rule_id: ${ruleId}`));
      assert.equal(one.json.error, null);
      assert.equal((await call(f, 'GET', '/api/v1/ttp/rules/NOPE_missing', { headers: f.bearer('reader') })).status, 404);
      assert.equal((await call(f, 'GET', '/api/v1/ttp/rules/a.b', { headers: f.bearer('reader') })).status, 400);
      assert.equal((await call(f, 'GET', '/api/v1/ttp/rules/a%00b', { headers: f.bearer('reader') })).status, 400);
    });

    it('POST …/state: 403 for a reader; an operator sets it, it persists, set_by is the token name, every subscriber sees it', async () => {
      const body = { state: 'disabled', expires_at: new Date(Date.now() + 600_000).toISOString(), reason: 'pentest' };
      const denied = await call(f, 'POST', `/api/v1/ttp/rules/${ruleId}/state`, { headers: f.bearer('reader'), body });
      assert.equal(denied.status, 403);
      assert.equal(denied.json.code, 'FORBIDDEN');
      const seen = new Promise<any>((resolve) => {
        const sub = f.store.changes$.subscribe((c) => {
          if (c.kind === 'state' && c.ruleId === ruleId) {
            sub.unsubscribe();
            resolve(c);
          }
        });
      });
      const set = await call(f, 'POST', `/api/v1/ttp/rules/${ruleId}/state`, { headers: f.bearer('operator'), body });
      assert.equal(set.status, 200, set.text);
      assert.equal(set.json.state, 'disabled');
      assert.equal(set.json.set_by, 'operator-tester');
      assert.equal(set.json.reason, 'pentest');
      assert.ok(Date.parse(set.json.set_at) > 0);
      assert.equal((await f.store.getState(ruleId)).state, 'disabled');
      const change = await seen;
      assert.equal(change.actor, 'operator-tester');
      const clip = await call(f, 'POST', `/api/v1/ttp/rules/${ruleId}/state`, { headers: f.bearer('author'), body: { state: 'clipped', confidence_max: 0.4 } });
      assert.equal(clip.status, 200);
      assert.equal(clip.json.confidence_max, 0.4);
      assert.equal((await call(f, 'POST', '/api/v1/ttp/rules/NOPE_missing/state', { headers: f.bearer('operator'), body })).status, 404);
    });

    it('POST …/state refuses malformed and hostile bodies with 400 (413 when huge, 415 when not JSON), changing nothing', async () => {
      const before = await f.store.getState(ruleId);
      const path = `/api/v1/ttp/rules/${ruleId}/state`;
      const headers = f.bearer('operator');
      const cases: [string | object, number, Record<string, string>?][] = [
        ['{"state": "disabled"', 400],
        ['', 400],
        ['[]', 400],
        ['null', 400],
        [{ state: 5 }, 400],
        [{ state: 'off' }, 400],
        [{ state: 'clipped', confidence_max: '0.5' }, 400],
        [{ state: 'clipped', confidence_max: 2 }, 400],
        [{ state: 'disabled', expires_at: 'tomorrow' }, 400],
        [{ state: 'disabled', reason: 'a\u0000b' }, 400],
        [{ state: 'disabled', reason: 'x'.repeat(5000) }, 400],
        [{ state: 'disabled', extra: 1 }, 400],
        ['{"state":"disabled","__proto__":{"admin":true}}', 400],
        ['{"state":"disabled","constructor":{"prototype":{"admin":true}}}', 400],
        [JSON.stringify({ state: 'disabled', reason: 'x'.repeat(2 * 1024 * 1024) }), 413],
        ['state=disabled', 415, { 'content-type': 'application/x-www-form-urlencoded' }],
        ['{"state":"disabled"}', 415, { 'content-type': 'text/plain' }],
      ];
      for (const [body, status, extra] of cases) {
        const res = await call(f, 'POST', path, { headers: { ...headers, ...extra }, body });
        assert.equal(res.status, status, `${String(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 80)} -> ${res.text.slice(0, 200)}`);
        assert.ok(res.json?.detail, 'a detail');
      }
      assert.equal(({} as any).admin, undefined, 'no prototype pollution');
      assert.deepEqual(await f.store.getState(ruleId), before);
    });

    it('DELETE …/state: back to the default; 404 not stored; 403 for a reader', async () => {
      assert.equal((await call(f, 'DELETE', `/api/v1/ttp/rules/${ruleId}/state`, { headers: f.bearer('reader') })).status, 403);
      const cleared = await call(f, 'DELETE', `/api/v1/ttp/rules/${ruleId}/state`, { headers: f.bearer('operator') });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.json.state, 'enabled');
      assert.equal((await f.store.getState(ruleId)).state, 'enabled');
      assert.equal((await call(f, 'DELETE', '/api/v1/ttp/rules/NOPE_missing/state', { headers: f.bearer('operator') })).status, 404);
    });

    it('PUT /api/v1/ttp/rules/{id}: authors only; 201 new, 200 changed; 400 with the issues; YAML or {yaml}', async () => {
      const path = '/api/v1/ttp/rules/API_new_rule';
      assert.equal((await call(f, 'PUT', path, { headers: f.bearer('operator'), body: { yaml: ruleYaml('API_new_rule') } })).status, 403);
      const created = await call(f, 'PUT', path, { headers: f.bearer('author'), body: { yaml: ruleYaml('API_new_rule') } });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.json, { rule_id: 'API_new_rule', rule_version: 1, changed: true });
      const updated = await call(f, 'PUT', path, { headers: f.bearer('author', { 'content-type': 'application/yaml' }), body: ruleYaml('API_new_rule', { version: 2 }) });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.json.rule_version, 2);
      const listed = await call(f, 'GET', path, { headers: f.bearer('reader') });
      assert.equal(listed.json.updated_by, 'author-tester');
      const invalid = await call(f, 'PUT', path, { headers: f.bearer('author'), body: { yaml: ruleYaml('API_new_rule').replace(/confidence: .*/, 'confidence: 7') } });
      assert.equal(invalid.status, 400);
      assert.ok(invalid.json.issues.some((i: any) => /confidence/.test(i.path)), invalid.text);
      const mismatch = await call(f, 'PUT', path, { headers: f.bearer('author'), body: { yaml: ruleYaml('OTHER_rule') } });
      assert.equal(mismatch.status, 400);
      assert.equal((await call(f, 'PUT', path, { headers: f.bearer('author'), body: { yaml: 42 } })).status, 400);
      assert.equal((await call(f, 'PUT', path, { headers: f.bearer('author'), body: { yaml: 'rule_id: [' } })).status, 400);
    });

    it('DELETE /api/v1/ttp/rules/{id}: authors only; 404 once gone', async () => {
      const path = '/api/v1/ttp/rules/API_new_rule';
      assert.equal((await call(f, 'DELETE', path, { headers: f.bearer('operator') })).status, 403);
      assert.equal((await call(f, 'DELETE', path, { headers: f.bearer('author') })).status, 200);
      assert.equal((await call(f, 'DELETE', path, { headers: f.bearer('author') })).status, 404);
      assert.equal((await call(f, 'GET', path, { headers: f.bearer('reader') })).status, 404);
    });

    it('GET …/history: newest first with the actors; 404 never stored; 400 bad limit', async () => {
      const history = await call(f, 'GET', `/api/v1/ttp/rules/${ruleId}/history?limit=10`, { headers: f.bearer('reader') });
      assert.equal(history.status, 200);
      assert.equal(history.json[0].kind, 'state');
      assert.equal(history.json[0].actor, 'operator-tester');
      assert.ok(history.json.some((e: any) => e.kind === 'definition' && e.actor === 'fixture'));
      assert.equal((await call(f, 'GET', '/api/v1/ttp/rules/NOPE_never/history', { headers: f.bearer('reader') })).status, 404);
      assert.equal((await call(f, 'GET', `/api/v1/ttp/rules/${ruleId}/history?limit=0`, { headers: f.bearer('reader') })).status, 400);
      assert.equal((await call(f, 'GET', `/api/v1/ttp/rules/${ruleId}/history?limit=abc`, { headers: f.bearer('reader') })).status, 400);
    });

    it('GET /api/v1/ttp/snapshot?at=: what was in force at a position or a time; 400 bad at; 401 without a token; 410 before the retained log', async () => {
      const other = f.ruleIds[1]!;
      await f.store.setState(other, { state: 'disabled', reason: 'then' }, 'past-tester');
      // The position of that state change, from the log (the store's own watermark may not have moved yet).
      const [then] = await f.store.history({ ruleId: other, limit: 1 });
      const before = then!.position;
      const beforeTime = then!.at; // the database's time of that event
      // Instants are judged at millisecond resolution: the next change must carry a later one.
      while (Date.now() <= beforeTime.getTime() + 1) await new Promise((resolve) => setImmediate(resolve));
      await f.store.setState(other, { state: 'clipped', confidenceMax: 0.2, reason: 'now' }, 'past-tester');
      const past = await call(f, 'GET', `/api/v1/ttp/snapshot?at=${before}`, { headers: f.bearer('reader') });
      assert.equal(past.status, 200, past.text);
      assert.equal(past.json.position, before);
      const row = past.json.rules.find((r: any) => r.rule_id === other);
      assert.deepEqual([row.state, row.reason, row.set_by], ['disabled', 'then', 'past-tester']);
      const byTime = await call(f, 'GET', `/api/v1/ttp/snapshot?at=${encodeURIComponent(beforeTime.toISOString())}`, { headers: f.bearer('reader') });
      assert.equal(byTime.status, 200, byTime.text);
      assert.equal(byTime.json.rules.find((r: any) => r.rule_id === other).state, 'disabled');
      const now = await call(f, 'GET', '/api/v1/ttp/snapshot', { headers: f.bearer('reader') });
      assert.equal(now.json.rules.find((r: any) => r.rule_id === other).state, 'clipped');
      assert.deepEqual(now.json.rules.map((r: any) => r.rule_id), (await call(f, 'GET', '/api/v1/ttp/rules', { headers: f.bearer('reader') })).json.map((r: any) => r.rule_id));
      assert.equal((await call(f, 'GET', '/api/v1/ttp/snapshot?at=yesterday', { headers: f.bearer('reader') })).status, 400);
      assert.equal((await call(f, 'GET', '/api/v1/ttp/snapshot?at=2026-11-29T14:03:00', { headers: f.bearer('reader') })).status, 400, 'a time without a zone is refused');
      assert.equal((await call(f, 'GET', '/api/v1/ttp/snapshot?at=99999999999999', { headers: f.bearer('reader') })).status, 400, 'beyond the head');
      assert.equal((await call(f, 'GET', '/api/v1/ttp/snapshot')).status, 401);
      await f.store.setState(other, { state: 'disabled', reason: 'later' }, 'past-tester');
      await f.store.prune({ keepCount: 0, force: true });
      const pruned = await call(f, 'GET', `/api/v1/ttp/snapshot?at=${before}`, { headers: f.bearer('reader') });
      assert.equal(pruned.status, 410, pruned.text);
      assert.equal(pruned.json.code, 'LOG_TRUNCATED');
    });

    it('the session cookie: HttpOnly, SameSite=Strict; its writes need a matching Origin and a JSON body', async () => {
      assert.equal((await call(f, 'POST', '/api/v1/session', { body: { token: 'wrong' } })).status, 401);
      assert.equal((await call(f, 'POST', '/api/v1/session', { body: `{"token":"${f.tokens.operator}","__proto__":{"role":"author"}}` })).status, 400);
      const login = await call(f, 'POST', '/api/v1/session', { body: { token: f.tokens.operator } });
      assert.equal(login.status, 200);
      const setCookie = login.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /SameSite=Strict/);
      const cookie = setCookie.split(';')[0]!;
      const path = `/api/v1/ttp/rules/${ruleId}/state`;
      assert.equal((await call(f, 'GET', '/api/v1/session', { headers: { cookie } })).json.role, 'operator');
      const noOrigin = await call(f, 'POST', path, { headers: { cookie }, body: { state: 'disabled' } });
      assert.equal(noOrigin.status, 403);
      assert.equal(noOrigin.json.code, 'ORIGIN_REQUIRED');
      assert.equal((await call(f, 'POST', path, { headers: { cookie, origin: 'http://evil.example' }, body: { state: 'disabled' } })).status, 403);
      assert.equal((await call(f, 'POST', path, { headers: { cookie, origin: f.url, 'content-type': 'application/yaml' }, body: 'state: disabled' })).status, 415);
      const ok = await call(f, 'POST', path, { headers: { cookie, origin: f.url }, body: { state: 'disabled', reason: 'from the console' } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.set_by, 'operator-tester');
      assert.equal((await call(f, 'DELETE', path, { headers: { cookie, origin: f.url }, body: {} })).status, 200);
      assert.equal((await call(f, 'POST', path, { headers: f.bearer('operator', { origin: 'http://evil.example' }), body: { state: 'disabled' } })).status, 403);
      assert.equal((await call(f, 'DELETE', '/api/v1/session', { headers: { cookie, origin: f.url }, body: {} })).status, 200);
      assert.equal((await call(f, 'GET', '/api/v1/session', { headers: { cookie } })).status, 401);
    });

    it('GET /healthz is 200 live, /metrics has the store figures and requests by route and status', async () => {
      const health = await call(f, 'GET', '/healthz');
      assert.equal(health.status, 200);
      assert.equal(health.json.status, 'live');
      const metrics = await call(f, 'GET', '/metrics');
      assert.equal(metrics.status, 200);
      for (const name of ['position', 'head', 'lag', 'delivered', 'reconnects', 'errors', 'subscribers']) assert.match(metrics.text, new RegExp(`^ttp_rules_store_${name} \\d+$`, 'm'), name);
      assert.match(metrics.text, /^ttp_rules_sse_clients \d+$/m);
      assert.match(metrics.text, /^ttp_rules_http_requests_total\{route="\/api\/v1\/ttp\/rules\/:rule_id\/state",status="403"\} \d+$/m);
    });

    it('the console page and its scripts are served, with the CSP; a DNS-rebinding Host is refused', async () => {
      const page = await call(f, 'GET', '/');
      assert.equal(page.status, 200);
      assert.match(page.text, /<script type="module" src="\/assets\/app.js">/);
      assert.equal((await call(f, 'GET', '/assets/app.js')).status, 200);
      assert.equal((await call(f, 'GET', '/assets/console.css')).status, 200);
      assert.equal((await call(f, 'GET', '/assets/nope.js')).status, 404);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${f.url}/api/v1/ttp/rules`, { headers: { host: 'evil.example:7070', ...f.bearer('reader') } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 421);
    });
  });
}

describe('HTTP API without a tokens file', () => {
  let f: ServerFixture;
  before(async () => {
    f = await createServerFixture('sqlite', 'server_readonly', { withTokens: false, rules: 2 });
  });
  after(() => f.teardown());

  it('reads need no token; every write is 403 and says how to add a token; bearer tokens are refused', async () => {
    assert.equal((await call(f, 'GET', '/api/v1/ttp/rules')).status, 200);
    const write = await call(f, 'POST', `/api/v1/ttp/rules/${f.ruleIds[0]}/state`, { body: { state: 'disabled' } });
    assert.equal(write.status, 403);
    assert.match(write.json.detail, /ttp-rules token add/);
    assert.equal((await call(f, 'PUT', `/api/v1/ttp/rules/${f.ruleIds[0]}`, { body: { yaml: 'x' } })).status, 403);
    assert.equal((await call(f, 'DELETE', `/api/v1/ttp/rules/${f.ruleIds[0]}`)).status, 403);
    assert.equal((await call(f, 'GET', '/api/v1/ttp/rules', { headers: f.bearer('author') })).status, 401);
  });
});

describe('HTTP API when the store goes away', () => {
  let f: ServerFixture;
  before(async () => {
    f = await createServerFixture('sqlite', 'server_down', { rules: 1 });
  });
  after(() => f.teardown());

  it('GET /healthz answers 503 with the reason, the SSE stream 503, reads 503', async () => {
    assert.equal((await call(f, 'GET', '/healthz')).status, 200);
    await f.store.close();
    const health = await call(f, 'GET', '/healthz');
    assert.equal(health.status, 503);
    assert.equal(health.json.status, 'down');
    assert.match(health.json.reason, /closed/);
    assert.equal((await call(f, 'GET', '/api/v1/ttp/changes', { headers: f.bearer('reader') })).status, 503);
    assert.equal((await call(f, 'GET', '/api/v1/ttp/rules', { headers: f.bearer('reader') })).status, 503);
  });
});

describe('HTTP API when the writers’ lock is held (Postgres)', () => {
  let f: ServerFixture;
  before(async () => {
    f = await createServerFixture('postgres-listen', 'server_locked', { rules: 1 });
  });
  after(() => f.teardown());

  it('a state change that cannot get the lock in time is 503 with Retry-After, naming the holder; reads go on', async () => {
    // The server's store waits at most 300 ms for the lock (the default is 5 s).
    const store = await openRuleStore({ url: f.backend.url, lockTimeoutMs: 300 });
    const server = await createRuleServer(store, { host: '127.0.0.1', port: 0, tokens: parseTokensFile(await readFile(f.tokensFile, 'utf8')) });
    // A forgotten psql transaction: its statement took the writers' lock, and it idles.
    const holder = await openIdleTransaction(f.backend.url, [`DELETE FROM ttp_rule_state WHERE rule_id = 'nothing'`], 'forgotten-psql');
    try {
      const local = { ...f, url: server.url } as ServerFixture;
      const blocked = await call(local, 'POST', `/api/v1/ttp/rules/${f.ruleIds[0]}/state`, { headers: f.bearer('operator'), body: { state: 'disabled', reason: 'noisy' } });
      assert.equal(blocked.status, 503, blocked.text);
      assert.equal(blocked.json.code, 'LOCK_TIMEOUT');
      assert.equal(blocked.headers.get('retry-after'), '5');
      assert.match(blocked.json.detail, new RegExp(`${holder.pid}`));
      assert.match(blocked.json.detail, /forgotten-psql/);
      assert.equal((await call(local, 'GET', '/api/v1/ttp/rules', { headers: f.bearer('reader') })).status, 200);
    } finally {
      await holder.end();
      await server.close();
      await store.close();
    }
  });
});
