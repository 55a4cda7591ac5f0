import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_SERVER_URL } from './database.js';

/** Ports this project's tests may give a pgbouncer (kept apart from the shared server's). */
const PORTS = [6432, 6433, 6434, 6435, 6436, 6437, 6438, 6439];

/** Where Debian's package (`apt-get install pgbouncer`, as `.ci/run` does) puts the binary. */
export function pgbouncerBinary(): string | null {
  for (const path of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) {
    if (spawnSync(path, ['--version']).status === 0) return path;
  }
  const which = spawnSync('sh', ['-c', 'command -v pgbouncer']);
  return which.status === 0 ? which.stdout.toString().trim() : null;
}

/**
 * Why the pgbouncer tests cannot run here, or null when they can. Under CI
 * (CI=true) a missing binary is a failure, not a skip: `.ci/run` installs it.
 */
export function pgbouncerSkipReason(): string | false {
  if (pgbouncerBinary()) return false;
  if (process.env['CI'] === 'true') throw new Error('pgbouncer is not installed, but CI=true: .ci/run must install it (apt-get install -y pgbouncer)');
  return 'pgbouncer is not installed (apt-get install -y pgbouncer); skipping the pgbouncer tests';
}

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/** One pgbouncer process started by a test; `url(db)` is the plain URL through it. */
export interface Pgbouncer {
  readonly port: number;
  /** `postgres://root@127.0.0.1:<port>/<database>`: the URL a user has, pointed at the pooler. */
  url(database: string): string;
  /** The pooler's log so far (for assertion messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Settings of the generated pgbouncer.ini (`[pgbouncer]` section). */
export interface PgbouncerSettings {
  pool_mode?: 'transaction' | 'session' | 'statement';
  max_client_conn?: number;
  default_pool_size?: number;
  [key: string]: string | number | undefined;
}

/**
 * Starts pgbouncer on a free port of 6432–6439 in front of the test server, with
 * a generated ini and auth file in a temp dir (transaction pooling unless told
 * otherwise). It runs in the foreground as a child of the test (as `postgres`
 * when the test is root: pgbouncer refuses to run as root) and is stopped by pid.
 */
export async function startPgbouncer(settings: PgbouncerSettings = {}, server: { host: string; port: number; user: string } = serverOf(PG_SERVER_URL)): Promise<Pgbouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'ttp-pgbouncer-'));
  chmodSync(dir, 0o755);
  let port: number | undefined;
  for (const candidate of PORTS) {
    if (await portFree(candidate)) {
      port = candidate;
      break;
    }
  }
  if (port === undefined) throw new Error(`no free port for pgbouncer in ${PORTS[0]}-${PORTS.at(-1)}`);
  const options: PgbouncerSettings = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: join(dir, 'userlist.txt'),
    pool_mode: 'transaction',
    max_client_conn: 100,
    default_pool_size: 4,
    ...(process.getuid?.() === 0 ? { user: 'postgres' } : {}),
    ...settings,
  };
  const ini = [
    '[databases]',
    `* = host=${server.host} port=${server.port} user=${server.user}`,
    '[pgbouncer]',
    ...Object.entries(options)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} = ${v}`),
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), `${ini}\n`);
  writeFileSync(join(dir, 'userlist.txt'), `"${server.user}" ""\n`);
  const child: ChildProcess = spawn(binary, [join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pgbouncer did not start within 15 s:\n${output}`)), 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pgbouncer exited (${code}) before listening:\n${output}`));
    });
  });
  await listening;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    url: (database) => `postgres://${server.user}@127.0.0.1:${port}/${database}`,
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function serverOf(url: string): { host: string; port: number; user: string } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username) || 'root' };
}
