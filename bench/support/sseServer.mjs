// @ts-check
/**
 * The SSE scenario's server: one store (listen) and `createRuleServer` on the
 * built package under plain node, so its memory is a deployment's.
 *
 *   node --expose-gc bench/support/sseServer.mjs <url>
 *
 * Sends `{ type: 'ready', url }` once listening. Messages:
 *   `memory` -> `{ type: 'memory', rss, heapUsed }` after a full GC (bytes);
 *   `stop`.
 */
const [url] = process.argv.slice(2);
if (!url) throw new Error('usage: sseServer.mjs <url>');
/** @type {import('../../src/index.js')} */
const lib = await import(new URL('../../dist/index.js', import.meta.url).href);
/** @param {Record<string, unknown>} message */
const send = (message) => void process.send?.(message);

const store = await lib.openRuleStore({ url, transport: 'listen' });
const server = await lib.createRuleServer(store, { port: 0 });
send({ type: 'ready', url: server.url });
process.on('message', (/** @type {{ type: string }} */ message) => {
  if (message.type === 'memory') {
    globalThis.gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    send({ type: 'memory', rss, heapUsed });
  } else if (message.type === 'stop') {
    void server
      .close()
      .then(() => store.close())
      .finally(() => process.exit(0));
  }
});
