/**
 * Summarises the CPU profiles a profiled bench run wrote (`--cpu-prof`): self
 * time per function and per package or source file, biggest first.
 *
 *   BENCH_CPU_PROF_DIR=/tmp/prof node --cpu-prof --cpu-prof-dir=/tmp/prof \
 *     --import tsx bench/run.ts --only=throughput
 *   node --import tsx bench/profile.ts /tmp/prof [--top 25] [--match catchUpConsumer]
 *
 * One table per profile file (each process writes its own); `--match` keeps the
 * files whose profile mentions that script.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame lives: a package name, a file of this repository, or a Node/V8 internal. */
function place(url: string): string {
  if (url === '') return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const repo = /\/(src|bench|dist|test)\/(.*)$/.exec(url);
  if (repo) return `${repo[1]}/${repo[2]}`;
  return url.startsWith('node:') ? url : url.replace(/^file:\/\//, '');
}

/** Self time (ms) per function and per place, from the samples' time deltas. */
export function summariseProfile(profile: Profile): { totalMs: number; byFunction: [string, number][]; byPlace: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const where = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') return;
    total += dt;
    const key = `${functionName || '(anonymous)'} ${place(url)}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + dt);
    where.set(place(url), (where.get(place(url)) ?? 0) + dt);
  });
  const sort = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: total, byFunction: sort(fn), byPlace: sort(where) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, match: { type: 'string' } } });
  const dir = positionals[0];
  if (!dir) throw new Error('usage: bench/profile.ts <dir of .cpuprofile files> [--top N] [--match TEXT]');
  const top = Number(values.top);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    if (values.match && !text.includes(values.match)) continue;
    const s = summariseProfile(JSON.parse(text) as Profile);
    console.log(`\n== ${file}: ${s.totalMs.toFixed(0)} ms on CPU (idle excluded)`);
    console.log('-- by package / file');
    for (const [k, v] of s.byPlace.slice(0, 12)) console.log(`${v.toFixed(0).padStart(7)} ms ${((100 * v) / s.totalMs).toFixed(1).padStart(5)} %  ${k}`);
    console.log('-- by function (self)');
    for (const [k, v] of s.byFunction.slice(0, top)) console.log(`${v.toFixed(0).padStart(7)} ms ${((100 * v) / s.totalMs).toFixed(1).padStart(5)} %  ${k}`);
  }
}
