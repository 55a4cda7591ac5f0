import { request, type IncomingMessage } from 'node:http';

/** One parsed SSE event. */
export interface SseEvent {
  readonly id: string | null;
  readonly event: string;
  readonly data: string;
}

/** A raw SSE client over node:http, so a test sees every frame (comments too) and can drop the socket. */
export interface SseClient {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly events: SseEvent[];
  readonly comments: string[];
  /** Resolves with the first event (from the start) matching `predicate`. */
  waitFor(predicate: (event: SseEvent) => boolean, timeoutMs?: number, what?: string): Promise<SseEvent>;
  waitForCount(kind: (event: SseEvent) => boolean, count: number, timeoutMs?: number): Promise<SseEvent[]>;
  waitForComment(timeoutMs?: number): Promise<string>;
  close(): void;
}

/** Opens `url` as an event stream; resolves once the response headers arrived. */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | null = null;
          let event = 'message';
          const data: string[] = [];
          let hasField = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) (id = line.slice(4)), (hasField = true);
            else if (line.startsWith('event: ')) (event = line.slice(7)), (hasField = true);
            else if (line.startsWith('data: ')) data.push(line.slice(6)), (hasField = true);
          }
          if (hasField && data.length > 0) events.push({ id, event, data: data.join('\n') });
        }
        for (const waiter of [...waiters]) waiter();
      });
      const wait = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
        new Promise((done, fail) => {
          const attempt = (): boolean => {
            const value = check();
            if (value === undefined) return false;
            clearTimeout(timer);
            waiters.delete(poke);
            done(value);
            return true;
          };
          const poke = (): void => void attempt();
          const timer = setTimeout(() => {
            waiters.delete(poke);
            fail(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${events.length} events: ${events.slice(-3).map((e) => e.event).join(', ')}`));
          }, timeoutMs);
          if (!attempt()) waiters.add(poke);
        });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        waitFor: (predicate, timeoutMs = 10_000, what = 'an event') => wait(() => events.find(predicate), timeoutMs, what),
        waitForCount: (predicate, count, timeoutMs = 10_000) =>
          wait(() => {
            const matching = events.filter(predicate);
            return matching.length >= count ? matching : undefined;
          }, timeoutMs, `${count} events`),
        waitForComment: (timeoutMs = 10_000) => wait(() => comments[0], timeoutMs, 'a comment'),
        close: () => {
          req.destroy();
          res.destroy();
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}
