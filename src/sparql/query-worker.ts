import { Store } from 'n3';
import { parentPort } from 'node:worker_threads';
import { GwgenError } from '../errors.js';
import type { GatewayModel } from '../model/types.js';
import { parseSources, type SourceFile } from '../pipeline/load.js';
import type { RenderedFile } from '../pipeline/render.js';
import { runQuery, sparqlEngine } from './engine.js';
import type { PlainOutcome, WorkerQuery } from './worker-client.js';

/**
 * Runs SPARQL queries over a model in a worker thread, so that loading Comunica and running
 * the queries overlap with validation on the main thread. Terms travel back as plain objects.
 */
export interface WorkerRequest {
  readonly sources: readonly SourceFile[];
  readonly queries: readonly WorkerQuery[];
  /** ISO instant for NOW(). */
  readonly now?: string;
  /** Render requests follow the queries: load the render modules as soon as the queries are done. */
  readonly renders?: boolean;
}

export interface WorkerReply {
  readonly ok: boolean;
  readonly results?: ReadonlyArray<{ readonly id: string; readonly outcome?: PlainOutcome; readonly problems?: GwgenError['problems'] }>;
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
  return performance.now() - t;
}

const warm = warmUp();

async function run(request: WorkerRequest): Promise<WorkerReply> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const loaded = parseSources(request.sources, { locate: false });
  timings['worker.parse'] = performance.now() - t;
  if (!loaded.ok) return { ok: false, timings };
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
            : {
                kind: 'bindings',
                variables: outcome.variables,
                rows: outcome.rows.map((row) =>
                  Object.fromEntries(
                    Object.entries(row).map(([k, term]) => {
                      const lit = term as typeof term & { datatype?: { value: string }; language?: string };
                      return [k, { termType: term.termType, value: term.value, ...(term.termType === 'Literal' ? { datatype: lit.datatype?.value ?? '', language: lit.language ?? '' } : {}) }];
                    }),
                  ),
                ),
              },
      });
    } catch (err) {
      if (err instanceof GwgenError) results.push({ id: q.id, problems: err.problems });
      else throw err;
    }
  }
  timings['worker.queries'] = performance.now() - t;
  return { ok: true, results, timings };
}

/**
 * After the queries, generate() may share the rendering with this thread: both take targets
 * from one list, claiming the next index with an atomic counter in shared memory, so neither
 * waits for the other's event loop. Rendering 1,000 routes takes ~0.8 s on one thread.
 */
export interface RenderRequest {
  readonly targets: readonly string[];
  /** Int32Array over a SharedArrayBuffer: index 0 is the next unclaimed target. */
  readonly claim: Int32Array;
  readonly model: GatewayModel;
  readonly templateDirs?: readonly string[];
}

export interface RenderReply {
  readonly files?: readonly RenderedFile[];
  readonly problems?: GwgenError['problems'];
  /** A fault in gwgen: the caller throws it as its own, so it reads as any internal error. */
  readonly error?: { readonly message: string; readonly stack?: string };
}

let renderModules: Promise<[typeof import('../pipeline/render.js'), typeof import('../pipeline/render-targets.js')]> | undefined;
const loadRenderModules = () => (renderModules ??= Promise.all([import('../pipeline/render.js'), import('../pipeline/render-targets.js')]));

async function render(request: RenderRequest): Promise<RenderReply> {
  const [{ createRenderer }, { renderClaimed }] = await loadRenderModules();
  try {
    return { files: await renderClaimed(createRenderer(request.templateDirs), request.targets, request.claim, request.model) };
  } catch (err) {
    if (err instanceof GwgenError) return { problems: err.problems };
    throw err;
  }
}

let queried = false;
parentPort?.on('message', (message: WorkerRequest | RenderRequest) => {
  if (!queried) {
    queried = true;
    run(message as WorkerRequest).then(
      (reply) => {
        parentPort?.postMessage(reply);
        // While the caller builds its model from the rows.
        if ((message as WorkerRequest).renders) void loadRenderModules();
      },
      (err: unknown) => parentPort?.postMessage({ ok: false, timings: {}, error: (err as Error)?.stack ?? String(err) } satisfies WorkerReply),
    );
    return;
  }
  render(message as RenderRequest).then(
    (reply) => parentPort?.postMessage(reply),
    (err: unknown) => parentPort?.postMessage({ error: { message: (err as Error)?.message ?? String(err), ...((err as Error)?.stack ? { stack: (err as Error).stack } : {}) } } satisfies RenderReply),
  );
});
