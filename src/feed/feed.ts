/**
 * How a store learns that the log moved: a doorbell, never the data (the reader
 * re-reads the log after every ring). Implemented by `createListenFeed`
 * (Postgres LISTEN/NOTIFY) and `createPollFeed` (a timer).
 */
export interface Feed {
  /** Starts ringing `onDoorbell`; resolves once live (a doorbell rung after this is not missed). */
  start(onDoorbell: (reason: string) => void): Promise<void>;
  /** `'listen'` or `'poll'`. */
  readonly transport: 'listen' | 'poll';
  /** How many times the feed's connection came back after a loss. */
  readonly reconnects: number;
  close(): Promise<void>;
}
