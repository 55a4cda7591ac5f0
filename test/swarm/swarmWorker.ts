// A rule engine process: holds a watchRules index, persists it after every change
// (so a restart resumes from its last seen position), answers "report" over IPC.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { openRuleStore, ruleIndexFromJson, ruleIndexToJson, watchRules, type RuleIndex } from '../../src/index.js';
import { digestRules } from './digest.js';

const [url, stateFile] = process.argv.slice(2) as [string, string];
const store = await openRuleStore({ url, pollIntervalMs: 50 });
const resumed = existsSync(stateFile) ? ruleIndexFromJson(JSON.parse(readFileSync(stateFile, 'utf8'))) : undefined;
let current: RuleIndex | null = null;
watchRules(store, resumed ? { from: resumed } : {}).subscribe({
  next: (index) => {
    current = index;
    writeFileSync(`${stateFile}.tmp`, JSON.stringify(ruleIndexToJson(index)));
    renameSync(`${stateFile}.tmp`, stateFile);
  },
  error: (error) => {
    process.send?.({ type: 'error', message: String(error) });
    process.exit(1);
  },
});
process.on('message', (message: { type: string }) => {
  if (message.type === 'report') {
    process.send?.({
      type: 'report',
      resumedFrom: resumed?.position ?? null,
      position: store.position(),
      indexPosition: current?.position ?? null,
      digest: current ? digestRules(current.byId.values()) : null,
      count: current?.byId.size ?? 0,
    });
  } else if (message.type === 'stop') {
    void store.close().then(() => process.exit(0));
  }
});
process.send?.({ type: 'ready', resumedFrom: resumed?.position ?? null });
