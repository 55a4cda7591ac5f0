/**
 * Timestamps for latency measurements, in milliseconds.
 *
 * `performance.now()` is Node's reading of CLOCK_MONOTONIC minus this process's
 * start; adding `performance.timeOrigin` back would mix in a wall-clock sample.
 * A writer in a child process and a subscriber in this one must share one
 * clock, so every stamp here is `performance.timeOrigin`-free: the raw
 * monotonic clock (`process.hrtime`), which is the same clock `performance.now()`
 * ticks on and is system-wide on Linux, hence comparable across processes.
 */
export function stamp(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves after `ms` (for idle windows and poll-phase jitter; never for waiting on a result). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
