import type { Subscription } from 'rxjs';
import { changeJson, errorJson } from '../domain/changeJson.js';
import { RuleValidationError, type RuleStoreError } from '../domain/errors.js';
import type { RuleChange } from '../domain/ruleChange.js';
import type { RuleStore } from '../store/ruleStore.js';

/** One SSE connection as the hub sees it: frames in, nothing out. */
export interface HubClient {
  /** Writes one complete SSE frame. */
  send(frame: string): void;
  /** Ends the connection (the hub's stream failed; the client reconnects and resumes). */
  end(): void;
}

/** What `follow` returns. */
export interface HubHandle {
  detach(): void;
}

/** Options of {@link createChangeHub}. */
export interface ChangeHubOptions {
  /** Recent changes kept in memory for resuming clients (default 1000). */
  replayBuffer: number;
  /** Heartbeat comment interval, ms. */
  heartbeatMs: number;
}

/** Many SSE clients over one store subscription. */
export interface ChangeHub {
  follow(since: bigint | null, client: HubClient): HubHandle;
  readonly clients: number;
  /** Null while the shared subscription runs; why it stopped otherwise. */
  readonly failure: string | null;
  close(): void;
}

/** An SSE frame; `data` is one line of JSON (JSON.stringify never emits a raw newline). */
export function sseFrame(event: string, data: unknown, id?: string): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The frame of one change: `id:` the position, `event:` the kind, `data:` the `watch --json` object. */
export function changeFrame(change: RuleChange): string {
  return sseFrame(change.kind, changeJson(change), change.position);
}

interface Entry {
  readonly position: bigint;
  readonly frame: string;
}

interface Follower {
  readonly client: HubClient;
  last: bigint;
  live: boolean;
  own: Subscription | null;
}

/**
 * The shared change stream behind `GET /api/v1/ttp/changes`.
 *
 * One `changesSince(start)` subscription feeds every live client, and keeps the
 * last `replayBuffer` frames: it is contiguous from `start`, so a client whose
 * position is at or above the buffer's floor is served from the buffer and then
 * live, with no gap (every position above the floor is in the buffer) and no
 * duplicate (each client only gets positions above its own last). A client from
 * further back gets its own `changesSince(since)` (with the compacted resync
 * and the `truncated` event when `since` is below the retained log) until it
 * reaches the floor, then joins the shared stream the same way. Each frame is
 * serialised once, whatever the number of clients.
 */
export function createChangeHub(store: RuleStore, options: ChangeHubOptions): ChangeHub {
  const start = BigInt(store.position());
  let floor = start;
  let last = start;
  let failure: string | null = null;
  const buffer: Entry[] = [];
  const followers = new Set<Follower>();

  const deliver = (follower: Follower, entry: Entry): void => {
    if (entry.position <= follower.last) return;
    follower.last = entry.position;
    follower.client.send(entry.frame);
  };
  const goLive = (follower: Follower): void => {
    follower.own?.unsubscribe();
    follower.own = null;
    for (const entry of buffer) deliver(follower, entry);
    follower.live = true;
    const position = follower.last > last ? follower.last : last;
    follower.client.send(sseFrame('ready', { kind: 'ready', position: position.toString() }));
  };

  const shared = store.changesSince(start).subscribe({
    next: (change) => {
      const entry = { position: BigInt(change.position), frame: changeFrame(change) };
      last = entry.position;
      buffer.push(entry);
      if (buffer.length > options.replayBuffer) floor = buffer.shift()!.position;
      for (const follower of followers) {
        if (follower.live) deliver(follower, entry);
        else if (follower.last >= floor) goLive(follower);
      }
    },
    error: (error: unknown) => stop(`the shared change stream failed: ${(error as Error).message}`),
    complete: () => stop('the store closed'),
  });
  const errors = store.errors$.subscribe((error: RuleStoreError) => {
    // A stored row that does not compile: every client hears of it, as `watch --json` prints it.
    if (!(error instanceof RuleValidationError) || error.ruleId === null) return;
    const frame = sseFrame('rule-error', { kind: 'error', ...errorJson(error) });
    for (const follower of followers) follower.client.send(frame);
  });
  const heartbeat = setInterval(() => {
    for (const follower of followers) follower.client.send(': heartbeat\n\n');
  }, options.heartbeatMs);
  heartbeat.unref();

  function stop(reason: string): void {
    if (failure !== null) return;
    failure = reason;
    clearInterval(heartbeat);
    errors.unsubscribe();
    for (const follower of followers) {
      follower.own?.unsubscribe();
      follower.client.end();
    }
    followers.clear();
  }

  return {
    get clients() {
      return followers.size;
    },
    get failure() {
      return failure;
    },
    follow(since, client) {
      const follower: Follower = { client, last: since ?? last, live: false, own: null };
      if (failure !== null) {
        client.end();
        return { detach: () => {} };
      }
      followers.add(follower);
      if (follower.last >= floor) {
        goLive(follower);
      } else {
        const from = follower.last;
        const truncated = store.errors$.subscribe((error) => {
          // changesSince reports a resume from below the retained log on errors$, naming the position.
          if (error.code === 'LOG_TRUNCATED' && error.message.startsWith(`position ${from} `)) {
            client.send(sseFrame('truncated', { kind: 'truncated', ...errorJson(error) }));
          }
        });
        follower.own = store.changesSince(from).subscribe({
          next: (change) => {
            if (follower.live) return;
            deliver(follower, { position: BigInt(change.position), frame: changeFrame(change) });
            if (follower.last >= floor) goLive(follower);
          },
          error: () => client.end(),
        });
        follower.own.add(truncated);
      }
      return {
        detach() {
          follower.own?.unsubscribe();
          followers.delete(follower);
        },
      };
    },
    close() {
      shared.unsubscribe();
      stop('the server closed');
    },
  };
}
