import { pino, type Logger } from 'pino';

/** Levels accepted by `--log-level` and `TTP_RULES_LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The CLI's own pino instance, on stderr (stdout is the command's product).
 * Pretty (pino-pretty) when stderr is a terminal, one JSON object per line
 * otherwise; if pino-pretty is not installed it falls back to JSON.
 */
export async function createCliLogger(level: LogLevel): Promise<Logger> {
  const options = { level, name: 'ttp-rules' };
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
