// @ts-check
/**
 * The master of the swarm scenario: syncs a rules directory into the store and
 * follows it (`syncDirectory` with `watch`), on the built package under plain node.
 *
 *   node bench/support/swarmMaster.mjs <url> <rules dir>
 *
 * Messages (child.ts's ChildMessage): `idle` -> `{ type: 'idle' }` once no file
 * event is pending and no batch is being applied; `stop`.
 */
const [url, dir] = process.argv.slice(2);
if (!url || !dir) throw new Error('usage: swarmMaster.mjs <url> <rules dir>');
/** @type {import('../../src/index.js')} */
const lib = await import(new URL('../../dist/index.js', import.meta.url).href);
const store = await lib.openRuleStore({ url });
const sync = await lib.syncDirectory(store, dir, { watch: true, updatedBy: 'master' });
let upserted = 0;
sync.reports$.subscribe((report) => (upserted += report.upserted.length));
process.on('message', (/** @type {{ type: string }} */ message) => {
  if (message.type === 'idle') void sync.idle().then(() => process.send?.({ type: 'idle', upserted }));
  if (message.type === 'stop') void sync.close().then(() => store.close()).then(() => process.exit(0));
});
process.send?.({ type: 'ready', initial: sync.initial.upserted.length });
