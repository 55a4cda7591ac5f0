// @ts-check
/**
 * The subscriber of the largeRows scenario, in a process of its own so that
 * its memory is its own, running the built package under plain node (no tsx):
 *
 *   node bench/support/largeRowsSubscriber.mjs <postgres url>
 *
 * Opens a store on listen and subscribes `changes$` and `errors$` before it
 * says `ready`; from then on it samples its RSS every 10 ms (and reads the
 * process's high-water mark, which also catches a peak while the event loop is
 * blocked). `{ type: 'idle' }` answers its RSS now; `{ type: 'expect',
 * positions, timeoutMs }` answers, once every one of `positions` came as an
 * error or a change (or at the timeout), what it saw and when the last came. Messages are the
 * ChildMessage shape of child.ts.
 */
const [url] = process.argv.slice(2);
if (!url) throw new Error('usage: largeRowsSubscriber.mjs <postgres url>');
/** @type {import('../../src/index.js')} */
const lib = await import(new URL('../../dist/index.js', import.meta.url).href);
/** @param {Record<string, unknown>} message */
const send = (message) => void process.send?.(message);
const stamp = () => Number(process.hrtime.bigint()) / 1e6;
/** @param {number} bytes */
const mb = (bytes) => bytes / 1024 / 1024;

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 10);
const peak = () => Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);

/** Position -> what arrived for it (an error code, or 'change') and when (the monotonic clock, shared with the bench). */
const seen = new Map();
/** Errors without a position (counted, not matched to a row). */
let unplaced = 0;
/** @type {(() => void) | null} */
let onArrival = null;
const arrived = () => void onArrival?.();

const store = await lib.openRuleStore({ url, transport: 'listen' });
store.changes$.subscribe((change) => {
  seen.set(change.position, { what: 'change', at: stamp() });
  arrived();
});
store.errors$.subscribe((error) => {
  const position = /** @type {{ position?: unknown }} */ (error).position;
  const code = /** @type {{ code?: unknown }} */ (error).code;
  if (typeof position === 'string') seen.set(position, { what: `error:${String(code ?? error.name)}`, at: stamp() });
  else unplaced++;
  arrived();
});

/** @param {string[]} positions @param {number} timeoutMs */
async function expect(positions, timeoutMs) {
  const t0 = stamp();
  const done = () => positions.every((p) => seen.has(p));
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    onArrival = () => {
      if (done()) {
        clearTimeout(timer);
        resolve(undefined);
      }
    };
    onArrival();
  });
  onArrival = null;
  /** @type {Record<string, number>} */
  const codes = {};
  let errors = 0;
  let changes = 0;
  let lastAt = 0;
  for (const p of positions) {
    const entry = seen.get(p);
    if (entry === undefined) continue;
    const what = entry.what;
    lastAt = Math.max(lastAt, entry.at);
    if (what === 'change') changes++;
    else {
      errors++;
      const code = what.slice('error:'.length);
      codes[code] = (codes[code] ?? 0) + 1;
    }
  }
  send({ type: 'done', waitedMs: stamp() - t0, lastAt, errors, changes, missing: positions.length - errors - changes, unplaced, codes, peakRssMb: mb(peak()), rssMb: mb(process.memoryUsage.rss()) });
}

process.on('message', (/** @type {Record<string, unknown>} */ message) => {
  const run =
    message['type'] === 'idle'
      ? Promise.resolve(send({ type: 'idle', rssMb: mb(process.memoryUsage.rss()), peakRssMb: mb(peak()) }))
      : message['type'] === 'expect'
        ? expect(/** @type {string[]} */ (message['positions']), Number(message['timeoutMs']))
        : message['type'] === 'stop'
          ? store.close().then(() => {
              clearInterval(sampler);
              process.exit(0);
            })
          : Promise.resolve();
  run.catch((error) => send({ type: 'error', message: String(error) }));
});
send({ type: 'ready' });
