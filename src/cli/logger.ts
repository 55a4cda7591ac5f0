import type { Logger } from 'pino';

/** Levels accepted by `--log-level` and `TTP_RULES_LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Pino serialises a child's bindings after its parent's, so a component that
 * hands its child logger to another component (a backend to its feed) would
 * print `"component"` twice. JSON keeps the last duplicate: re-serialising the
 * bindings leaves one `component`, the innermost.
 */
function onlyInnermostComponent(chindings: symbol): (child: Logger) => void {
  return (child) => {
    const holder = child as unknown as Record<symbol, unknown>;
    const text = holder[chindings];
    if (typeof text !== 'string' || text.indexOf('"component":') === text.lastIndexOf('"component":')) return;
    try {
      holder[chindings] = `,${JSON.stringify(JSON.parse(`{${text.slice(1)}}`)).slice(1, -1)}`;
    } catch {
      // Bindings pino could write but not re-read (custom serialisers): keep them as they are.
    }
  };
}

/**
 * The CLI's own pino instance, on stderr (stdout is the command's product).
 * Pretty (pino-pretty) when stderr is a terminal, one JSON object per line
 * otherwise; if pino-pretty is not installed it falls back to JSON. Every line
 * has one `component` key (the innermost).
 */
export async function createCliLogger(level: LogLevel): Promise<Logger> {
  const { pino } = await import('pino');
  const options = { level, name: 'ttp-rules', onChild: onlyInnermostComponent(pino.symbols.chindingsSym) };
  if (process.stderr.isTTY && level !== 'silent') {
    try {
      const { default: pretty } = await import('pino-pretty');
      return pino(options, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname,name' }));
    } catch {
      // pino-pretty is optional at runtime: JSON is still readable.
    }
  }
  return pino(options, pino.destination({ fd: 2, sync: true }));
}
