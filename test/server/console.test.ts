import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createRuleServer } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { createServerFixture, type ServerFixture } from './serverFixture.js';

/** Debian's chromium (installed by .ci/run); nothing here ever downloads a browser. */
const CHROMIUM = process.env['TTP_CHROMIUM'] ?? '/usr/bin/chromium';
/** The README's screenshot is refreshed with TTP_UPDATE_SCREENSHOT=1; otherwise it goes to the temp dir (named in the test output). */
const SCREENSHOT = process.env['TTP_UPDATE_SCREENSHOT'] ? fileURLToPath(new URL('../../docs/console.png', import.meta.url)) : join(tmpdir(), `ttp-console-${process.pid}.png`);
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the console in a real Chromium', () => {
  let f: ServerFixture;
  let profile: string;
  let browser: BrowserContext;
  let ruleId: string;

  before(async () => {
    f = await createServerFixture('sqlite', 'server_console', { rules: 12 });
    ruleId = f.ruleIds[1]!;
    profile = mkdtempSync(join(tmpdir(), 'ttp-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1360, height: 760 } });
  });
  after(async () => {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
    await f.teardown();
  });

  /** Logs out whoever the shared profile's cookie belongs to, then logs in through the form. */
  async function logIn(page: Page, role: 'reader' | 'operator'): Promise<void> {
    await page.goto(f.url);
    await page.evaluate(() => fetch('/api/v1/session', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{}' }));
    await page.goto(f.url);
    await page.locator('#token').fill(f.tokens[role]);
    await page.locator('#login button[type=submit]').click();
    await page.locator(`#rules tbody tr[data-rule-id="${ruleId}"]`).waitFor({ timeout: 10_000 });
    await page.locator('#conn.live').waitFor({ timeout: 10_000 });
  }

  it('an operator logs in, disables a rule for 10 minutes with a reason, and the row changes', async () => {
    const page = await browser.newPage();
    await logIn(page, 'operator');
    const row = page.locator(`#rules tbody tr[data-rule-id="${ruleId}"]`);
    assert.equal(await row.locator('.badge').textContent(), 'enabled');
    await row.locator('button[data-action=disable]').click();
    await page.locator('#for').selectOption('10');
    await page.locator('#reason').fill('noisy during the pentest');
    await page.locator('#action-ok').click();
    await page.locator(`#rules tbody tr[data-rule-id="${ruleId}"][data-state="disabled"].changed`).waitFor({ timeout: 5000 });
    assert.equal(await row.locator('.reason').textContent(), 'noisy during the pentest');
    assert.match((await row.locator('.expires').textContent()) ?? '', /^in (9m|10m)/);
    assert.match((await row.locator('.setby').textContent()) ?? '', /^operator-tester/);
    const state = await f.store.getState(ruleId);
    assert.equal(state.state, 'disabled');
    assert.equal(state.setBy, 'operator-tester');

    // The history drawer shows it, with who did it.
    await row.locator('a[data-action=history]').click();
    await page.locator('#drawer-list li', { hasText: 'noisy during the pentest' }).waitFor({ timeout: 5000 });
    assert.match((await page.locator('#drawer-list li').first().textContent()) ?? '', /operator-tester/);
    await page.locator('#drawer-close').click();
    await page.close();
  });

  it('a change made by the CLI in another process appears in the open page within a second, without reload', async (t) => {
    const page = await browser.newPage();
    await logIn(page, 'operator');
    await page.evaluate('window.marker = 42');
    const other = f.ruleIds[2]!;
    const cli = await runCli(['state', other, 'clip', '--confidence-max', '0.3', '--for', '1h', '--reason', 'too many hits', '--by', 'cli-user', '--db', f.backend.url]);
    assert.equal(cli.code, 0, cli.stderr);
    await page.locator(`#rules tbody tr[data-rule-id="${other}"][data-state="clipped"]`).waitFor({ timeout: 1000 });
    const row = page.locator(`#rules tbody tr[data-rule-id="${other}"]`);
    assert.equal(await row.locator('.ceiling').textContent(), '≤ 0.3');
    assert.match((await row.locator('.setby').textContent()) ?? '', /^cli-user/);
    assert.equal(await page.evaluate('window.marker'), 42, 'the page was not reloaded');

    // A hand edit that breaks a stored row: flagged with its error, live too.
    const broken = f.ruleIds[3]!;
    const raw = f.backend.raw();
    await raw.run(`UPDATE ttp_rule SET yaml_content = $1 WHERE rule_id = $2`, [`rule_id: ${broken}\nrule_version: [broken`, broken]);
    await page.locator(`#rules tbody tr.invalid[data-rule-id="${broken}"]`).waitFor({ timeout: 5000 });
    assert.match((await page.locator(`tr[data-rule-id="${broken}"] .error`).textContent()) ?? '', /invalid stored row: .*YAML/);

    // For the screenshot: one highlighted row (the earlier highlights have faded).
    await page.waitForFunction(() => (globalThis as unknown as { document: { getAnimations(): unknown[] } }).document.getAnimations().length === 0, undefined, { timeout: 10_000 });
    await page.locator(`tr[data-rule-id="${f.ruleIds[5]}"] button[data-action=clip]`).click();
    await page.locator('#ceiling').fill('0.6');
    await page.locator('#for').selectOption('240');
    await page.locator('#reason').fill('false positives on scanners');
    await page.locator('#action-ok').click();
    await page.locator(`tr[data-rule-id="${f.ruleIds[5]}"][data-state="clipped"]`).waitFor({ timeout: 5000 });
    await page.locator(`#rules tbody tr[data-rule-id="${f.ruleIds[5]}"].changed`).waitFor({ timeout: 5000 });
    await page.screenshot({ path: SCREENSHOT });
    t.diagnostic(`screenshot: ${SCREENSHOT}`);
    await page.close();
  });

  it('after a dropped connection the page resumes from its last position and misses nothing', async () => {
    const page = await browser.newPage();
    await logIn(page, 'operator');
    await page.evaluate('window.marker = 7');
    const target = f.ruleIds[6]!;
    // Cut every open connection (the SSE stream too); the server keeps listening.
    f.server.fastify.server.closeAllConnections();
    await f.store.setState(target, { state: 'disabled', reason: 'while the page was offline' }, 'elsewhere');
    await page.locator(`#rules tbody tr[data-rule-id="${target}"][data-state="disabled"]`).waitFor({ timeout: 10_000 });
    await page.locator('#conn.live').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator(`tr[data-rule-id="${target}"] .reason`).textContent(), 'while the page was offline');
    assert.equal(await page.evaluate('window.marker'), 7, 'resumed without a reload');
    await page.close();
  });

  it("start's one-time login link logs the page in and leaves the address bar at once", async () => {
    const second = await createRuleServer(f.store, { port: 0, oneTimeLogin: { name: 'erin@test', role: 'operator' } });
    try {
      const page = await browser.newPage();
      await page.goto(second.loginUrl!);
      await page.locator(`#rules tbody tr[data-rule-id="${ruleId}"] button[data-action=disable]`).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#who').textContent(), 'erin@test (operator)');
      assert.equal(new URL(page.url()).hash, '');
      // Used: the same link no longer logs anyone in.
      const again = await browser.newPage();
      await again.context().clearCookies();
      await again.goto(second.loginUrl!);
      await again.locator('#notice').waitFor({ state: 'visible', timeout: 10_000 });
      assert.match((await again.locator('#notice').textContent()) ?? '', /login failed/);
      // This server has no tokens file: the page falls back to anonymous reading, without controls.
      await again.locator('#who', { hasText: 'anonymous (reader, read-only server)' }).waitFor({ timeout: 10_000 });
      assert.equal(await again.locator('#rules button').count(), 0);
      await page.close();
      await again.close();
    } finally {
      await second.close();
    }
  });

  it('a reader sees no controls, and a forged write from the page gets 403', async () => {
    const page = await browser.newPage();
    await logIn(page, 'reader');
    assert.equal(await page.locator('#rules button').count(), 0);
    assert.equal(await page.locator('th.actions-head').count(), 0);
    const status = await page.evaluate(async (id) => {
      const response = await fetch(`/api/v1/ttp/rules/${id}/state`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state: 'disabled' }) });
      return response.status;
    }, ruleId);
    assert.equal(status, 403);
    assert.equal((await f.store.getState(f.ruleIds[0]!)).state, 'enabled');
    await page.close();
  });
});
