/** A latency distribution, in milliseconds. */
export interface LatencySummary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of an ascending array (`q` in [0, 1]). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/** Summarises raw samples (ms); the input is not modified. */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/**
 * The distribution as 101 points, the 0th to the 100th percentile (nearest
 * rank; the 0th is the minimum): enough to draw its CDF, small enough for
 * the JSON of `--json`.
 */
export function percentiles(samples: readonly number[]): number[] {
  const sorted = [...samples].sort((a, b) => a - b);
  return Array.from({ length: 101 }, (_, i) => (i === 0 ? (sorted[0] ?? Number.NaN) : percentile(sorted, i / 100)));
}
