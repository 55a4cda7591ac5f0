import { request } from 'node:http';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { forkChild } from '../support/child.js';
import { ruleText } from '../support/ruleText.js';
import { summarize, type LatencySummary } from '../support/stats.js';
import type { Scenario } from '../support/scenario.js';

/** What the SSE scenario measured. */
export interface SseBenchResult {
  readonly samples: number;
  /** Write -> change on a `changes$` subscriber in this process (the baseline). */
  readonly changes: LatencySummary;
  /** The same writes -> the event in an SSE client of a server in another process. */
  readonly sse: LatencySummary;
  /** sse p50 / changes$ p50 (target <= 1.5). */
  readonly ratioP50: number;
  readonly clients: number;
  /** One change -> the last of `clients` SSE clients has it, ms. */
  readonly allClients: LatencySummary;
  /** Server RSS after a full GC, MB: before the clients connect, and with them connected. */
  readonly rssIdleMb: number;
  readonly rssWithClientsMb: number;
}

interface SseTap {
  /** Resolves when the event with this marker in its data arrives. */
  waitFor(marker: string): Promise<number>;
  ready: Promise<void>;
  close(): void;
}

/** A minimal SSE reader: stamps each frame on arrival and resolves waiters by a marker in the data. */
function tap(url: string): SseTap {
  const waiters = new Map<string, (at: number) => void>();
  const early = new Map<string, number>();
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  let buffer = '';
  const req = request(`${url}/api/v1/ttp/changes`, { headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const at = performance.now();
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (frame.includes('event: ready')) onReady();
        const marker = /"reason":"(sse-[0-9]+)"/.exec(frame)?.[1];
        if (!marker) continue;
        const waiter = waiters.get(marker);
        if (waiter) waiter(at);
        else early.set(marker, at);
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return {
    ready,
    waitFor: (marker) => {
      const at = early.get(marker);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => waiters.set(marker, resolve));
    },
    close: () => req.destroy(),
  };
}

function nextChange(store: RuleStore, marker: string): Promise<number> {
  return new Promise((resolve) => {
    const sub = store.changes$.subscribe((change) => {
      if (change.kind === 'state' && change.state.reason === marker) {
        resolve(performance.now());
        sub.unsubscribe();
      }
    });
  });
}

/**
 * SSE delivery: a server (listen) in a child process on the built package; in
 * this process a writer store, a `changes$` subscriber (the baseline) and SSE
 * clients. Latency: each write, timed to its change on `changes$` and to its
 * event in one SSE client, sequentially. Fan-out: `clients` SSE connections,
 * one change at a time, timed to the last client's receipt.
 */
export async function measureSse(url: string, options: { samples: number; clients: number; fanOutChanges: number; log: (m: string) => void }): Promise<SseBenchResult> {
  const writer = await openRuleStore({ url, transport: 'poll', pollIntervalMs: 60_000 });
  const baseline = await openRuleStore({ url, transport: 'listen' });
  await writer.upsertRules(Array.from({ length: 20 }, (_, i) => ({ yaml: ruleText(1, `SSE${String(i).padStart(3, '0')}`) })));
  const server = await forkChild('../support/sseServer.mjs', import.meta.url, [url], { nodeArgs: ['--expose-gc'] });
  const serverUrl = String(server.ready['url']);
  const taps: SseTap[] = [];
  let seq = 0;
  const write = async (): Promise<{ t0: number; marker: string }> => {
    const marker = `sse-${++seq}`;
    const t0 = performance.now();
    await writer.setState(`SSE${String(seq % 20).padStart(3, '0')}`, { state: seq % 2 ? 'disabled' : 'enabled', reason: marker }, 'bench');
    return { t0, marker };
  };
  try {
    const one = tap(serverUrl);
    taps.push(one);
    await one.ready;
    const viaChanges: number[] = [];
    const viaSse: number[] = [];
    for (let i = 0; i < options.samples + 20; i++) {
      const marker = `sse-${seq + 1}`;
      const gotChange = nextChange(baseline, marker);
      const gotSse = one.waitFor(marker);
      const { t0 } = await write();
      const [a, b] = await Promise.all([gotChange, gotSse]);
      if (i >= 20) {
        viaChanges.push(a - t0);
        viaSse.push(b - t0);
      }
    }
    one.close();
    taps.length = 0;
    const idle = await server.ask<{ type: string; rss: number }>({ type: 'memory' }, 'memory');
    options.log(`sse: latency done (${options.samples} samples); opening ${options.clients} clients`);

    for (let i = 0; i < options.clients; i++) taps.push(tap(serverUrl));
    await Promise.all(taps.map((t) => t.ready));
    const loaded = await server.ask<{ type: string; rss: number }>({ type: 'memory' }, 'memory');
    const allClients: number[] = [];
    for (let i = 0; i < options.fanOutChanges; i++) {
      const marker = `sse-${seq + 1}`;
      const arrivals = taps.map((t) => t.waitFor(marker));
      const { t0 } = await write();
      const times = await Promise.all(arrivals);
      allClients.push(Math.max(...times) - t0);
    }
    const changes = summarize(viaChanges);
    const sse = summarize(viaSse);
    return {
      samples: viaSse.length,
      changes,
      sse,
      ratioP50: sse.p50 / changes.p50,
      clients: options.clients,
      allClients: summarize(allClients),
      rssIdleMb: idle.rss / 1048576,
      rssWithClientsMb: loaded.rss / 1048576,
    };
  } finally {
    for (const t of taps) t.close();
    await server.stop();
    await baseline.close();
    await writer.close();
  }
}

/** SSE: write -> event through an SSE client of a server process, against changes$ in this process. Noted only. */
export const sseScenario: Scenario<{ samples: number; clients: number; fanOutChanges: number }> = {
  id: 'sse',
  title: 'SSE',
  measures: 'write -> event via an SSE client of a server in another process, against changes$ in this process (target ratio ≤ 1.5); one change to many SSE clients; server RSS',
  plan: { quick: { samples: 50, clients: 100, fanOutChanges: 3 }, full: { samples: 300, clients: 500, fanOutChanges: 20 } },
  needsBuild: true,
  async run(context, plan) {
    context.log(`sse: ${plan.samples} writes timed to changes$ and to an SSE client; ${plan.clients} SSE clients`);
    const r = await context.withDatabase('sse', (db) => measureSse(db.url, { ...plan, log: context.log }));
    const ms = (v: number): string => v.toFixed(2);
    const line = `SSE (bench/scenarios/sse.ts): write -> event, p50 ${ms(r.sse.p50)} ms via an SSE client of a server in another process vs ${ms(r.changes.p50)} ms via changes$ in this process (ratio ${r.ratioP50.toFixed(2)}, target <= 1.5${r.ratioP50 <= 1.5 ? ', met' : ', not met'}; p90 ${ms(r.sse.p90)} vs ${ms(r.changes.p90)} ms; ${r.samples} writes); one change to all of ${r.clients} SSE clients: p50 ${ms(r.allClients.p50)} ms, max ${ms(r.allClients.max)} ms (${plan.fanOutChanges} changes); server RSS ${r.rssIdleMb.toFixed(1)} MB idle, ${r.rssWithClientsMb.toFixed(1)} MB with ${r.clients} clients.`;
    context.log(line);
    context.note(line);
  },
};
