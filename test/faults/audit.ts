import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RuleChange } from '../../src/index.js';

/** Full sizes with TTP_FAULTS=full (`npm run test:faults`); a fast subset otherwise (`npm test`). */
export const FULL = process.env['TTP_FAULTS'] === 'full';

/** What a consumer saw, against the positions the database committed. */
export interface DeliveryAudit {
  readonly committed: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
}

/** Counts lost, duplicated and out-of-order deliveries of `seen` against the `committed` positions. */
export function auditDelivery(seen: readonly Pick<RuleChange, 'position'>[], committed: readonly string[]): DeliveryAudit {
  const counts = new Map<string, number>();
  let outOfOrder = 0;
  let last = -1n;
  for (const change of seen) {
    counts.set(change.position, (counts.get(change.position) ?? 0) + 1);
    const p = BigInt(change.position);
    if (p <= last) outOfOrder++;
    last = p > last ? p : last;
  }
  const lost = committed.filter((p) => !counts.has(p)).length;
  const duplicated = [...counts.values()].reduce((n, c) => n + (c - 1), 0);
  return { committed: committed.length, delivered: seen.length, lost, duplicated, outOfOrder };
}

/** One row of the README's Reliability table. */
export interface ReliabilityRow extends DeliveryAudit {
  readonly scenario: string;
  readonly faults: string;
  readonly recoveryMs: number | null;
  readonly note?: string;
}

/** Where the full suite records its figures (the README's Reliability table is made from them). */
export const RESULTS_FILE = new URL('../../bench/reliability.jsonl', import.meta.url).pathname;

/** Records a row when running the full suite (TTP_FAULTS=full); the fast subset records nothing. */
export function recordReliability(row: ReliabilityRow): void {
  console.log(`reliability: ${JSON.stringify(row)}`);
  if (!FULL) return;
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  appendFileSync(RESULTS_FILE, `${JSON.stringify({ ...row, at: new Date().toISOString() })}\n`);
}
