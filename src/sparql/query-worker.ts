import { Store } from 'n3';
import { parentPort } from 'node:worker_threads';
import { GwgenError } from '../errors.js';
import { parseSources, type SourceFile } from '../pipeline/load.js';
import { runQuery, saveEngineCodeCache, sparqlEngine } from './engine.js';
import { encodeCells } from './term-cells.js';
import type { WireOutcome, WorkerQuery } from './worker-client.js';

/**
 * Runs SPARQL queries over a model in a worker thread, so that loading Comunica and running
 * the queries overlap with validation on the main thread. Terms travel back as plain objects.
 */
export interface WorkerRequest {
  /** Echoed in the reply: a worker kept across runs (gwgen watch) serves one request after another. */
  readonly id: number;
  readonly sources: readonly SourceFile[];
  readonly queries: readonly WorkerQuery[];
  /** ISO instant for NOW(). */
  readonly now?: string;
}

export interface WorkerReply {
  readonly id: number;
  readonly ok: boolean;
  readonly results?: ReadonlyArray<{ readonly id: string; readonly outcome?: WireOutcome; readonly problems?: GwgenError['problems'] }>;
  readonly timings: Record<string, number>;
  readonly error?: string;
}

/**
 * Loads Comunica and runs one query over an empty store, which sets up its actors (~0.25 s on
 * the first query), as soon as the worker starts: often before the request arrives (see
 * prestartQueryWorker).
 */
async function warmUp(): Promise<number> {
  const t = performance.now();
  await sparqlEngine();
  await runQuery(new Store(), 'SELECT ?s WHERE { ?s a agw:ApiGateway } ORDER BY ?s', 'warm-up');
  // After a query, so that the cache also holds what the first query compiled.
  saveEngineCodeCache();
  return performance.now() - t;
}

const warm = warmUp();

async function run(request: WorkerRequest): Promise<WorkerReply> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const loaded = parseSources(request.sources, { locate: false });
  timings['worker.parse'] = performance.now() - t;
  if (!loaded.ok) return { id: request.id, ok: false, timings };
  t = performance.now();
  timings['worker.engine'] = await warm;
  timings['worker.wait'] = performance.now() - t;
  t = performance.now();
  const results: NonNullable<WorkerReply['results']>[number][] = [];
  for (const q of request.queries) {
    try {
      const outcome = await runQuery(loaded.model.store, q.text, q.origin, request.now ? { now: new Date(request.now) } : {});
      results.push({
        id: q.id,
        outcome:
          outcome.kind === 'boolean'
            ? outcome
            : { kind: 'bindings', variables: outcome.variables, count: outcome.rows.length, cells: encodeCells(outcome.variables, outcome.rows) },
      });
    } catch (err) {
      if (err instanceof GwgenError) results.push({ id: q.id, problems: err.problems });
      else throw err;
    }
  }
  timings['worker.queries'] = performance.now() - t;
  return { id: request.id, ok: true, results, timings };
}

// One request at a time, in order: a kept worker's next run waits for the one before.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (request: WorkerRequest) => {
  queue = queue.then(() =>
    run(request).then(
      (reply) => parentPort?.postMessage(reply),
      (err: unknown) => parentPort?.postMessage({ id: request.id, ok: false, timings: {}, error: (err as Error)?.stack ?? String(err) } satisfies WorkerReply),
    ),
  );
});
