/** Wall time per pipeline stage, in milliseconds, for `--timings` and the benchmark. */
export type Timings = Record<string, number>;

export async function timed<T>(timings: Timings, stage: string, work: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    timings[stage] = (timings[stage] ?? 0) + (performance.now() - start);
  }
}
