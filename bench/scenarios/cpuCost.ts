import { load as loadYaml } from 'js-yaml';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_RULE_STATE, compileRule, parseRule } from '../../src/index.js';
import { ruleText } from '../support/ruleText.js';
import { summarize } from '../support/stats.js';
import type { Scenario } from '../support/scenario.js';

/** CPU per call of one step in the store's per-change path, µs. */
export interface CpuCost {
  readonly id: string;
  readonly label: string;
  readonly p50Us: number;
  readonly meanUs: number;
}

/**
 * Explains the gap to the floor: CPU the store spends per change that the floor
 * does not. The writer validates every document (`parseRule`) and every store,
 * the writer's included, compiles every definition change it reads
 * (`compileRule`); both are dominated by the YAML parse. Timed in batches of
 * 50 calls (a single call is near the timer's resolution), each on a fresh
 * document so that no cache can help.
 */
export function measureCpuCosts(options: { calls: number }): CpuCost[] {
  const batch = 50;
  const texts = Array.from({ length: options.calls + 500 }, (_, i) => ruleText(1_000_000 + i));
  const steps: { id: string; label: string; run: (text: string) => unknown }[] = [
    { id: 'yamlParse', label: 'YAML parse of the ~450-byte rule document (`yaml` package, the parser before 0.2.0)', run: (t) => parseYaml(t) },
    { id: 'jsYamlLoad', label: 'YAML load of the same document (`js-yaml`, core schema: the bare parser under parseSeedYaml)', run: (t) => loadYaml(t) },
    { id: 'parseRule', label: 'parseRule: YAML + zod validation (the writer, per upsertRule)', run: (t) => parseRule(t) },
    { id: 'compileRule', label: 'compileRule: parse + validate + freeze (every store, per definition change read)', run: (t) => compileRule(t, DEFAULT_RULE_STATE) },
  ];
  return steps.map((step) => {
    for (let i = 0; i < 500; i++) step.run(texts[i]!);
    const perCall: number[] = [];
    for (let i = 500; i + batch <= texts.length; i += batch) {
      const start = performance.now();
      for (let k = i; k < i + batch; k++) step.run(texts[k]!);
      perCall.push(((performance.now() - start) * 1000) / batch);
    }
    const s = summarize(perCall);
    return { id: step.id, label: step.label, p50Us: s.p50, meanUs: s.mean };
  });
}

/** Where the gap to the floor goes: CPU per change that only the store spends. */
export const cpuScenario: Scenario<{ calls: number }> = {
  id: 'cpu',
  title: 'CPU per change',
  measures: 'CPU per change spent only by the store (decode, compile, emit), in this process',
  plan: { quick: { calls: 500 }, full: { calls: 3000 } },
  async run(_context, plan) {
    return { cpu: measureCpuCosts(plan) };
  },
};
