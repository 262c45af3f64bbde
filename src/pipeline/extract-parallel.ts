import { Worker } from 'node:worker_threads';
import type { Term } from 'n3';
import { GwgenError, problem } from '../errors.js';
import type { Timings } from '../timings.js';
import type { Concept, Extraction } from './extract.js';
import type { SourceFile } from './load.js';
import type { WorkerReply } from './extract-worker.js';

export interface PendingExtraction {
  /** Resolves with the extraction; rejects only on a fault in gwgen. */
  readonly result: Promise<Extraction>;
  /** Stops the worker, e.g. because validation failed and the result is not needed. */
  cancel(): void;
}

/** Starts the extraction of the model in a worker thread; see extract-worker.ts for why. */
export function startExtraction(sources: readonly SourceFile[], timings: Timings): PendingExtraction {
  const worker = new Worker(new URL('./extract-worker.js', import.meta.url), {
    workerData: sources,
    // A larger young generation cuts the scavenges of Comunica's many short-lived bindings.
    resourceLimits: { maxYoungGenerationSizeMb: 48 },
  });
  let settled = false;
  const result = new Promise<Extraction>((resolve, reject) => {
    worker.once('message', (reply: WorkerReply) => {
      settled = true;
      Object.assign(timings, reply.timings);
      void worker.terminate();
      if (!reply.ok || !reply.extraction) {
        reject(new GwgenError(problem('internal', `the extraction worker failed${reply.error ? `: ${reply.error}` : ''}`)));
        return;
      }
      const x = {} as Record<Concept, Map<string, Map<string, Term[]>>>;
      for (const [concept, nodes] of Object.entries(reply.extraction)) {
        x[concept as Concept] = new Map(nodes.map(([id, bag]) => [id, new Map(bag.map(([p, terms]) => [p, terms as unknown as Term[]]))]));
      }
      resolve(x);
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new GwgenError(problem('internal', `the extraction worker exited with code ${code}`)));
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
