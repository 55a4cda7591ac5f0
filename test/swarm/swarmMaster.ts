// The master process: syncs a rules directory into the store and follows it.
import { openRuleStore, syncDirectory } from '../../src/index.js';

const [url, dir] = process.argv.slice(2) as [string, string];
const store = await openRuleStore({ url, pollIntervalMs: 50 });
const sync = await syncDirectory(store, dir, { watch: true, updatedBy: 'master' });
process.on('message', (message: { type: string }) => {
  if (message.type === 'idle') void sync.idle().then(() => process.send?.({ type: 'idle' }));
  if (message.type === 'stop') void sync.close().then(() => store.close()).then(() => process.exit(0));
});
process.send?.({ type: 'ready', initial: { upserted: sync.initial.upserted.length, deleted: sync.initial.deleted.length } });
