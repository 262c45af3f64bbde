import { parentPort, workerData } from 'node:worker_threads';
import { extract, type Extraction } from './extract.js';
import { parseSources, type SourceFile } from './load.js';
import { sparqlEngine } from '../sparql/engine.js';

/**
 * Runs the SPARQL extraction in a worker thread, so that loading Comunica (~0.6 s) and running
 * the queries overlap with validation on the main thread. Terms are sent back as plain
 * { termType, value } objects: all build-model.ts reads of them.
 */
export interface WorkerReply {
  readonly ok: boolean;
  readonly extraction?: Record<string, Array<[string, Array<[string, Array<{ termType: string; value: string }>]>]>>;
  readonly timings: Record<string, number>;
  readonly error?: string;
}

async function run(sources: SourceFile[]): Promise<WorkerReply> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const engine = sparqlEngine();
  const loaded = parseSources(sources);
  timings['worker.parse'] = performance.now() - t;
  if (!loaded.ok) return { ok: false, timings };
  t = performance.now();
  await engine;
  timings['worker.engine'] = performance.now() - t;
  t = performance.now();
  const x: Extraction = await extract(loaded.model.store);
  timings['worker.queries'] = performance.now() - t;
  const plain: NonNullable<WorkerReply['extraction']> = {};
  for (const [concept, nodes] of Object.entries(x)) {
    plain[concept] = [...nodes].map(([id, bag]) => [id, [...bag].map(([p, terms]) => [p, terms.map((term) => ({ termType: term.termType, value: term.value }))])]);
  }
  return { ok: true, extraction: plain, timings };
}

run(workerData as SourceFile[]).then(
  (reply) => parentPort?.postMessage(reply),
  (err: unknown) => parentPort?.postMessage({ ok: false, timings: {}, error: (err as Error)?.stack ?? String(err) } satisfies WorkerReply),
);
