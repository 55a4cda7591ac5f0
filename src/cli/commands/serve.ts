import { InvalidArgumentError, type Command } from 'commander';
import type { RuleServerOptions, RuleServerResult, RuleStore } from '../../index.js';
import { addCommonOptions, createContext, openStore, resolveDatabaseUrl, type CliContext, type DatabaseOptions } from '../context.js';
import { printJson, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

interface ServeOptions extends DatabaseOptions {
  host: string;
  port: number;
  tokens?: string;
}

/** Commander parser for `--port`. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a TCP port (0-65535)');
  return port;
}

/** Resolves on SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Starts the server for a CLI command, reading `--tokens` when given. */
export async function serveStore(store: RuleStore, context: CliContext, options: RuleServerOptions & { tokensFile?: string | undefined }): Promise<RuleServerResult> {
  const { tokensFile, ...rest } = options;
  // Loaded here, not at the top: every CLI command registers `serve`, and Fastify is not cheap to load.
  const [{ createRuleServer }, { readTokensFile }] = await Promise.all([import('../../server/createRuleServer.js'), import('../../server/apiTokens.js')]);
  const tokens = tokensFile ? await readTokensFile(tokensFile) : undefined;
  return createRuleServer(store, { ...rest, ...(tokens ? { tokens } : {}), logger: context.logger });
}

/** `ttp-rules serve`: the HTTP API, the SSE change stream and the console. */
export function registerServe(program: Command, run: ActionRunner): void {
  const command = program
    .command('serve')
    .description('serve the rule API (DECNET-compatible), the SSE change stream and the operator console over HTTP until Ctrl-C')
    .option('--host <host>', 'interface to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--port <port>', 'TCP port', parsePort, 7070)
    .option('--tokens <file>', 'tokens file (name role sha256 per line; see `ttp-rules token add`); without it the server is read-only')
    .addHelpText(
      'after',
      `
Endpoints: GET /api/v1/ttp/rules, GET|PUT|DELETE /api/v1/ttp/rules/{rule_id},
POST|DELETE /api/v1/ttp/rules/{rule_id}/state, GET /api/v1/ttp/rules/{rule_id}/history,
GET /api/v1/ttp/changes (Server-Sent Events), GET /healthz, GET /metrics, and the console at /.

Examples:
  $ ttp-rules token add alice operator --tokens tokens.txt
  $ ttp-rules serve --tokens tokens.txt
  $ curl -N -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7070/api/v1/ttp/changes`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (options: ServeOptions) => {
      const context = await createContext(options);
      const store = await openStore(context, resolveDatabaseUrl(options.db), { revertExpired: true });
      try {
        const server = await serveStore(store, context, { host: options.host, port: options.port, tokensFile: options.tokens });
        if (context.json) printJson({ kind: 'serving', url: server.url, readOnly: options.tokens === undefined });
        else printStatus(`serving ${server.url}${options.tokens ? '' : ' (read-only: no --tokens file)'} (Ctrl-C to stop)`);
        await untilSignal();
        await server.close();
        return 0;
      } finally {
        await store.close();
      }
    }),
  );
}

/**
 * `ttp-rules start`'s console: serves on 127.0.0.1 and prints a URL with a
 * one-time login token (the session acts as `actor`, with the author role). A
 * port in use is a warning, not a failure: the main job runs on.
 */
export async function serveConsoleForStart(store: RuleStore, context: CliContext, options: { port: number; tokensFile?: string | undefined; actor: string }): Promise<RuleServerResult | null> {
  try {
    const server = await serveStore(store, context, { host: '127.0.0.1', port: options.port, tokensFile: options.tokensFile, oneTimeLogin: { name: options.actor, role: 'author' } });
    if (context.json) printJson({ kind: 'console', url: server.url, loginUrl: server.loginUrl });
    else printStatus(`console: ${server.loginUrl ?? server.url} (one-time login link)`);
    return server;
  } catch (error) {
    const message = `the console is not served: ${(error as Error).message} (use --port N, or --no-serve)`;
    if (context.json) printJson({ kind: 'console', url: null, error: message });
    else printStatus(`ttp-rules: warning: ${message}`);
    return null;
  }
}
