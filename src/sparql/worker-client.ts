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

/** A worker waiting for work: it does not keep the process alive, and its failure only means the next run needs another. */
function spawnIdleWorker(): ReturnType<typeof spawnWorker> {
  const spawned = spawnWorker();
  spawned.worker.unref();
  spawned.worker.on('error', () => undefined);
  return spawned;
}

let prestarted: ReturnType<typeof spawnWorker> | undefined;

/**
 * Starts the query worker before it has work: it loads Comunica (~0.6 s) while the CLI loads
 * and reads and parses the model. The next runQueriesInWorker uses it. Until then it does not
 * keep the process alive, and a failure of it only means the next run starts a fresh one.
 */
export function prestartQueryWorker(): void {
  prestarted ??= spawnIdleWorker();
}

/** The signature of runQueriesInWorker, which a kept worker's `run` shares. */
export type QueryRunner = (sources: readonly SourceFile[], queries: readonly WorkerQuery[], timings: Timings, options?: { now?: Date }) => PendingQueries;

/**
 * Parses the model and runs the queries in a worker thread (sparql/query-worker.ts) while the
 * caller goes on, typically validating. Comunica's load and the queries then cost no wall
 * time beyond what validation takes anyway. The worker ends with the run.
 */
export const runQueriesInWorker: QueryRunner = (sources, queries, timings, options = {}) => {
  const spawned = prestarted && !prestarted.exited() ? prestarted : spawnWorker();
  prestarted = undefined;
  return dispatch(spawned, sources, queries, timings, options, { keep: false });
};

/** A query worker that serves run after run, until closed. */
export interface KeptQueryWorker {
  readonly run: QueryRunner;
  /** The thread that serves the next run (tests check that runs share it). */
  readonly threadId: number | undefined;
  close(): Promise<void>;
}

/**
 * A worker kept for a long-lived caller (gwgen watch): Comunica stays loaded and V8 keeps the
 * code it optimized, so a regeneration does not pay the worker's start again (~0.3 s) nor its
 * cold first queries. A cancelled run (the model turned out invalid) ends the worker, which
 * would otherwise run queries nobody reads before the next run's; a fresh one starts at once
 * and loads Comunica while the user edits. A worker that died is replaced on the next run.
 */
export function keepQueryWorker(): KeptQueryWorker {
  let closed = false;
  // Idle between runs, it must not keep the process alive (dispatch refs it while it works).
  let current: ReturnType<typeof spawnWorker> | undefined = spawnIdleWorker();
  return {
    run(sources, queries, timings, options = {}) {
      if (closed) throw new Error('the query worker was closed');
      if (!current || current.exited()) current = spawnIdleWorker();
      const spawned = current;
      return dispatch(spawned, sources, queries, timings, options, {
        keep: true,
        onCancel: () => {
          if (current === spawned) current = closed ? undefined : spawnIdleWorker();
        },
      });
    },
    get threadId() {
      return current?.worker.threadId;
    },
    async close() {
      closed = true;
      const worker = current?.worker;
      current = undefined;
      await worker?.terminate();
    },
  };
}

let lastId = 0;

function dispatch(
  spawned: ReturnType<typeof spawnWorker>,
  sources: readonly SourceFile[],
  queries: readonly WorkerQuery[],
  timings: Timings,
  options: { now?: Date },
  mode: { keep: boolean; onCancel?: () => void },
): PendingQueries {
  const id = ++lastId;
  const request: WorkerRequest = { id, sources, queries, ...(options.now ? { now: options.now.toISOString() } : {}) };
  const { worker } = spawned;
  worker.ref();
  worker.postMessage(request);
  let settled = false;
  // Listeners come off when the run settles: a kept worker serves many runs.
  const detach = () => {
    worker.off('message', onMessage);
    worker.off('error', onError);
    worker.off('exit', onExit);
  };
  let resolve!: (results: QueryResults) => void;
  let reject!: (err: unknown) => void;
  const result = new Promise<QueryResults>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  function onMessage(reply: WorkerReply) {
    if (reply.id !== id) return;
    settled = true;
    detach();
    Object.assign(timings, reply.timings);
    if (mode.keep) worker.unref();
    else void worker.terminate();
    if (!reply.ok || !reply.results) {
      reject(new GwgenError(problem('internal', `the query worker failed${reply.error ? `: ${reply.error}` : ''}`)));
      return;
    }
    resolve(new Map(reply.results.map((r) => [r.id, { ...(r.outcome ? { outcome: fromWire(r.outcome) } : {}), ...(r.problems ? { problems: r.problems } : {}) }])));
  }
  function onError(err: Error) {
    settled = true;
    detach();
    reject(err);
  }
  function onExit(code: number) {
    detach();
    if (!settled) reject(new GwgenError(problem('internal', `the query worker exited with code ${code}`)));
    settled = true;
  }
  worker.on('message', onMessage);
  worker.on('error', onError);
  worker.on('exit', onExit);
  // A cancelled run must not leave an unhandled rejection behind.
  result.catch(() => undefined);
  return {
    result,
    cancel: () => {
      settled = true;
      detach();
      void worker.terminate();
      mode.onCancel?.();
    },
  };
}
