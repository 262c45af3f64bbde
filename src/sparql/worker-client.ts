import { Worker } from 'node:worker_threads';
import { GwgenError, problem, type Problem } from '../errors.js';
import type { SourceFile } from '../pipeline/load.js';
import type { Timings } from '../timings.js';
import type { QueryOutcome } from './engine.js';
import type { GatewayModel } from '../model/types.js';
import type { RenderedFile } from '../pipeline/render.js';
import type { RenderReply, RenderRequest, WorkerReply, WorkerRequest } from './query-worker.js';

export interface WorkerQuery {
  readonly id: string;
  readonly text: string;
  /** File (or "-e") named in messages about this query. */
  readonly origin: string;
}

/** An RDF term as it crosses the thread boundary: what gwgen reads of a term. */
export interface PlainTerm {
  readonly termType: string;
  readonly value: string;
  readonly datatype?: string;
  readonly language?: string;
}

export type PlainOutcome =
  | { readonly kind: 'bindings'; readonly variables: readonly string[]; readonly rows: ReadonlyArray<Record<string, PlainTerm>> }
  | { readonly kind: 'boolean'; readonly value: boolean };

/** Per query: its outcome, or the problems that stopped it (a query that does not parse). */
export type QueryResults = ReadonlyMap<string, { outcome?: QueryOutcome; problems?: readonly Problem[] }>;

export interface PendingQueries {
  /** Resolves with every query's result; rejects only on a fault in gwgen. */
  readonly result: Promise<QueryResults>;
  /**
   * Only with `keepAlive`, after `result`: the worker renders targets of the list, claiming
   * each with an atomic add on `claim[0]` (see renderClaimed), and resolves with their files.
   */
  render(targets: readonly string[], claim: Int32Array, model: GatewayModel, templateDirs?: readonly string[]): Promise<RenderedFile[]>;
  /** Stops the worker: validation failed, or the run no longer needs it. */
  cancel(): void;
}

const WORKER_URL = new URL('./query-worker.js', import.meta.url);

function spawnWorker(): { worker: Worker; exited: () => boolean } {
  const worker = new Worker(WORKER_URL, {
    // A larger young generation cuts the scavenges of Comunica's many short-lived bindings.
    resourceLimits: { maxYoungGenerationSizeMb: 48 },
  });
  let exited = false;
  worker.once('exit', () => (exited = true));
  return { worker, exited: () => exited };
}

let prestarted: ReturnType<typeof spawnWorker> | undefined;

/**
 * Starts the query worker before it has work: it loads Comunica (~0.6 s) while the CLI loads
 * and reads and parses the model. The next runQueriesInWorker uses it. Until then it does not
 * keep the process alive, and a failure of it only means the next run starts a fresh one.
 */
export function prestartQueryWorker(): void {
  if (prestarted) return;
  prestarted = spawnWorker();
  prestarted.worker.unref();
  prestarted.worker.on('error', () => undefined);
}

/**
 * Parses the model and runs the queries in a worker thread (sparql/query-worker.ts) while the
 * caller goes on, typically validating. Comunica's load and the queries then cost no wall
 * time beyond what validation takes anyway.
 */
export function runQueriesInWorker(
  sources: readonly SourceFile[],
  queries: readonly WorkerQuery[],
  timings: Timings,
  options: { now?: Date; /** Keep the worker for render() until cancel(). */ keepAlive?: boolean } = {},
): PendingQueries {
  const request: WorkerRequest = { sources, queries, ...(options.now ? { now: options.now.toISOString() } : {}), ...(options.keepAlive ? { renders: true } : {}) };
  const spawned = prestarted && !prestarted.exited() ? prestarted : spawnWorker();
  prestarted = undefined;
  const { worker, exited } = spawned;
  worker.ref();
  worker.postMessage(request);
  let settled = false;
  const result = new Promise<QueryResults>((resolve, reject) => {
    worker.once('message', (reply: WorkerReply) => {
      settled = true;
      Object.assign(timings, reply.timings);
      if (!options.keepAlive) void worker.terminate();
      if (!reply.ok || !reply.results) {
        reject(new GwgenError(problem('internal', `the query worker failed${reply.error ? `: ${reply.error}` : ''}`)));
        return;
      }
      // PlainTerm has what gwgen reads of a Term (termType, value, datatype IRI, language).
      resolve(new Map(reply.results.map((r) => [r.id, { ...(r.outcome ? { outcome: r.outcome as unknown as QueryOutcome } : {}), ...(r.problems ? { problems: r.problems } : {}) }])));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new GwgenError(problem('internal', `the query worker exited with code ${code}`)));
    });
  });
  // A cancelled run must not leave an unhandled rejection behind.
  result.catch(() => undefined);
  return {
    result,
    render: (targets, claim, model, templateDirs) =>
      new Promise<RenderedFile[]>((resolve, reject) => {
        if (exited()) {
          reject(new GwgenError(problem('internal', 'the query worker exited before rendering')));
          return;
        }
        const onExit = (code: number) => reject(new GwgenError(problem('internal', `the query worker exited with code ${code} while rendering`)));
        worker.once('exit', onExit);
        worker.once('message', (reply: RenderReply) => {
          worker.off('exit', onExit);
          if (reply.files) resolve([...reply.files]);
          else if (reply.problems) reject(new GwgenError(reply.problems));
          else reject(Object.assign(new Error(reply.error?.message ?? 'the query worker failed to render'), reply.error?.stack ? { stack: reply.error.stack } : {}));
        });
        worker.postMessage({ targets, claim, model, ...(templateDirs ? { templateDirs } : {}) } satisfies RenderRequest);
      }),
    cancel: () => {
      settled = true;
      void worker.terminate();
    },
  };
}

