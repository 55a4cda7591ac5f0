import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection, type StoredMsg } from 'nats';

/** The shared NATS server with JetStream (started by .ci/run when down). */
export const NATS_URL = process.env['TTP_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const NATS_SERVER = process.env['TTP_TEST_NATS_SERVER'] ?? '/usr/sbin/nats-server';

/** A subject prefix and stream of one test, so test files never see each other's messages. */
export function uniqueBus(label: string): { prefix: string; stream: string } {
  const id = `${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}${randomBytes(4).toString('hex')}`;
  return { prefix: `t_${id}.ttp.rule`, stream: `T_${id.toUpperCase()}` };
}

/** A message received by {@link listen}. */
export interface Received {
  readonly subject: string;
  readonly payload: Record<string, unknown>;
}

/** Collects what arrives on `subject` and waits, with a timeout, until a condition holds. */
export interface Listener {
  readonly items: Received[];
  waitFor(predicate: (items: readonly Received[]) => boolean, ms?: number, what?: string): Promise<void>;
  stop(): void;
}

/** Subscribes on `nc` and resolves once the server has the subscription. */
export async function listen(nc: NatsConnection, subject: string): Promise<Listener> {
  const items: Received[] = [];
  const checks = new Set<() => void>();
  const sub = nc.subscribe(subject, {
    callback: (_error, msg) => {
      items.push({ subject: msg.subject, payload: JSON.parse(new TextDecoder().decode(msg.data)) as Record<string, unknown> });
      for (const check of [...checks]) check();
    },
  });
  await nc.flush();
  return {
    items,
    waitFor(predicate, ms = 15_000, what = 'condition') {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(items)) return;
          checks.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${items.length} messages, last: ${JSON.stringify(items.slice(-3)).slice(0, 1200)}`));
        }, ms);
        checks.add(check);
        check();
      });
    },
    stop: () => sub.unsubscribe(),
  };
}

/** Every message stored in `stream`, in stream order. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMsg[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) out.push(await jsm.streams.getMessage(stream, { seq }));
  return out;
}

/** Resolves once `check()` is true, re-checking every `everyMs`; rejects after `ms` (for state that emits no event: a stream, pg_stat_activity). */
export async function eventually(check: () => Promise<boolean>, ms = 15_000, what = 'condition', everyMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
      lastError = null;
    } catch (error) {
      // A server coming back (JetStream still recovering its streams) answers with a timeout: not yet.
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Deletes a test's stream (ignoring a missing one). */
export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(stream).catch(() => false);
}

/** Connects to the shared server. */
export function connectShared(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL });
}

/** A free TCP port on 127.0.0.1 (nothing listens there when this resolves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A private nats-server with JetStream in a temp dir, started and killed by the test. */
export interface PrivateNats {
  readonly url: string;
  readonly port: number;
  /** Starts the server (again, on the same port and store dir); resolves once it is ready. */
  start(): Promise<void>;
  /** Kills the server (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills the server and removes its store dir. */
  dispose(): Promise<void>;
}

/** Reserves a port and a store dir for a private server; call `start()` to run it. */
export async function createPrivateNats(label: string): Promise<PrivateNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `ttp-nats-${label}-`));
  let child: ChildProcess | null = null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      if (child) throw new Error('already running');
      const proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      let log = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nats-server on ${port} not ready within 15 s:\n${log}`)), 15_000);
        proc.stderr!.setEncoding('utf8');
        proc.stderr!.on('data', (chunk: string) => {
          log += chunk;
          if (/Server is ready/.test(log)) {
            clearTimeout(timer);
            resolve();
          }
        });
        proc.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`nats-server on ${port} exited with ${code}:\n${log}`));
        });
      });
    },
    kill,
    async dispose() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
