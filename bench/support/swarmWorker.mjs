// @ts-check
/**
 * A rule engine of the swarm scenario: holds a `watchRules` index, on the built
 * package under plain node (run with --expose-gc so its memory can be read
 * after a full collection).
 *
 *   node --expose-gc bench/support/swarmWorker.mjs <url>
 *
 * Sends `{ type: 'ready', rules, loadMs }` once its first index is built.
 * Messages (child.ts's ChildMessage):
 *   `expect { count }` -> `{ type: 'reached', at }` as soon as the index holds
 *     `count` rules (`at`: the shared monotonic clock, ms, as bench/support/clock.ts);
 *   `memory` -> `{ type: 'memory', rss, heapUsed, rules }` after a full GC (bytes);
 *   `stop`.
 */
const [url] = process.argv.slice(2);
if (!url) throw new Error('usage: swarmWorker.mjs <url>');
/** @type {import('../../src/index.js')} */
const lib = await import(new URL('../../dist/index.js', import.meta.url).href);
const stamp = () => Number(process.hrtime.bigint()) / 1e6;
/** @param {Record<string, unknown>} message */
const send = (message) => void process.send?.(message);

const t0 = stamp();
const store = await lib.openRuleStore({ url, transport: 'listen' });
/** @type {import('../../src/index.js').RuleIndex | null} */
let current = null;
/** @type {number | null} */
let expected = null;
const check = () => {
  if (expected !== null && current !== null && current.byId.size >= expected) {
    expected = null;
    send({ type: 'reached', at: stamp(), rules: current.byId.size });
  }
};
lib.watchRules(store).subscribe({
  next: (index) => {
    const first = current === null;
    current = index;
    if (first) send({ type: 'ready', rules: index.byId.size, loadMs: stamp() - t0 });
    check();
  },
  error: (error) => {
    send({ type: 'error', message: String(error) });
    process.exit(1);
  },
});
process.on('message', (/** @type {Record<string, unknown>} */ message) => {
  if (message['type'] === 'expect') {
    expected = Number(message['count']);
    check();
  } else if (message['type'] === 'memory') {
    const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc;
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    send({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed, rules: current?.byId.size ?? 0 });
  } else if (message['type'] === 'stop') {
    void store.close().then(() => process.exit(0));
  }
});
