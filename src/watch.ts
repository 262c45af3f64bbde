import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { dirname, basename, resolve } from 'node:path';
import { GwgenError, type Problem } from './errors.js';
import { keepQueryWorker } from './sparql/worker-client.js';
import { generate, writeOutput, type GenerateInput, type WriteOptions, type WriteResult, type GenerateResult } from './generate.js';

export interface WatchEvent {
  readonly generation: Extract<GenerateResult, { ok: false }> | { readonly ok: true; readonly write: WriteResult };
  /** The files whose change triggered this run; empty for the first run. */
  readonly changed: readonly string[];
}

export interface Watcher {
  /** Stops watching; resolves once a run in progress has finished. */
  stop(): Promise<void>;
  /** Resolves when the watcher has stopped. */
  readonly done: Promise<void>;
}

/** What a run of watch generates from, worked out anew before each run (the pack's templates, checked against gwgen.lock). */
export type PrepareInput = (input: GenerateInput) => Promise<{ readonly input?: GenerateInput; readonly problems: readonly Problem[] }>;

/**
 * Generates once, then again after every change of a model file (debounced), until stopped.
 * A failed run is reported through `onRun` and watching goes on. The directories of the model
 * files are watched, not the files, so editors that replace a file on save are seen too.
 */
export function watch(input: GenerateInput, options: WriteOptions, onRun: (event: WatchEvent) => void, debounceMs = 150, prepare?: PrepareInput): Watcher {
  const files = new Set(input.models.map((m) => resolve(m)));
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let pending = new Set<string>();
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  // One query worker for every run: a regeneration finds Comunica loaded and its code warm.
  const queryWorker = keepQueryWorker();

  const run = (changed: string[]) => {
    running = running.then(async () => {
      if (stopped) return;
      let runInput = input;
      if (prepare) {
        // Checked again on every run: a pack may have been modified or reinstalled meanwhile.
        const prepared = await prepare(input).catch((err: unknown) => (err instanceof GwgenError ? { input: undefined, problems: err.problems } : Promise.reject(err)));
        if (!prepared.input) {
          onRun({ generation: { ok: false, problems: prepared.problems, timings: {} }, changed });
          return;
        }
        runInput = prepared.input;
      }
      const result = await generate(runInput, {}, { queries: queryWorker.run });
      if (!result.ok) onRun({ generation: result, changed });
      else onRun({ generation: { ok: true, write: await writeOutput(result, options) }, changed });
    });
  };

  for (const dir of new Set([...files].map((f) => dirname(f)))) {
    watchers.push(
      fsWatch(dir, (_event, name) => {
        const full = name ? resolve(dir, name.toString()) : undefined;
        if (!full || !files.has(full)) return;
        pending.add(full);
        clearTimeout(timer);
        timer = setTimeout(() => {
          const changed = [...pending].map((f) => basename(f));
          pending = new Set();
          run(changed);
        }, debounceMs);
      }),
    );
  }
  run([]);

  return {
    done,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
      await running;
      await queryWorker.close();
      finish();
    },
  };
}
