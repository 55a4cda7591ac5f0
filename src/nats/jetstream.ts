import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';

/** The stream the bridge publishes into by default. */
export const DEFAULT_STREAM = 'TTP_RULES';
/** How long JetStream remembers a message id to drop a republished duplicate (NATS' own default). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

/** JetStream settings of the bridge. */
export interface JetStreamSettings {
  /** Stream name (default `TTP_RULES`). */
  stream?: string;
  /** Duplicate window of a stream the bridge creates, ms (default 120,000). */
  duplicateWindowMs?: number;
  /** Maximum age of stored messages of a stream the bridge creates, ms (default: kept forever). */
  maxAgeMs?: number;
}

const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `name` is a usable stream name (no dots, wildcards or whitespace). */
export function isValidStreamName(name: string): boolean {
  return STREAM_NAME.test(name);
}

/**
 * Makes sure the stream exists and captures `subject` (`<prefix>.>`): creates it
 * if missing, adds the subject to an existing stream that lacks it, and leaves an
 * existing stream's other settings alone.
 */
export async function ensureStream(nc: NatsConnection, subject: string, settings: Required<Pick<JetStreamSettings, 'stream' | 'duplicateWindowMs'>> & JetStreamSettings, log: Logger): Promise<void> {
  const { nanos } = await import('nats');
  const jsm = await nc.jetstreamManager();
  let info;
  try {
    info = await jsm.streams.info(settings.stream);
  } catch (error) {
    if ((error as { api_error?: { err_code?: number } }).api_error?.err_code !== 10059 && (error as { code?: string }).code !== '404') throw error;
    await jsm.streams.add({
      name: settings.stream,
      subjects: [subject],
      duplicate_window: nanos(settings.duplicateWindowMs),
      ...(settings.maxAgeMs ? { max_age: nanos(settings.maxAgeMs) } : {}),
    });
    log.info({ event: 'bridge:nats:stream-created', stream: settings.stream, subject }, 'JetStream stream created');
    return;
  }
  const subjects = info.config.subjects ?? [];
  if (!subjects.includes(subject)) {
    try {
      await jsm.streams.update(settings.stream, { ...info.config, subjects: [...subjects, subject] });
      log.info({ event: 'bridge:nats:stream-updated', stream: settings.stream, subject }, 'JetStream stream now captures the rule subjects');
    } catch (error) {
      // A wider subject (`ttp.>`) may already capture ours; publishing tells.
      log.warn({ event: 'bridge:nats:stream-update-failed', stream: settings.stream, subject, err: error }, 'could not add the rule subjects to the stream');
    }
  }
}
