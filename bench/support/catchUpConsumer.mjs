// @ts-check
/**
 * The consumer of the catch-up scenario, in a process of its own so that its
 * memory is its own, running the built package under plain node (no tsx):
 *
 *   node bench/support/catchUpConsumer.mjs <postgres url> store|raw
 *
 * `store`: opens a store, then on `{ type: 'catchUp', from, expected }`
 * subscribes `changesSince(from)` and times the delivery of `expected` changes,
 * reporting its peak RSS. `raw` (the baseline): on `{ type: 'raw', from, upTo }`
 * reads the same log rows with postgres.js (same columns, pages of 1000, no
 * decoding). Messages are the ChildMessage shape of child.ts.
 */
import postgres from 'postgres';

const [url, mode] = process.argv.slice(2);
if (!url) throw new Error('usage: catchUpConsumer.mjs <postgres url> store|raw');
/** @type {import('../../src/index.js')} */
const lib = await import(new URL('../../dist/index.js', import.meta.url).href);
/** @param {Record<string, unknown>} message */
const send = (message) => void process.send?.(message);
const stamp = () => Number(process.hrtime.bigint()) / 1e6;
/** @param {number} bytes */
const mb = (bytes) => bytes / 1024 / 1024;

const store = mode === 'store' ? await lib.openRuleStore({ url, transport: 'listen' }) : null;
const sql = mode === 'raw' ? postgres(url, { max: 1, onnotice: () => {} }) : null;
if (sql) await sql`SELECT 1`;

/** @param {string} from @param {number} expected */
async function catchUp(from, expected) {
  if (!store) throw new Error('not a store consumer');
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  let peakHeap = process.memoryUsage().heapUsed;
  let definitions = 0;
  let seen = 0;
  const t0 = stamp();
  await new Promise((resolve, reject) => {
    const subscription = store.changesSince(from).subscribe({
      next: (change) => {
        seen++;
        if (change.kind === 'definition') definitions++;
        if (seen % 5000 === 0) {
          const m = process.memoryUsage();
          peakRss = Math.max(peakRss, m.rss);
          peakHeap = Math.max(peakHeap, m.heapUsed);
        }
        if (seen === expected) {
          subscription.unsubscribe();
          resolve(undefined);
        }
      },
      error: reject,
    });
  });
  const ms = stamp() - t0;
  // maxRSS is the process's high-water mark (KiB): it also catches a peak between samples.
  const maxRss = process.resourceUsage().maxRSS * 1024;
  send({ type: 'caughtUp', ms, seen, definitions, rssBeforeMb: mb(rssBefore), peakRssMb: mb(Math.max(peakRss, maxRss)), peakHeapMb: mb(peakHeap) });
}

/** @param {string} from @param {string} upTo */
async function rawRead(from, upTo) {
  if (!sql) throw new Error('not a raw consumer');
  let watermark = from;
  let rows = 0;
  const t0 = stamp();
  for (;;) {
    const page = await sql`
      SELECT position, rule_id, entity, op, rule_row, state_row, actor, recorded_at FROM ttp_rule_event
       WHERE position > ${watermark}::bigint AND position <= ${upTo}::bigint ORDER BY position LIMIT 1000`;
    rows += page.length;
    if (page.length === 0) break;
    watermark = String(page.at(-1)?.['position']);
  }
  send({ type: 'rawRead', ms: stamp() - t0, rows, peakRssMb: mb(process.resourceUsage().maxRSS * 1024) });
}

process.on('message', (/** @type {Record<string, unknown>} */ message) => {
  const run =
    message['type'] === 'catchUp'
      ? catchUp(String(message['from']), Number(message['expected']))
      : message['type'] === 'raw'
        ? rawRead(String(message['from']), String(message['upTo']))
        : message['type'] === 'stop'
          ? Promise.all([store?.close(), sql?.end({ timeout: 5 })]).then(() => process.exit(0))
          : Promise.resolve();
  run.catch((error) => send({ type: 'error', message: String(error) }));
});
send({ type: 'ready' });
