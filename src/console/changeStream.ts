/** What the stream reports to the page. */
export interface StreamHandlers {
  /** A change to one rule (`data` is the `watch --json` object). */
  change(ruleId: string, kind: string, position: string | null): void;
  /** Live after `position` (first connect and every resume). */
  live(position: string): void;
  down(): void;
  /** The resume point was older than the retained log: reload everything. */
  truncated(): void;
}

/**
 * Follows `GET /api/v1/ttp/changes`. After a drop it reconnects with
 * `?since=` the last position it saw, so no change is missed or seen twice.
 */
export function followChanges(handlers: StreamHandlers): void {
  let last: string | null = null;
  const connect = (): void => {
    const source = new EventSource(`/api/v1/ttp/changes${last !== null ? `?since=${last}` : ''}`);
    for (const kind of ['definition', 'deleted', 'state']) {
      source.addEventListener(kind, (event) => {
        const message = event as MessageEvent<string>;
        last = message.lastEventId;
        handlers.change((JSON.parse(message.data) as { ruleId: string }).ruleId, kind, message.lastEventId);
      });
    }
    source.addEventListener('ready', (event) => {
      const position = (JSON.parse((event as MessageEvent<string>).data) as { position: string }).position;
      last ??= position;
      handlers.live(position);
    });
    // A stored row that no longer compiles: no change follows, but its row must show the error.
    source.addEventListener('rule-error', (event) => {
      const ruleId = (JSON.parse((event as MessageEvent<string>).data) as { ruleId: string | null }).ruleId;
      if (ruleId !== null) handlers.change(ruleId, 'error', null);
    });
    source.addEventListener('truncated', () => handlers.truncated());
    source.onerror = () => {
      source.close();
      handlers.down();
      setTimeout(connect, 1000);
    };
  };
  connect();
}
