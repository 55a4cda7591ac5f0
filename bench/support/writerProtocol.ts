/** Commands the bench process sends to its writer child (see writerProcess.ts). */
export type WriterOp = 'connect' | 'commit' | 'floor' | 'notify' | 'openStore' | 'upsert' | 'setState' | 'burst' | 'closeStore' | 'close';

/**
 * What a `burst` writes, back to back on one connection: rule definitions or
 * states, through the store (`upsert`, `setState`) or as the same rows in raw
 * SQL on the same tables (`rawUpsert`, `rawState`; the triggers still write the log).
 */
export type BurstKind = 'rawUpsert' | 'upsert' | 'rawState' | 'setState';

export interface WriterRequest {
  readonly id: number;
  readonly op: WriterOp;
  readonly args: Record<string, unknown>;
}

/** `t0`/`t1`: monotonic stamps (ms, see clock.ts) right before and after the write. */
export interface WriterReply {
  readonly id: number;
  readonly t0?: number;
  readonly t1?: number;
  readonly error?: string;
}
