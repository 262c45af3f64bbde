import { Worker } from 'node:worker_threads';
import { GwgenError, problem, type Problem } from '../errors.js';
import type { SourceFile } from '../pipeline/load.js';
import type { Timings } from '../timings.js';
import type { QueryOutcome, Row } from './engine.js';
import { decodeCells } from './term-cells.js';
import type { WorkerReply, WorkerRequest } from './query-worker.js';

export interface WorkerQuery {
  readonly id: string;
  readonly text: string;
  /** File (or "-e") named in messages about this query. */
  readonly origin: string;
}

/** A query's outcome as the worker sends it (rows as cells: see term-cells.ts). */
export type WireOutcome =
  | { readonly kind: 'bindings'; readonly variables: readonly string[]; readonly count: number; readonly cells: readonly string[] }
  | { readonly kind: 'boolean'; readonly value: boolean };

/** Per query: its outcome, or the problems that stopped it (a query that does not parse). */
export type QueryResults = ReadonlyMap<string, { outcome?: QueryOutcome; problems?: readonly Problem[] }>;

export interface PendingQueries {
  /** Resolves with every query's result; rejects only on a fault in gwgen. */
  readonly result: Promise<QueryResults>;
  /** Stops the worker, e.g. because validation failed and the result is not needed. */
  cancel(): void;
}

/** PlainTerm has what gwgen reads of a Term (termType, value; datatype IRI and language). */
function fromWire(outcome: WireOutcome): QueryOutcome {
  if (outcome.kind === 'boolean') return outcome;
  return { kind: 'bindings', variables: outcome.variables, rows: decodeCells(outcome.variables, outcome.cells, outcome.count) as unknown as Row[] };
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
export function runQueriesInWorker(sources: readonly SourceFile[], queries: readonly WorkerQuery[], timings: Timings, options: { now?: Date } = {}): PendingQueries {
  const request: WorkerRequest = { sources, queries, ...(options.now ? { now: options.now.toISOString() } : {}) };
  const spawned = prestarted && !prestarted.exited() ? prestarted : spawnWorker();
  prestarted = undefined;
  const { worker } = spawned;
  worker.ref();
  worker.postMessage(request);
  let settled = false;
  const result = new Promise<QueryResults>((resolve, reject) => {
    worker.once('message', (reply: WorkerReply) => {
      settled = true;
      Object.assign(timings, reply.timings);
      void worker.terminate();
      if (!reply.ok || !reply.results) {
        reject(new GwgenError(problem('internal', `the query worker failed${reply.error ? `: ${reply.error}` : ''}`)));
        return;
      }
      resolve(new Map(reply.results.map((r) => [r.id, { ...(r.outcome ? { outcome: fromWire(r.outcome) } : {}), ...(r.problems ? { problems: r.problems } : {}) }])));
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
    cancel: () => {
      settled = true;
      void worker.terminate();
    },
  };
}

