import { watch as fsWatch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
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
  /** Stops watching; resolves once a run in progress has ended (one still generating writes nothing). */
  stop(): Promise<void>;
  /** Resolves when the watcher has stopped; rejects when a run failed unexpectedly (watching then stops). */
  readonly done: Promise<void>;
}

/** What a run of watch generates from, worked out anew before each run (the pack's templates, checked against gwgen.lock). */
export type PrepareInput = (input: GenerateInput) => Promise<{ readonly input?: GenerateInput; readonly problems: readonly Problem[] }>;

/** How often each model file is also stat-ed, for the changes its folder's events do not show. */
export const POLL_INTERVAL_MS = 300;

/** What a model file is at the moment, following symbolic links: a change of any part means new content. */
async function signature(file: string): Promise<string> {
  const st = await stat(file, { bigint: true }).catch(() => undefined);
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : 'missing';
}

/**
 * Generates once, then again after every change of a model file (debounced), until stopped.
 * A failed run is reported through `onRun` and watching goes on. The directories of the model
 * files are watched, not the files, so editors that replace a file on save are seen at once.
 * Each file is stat-ed every POLL_INTERVAL_MS too: a folder watch does not see a change to the
 * file a symbolic link leads to, nor anything in a folder that was removed and made again.
 */
export function watch(input: GenerateInput, options: WriteOptions, onRun: (event: WatchEvent) => void, debounceMs = 150, prepare?: PrepareInput): Watcher {
  const files = [...new Set(input.models.map((m) => resolve(m)))];
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  // Files a folder event named since the last run: they run even when their stat looks the same
  // (a rewrite within the file system's timestamp granularity, of the same length).
  let named = new Set<string>();
  // Each file's signature when the last run read it: a poll or an unnamed event runs only if one differs.
  let seen = new Map<string, string>();
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => ((finish = res), (fail = rej)));
  // One query worker for every run: a regeneration finds Comunica loaded and its code warm.
  const queryWorker = keepQueryWorker();

  const signatures = async () => new Map(await Promise.all(files.map(async (f) => [f, await signature(f)] as const)));

  /** One run; `batch` is the files named by folder events, undefined for the first run. */
  const run = async (batch: ReadonlySet<string> | undefined) => {
    if (stopped) return;
    const now = await signatures();
    const changed = batch ? files.filter((f) => batch.has(f) || now.get(f) !== seen.get(f)) : [];
    seen = now;
    if (batch && changed.length === 0) return;
    const event = (generation: WatchEvent['generation']) => onRun({ generation, changed: changed.map((f) => basename(f)) });
    let runInput = input;
    if (prepare) {
      // Checked again on every run: a pack may have been modified or reinstalled meanwhile.
      const prepared = await prepare(input).catch((err: unknown) => (err instanceof GwgenError ? { input: undefined, problems: err.problems } : Promise.reject(err)));
      if (!prepared.input) {
        event({ ok: false, problems: prepared.problems, timings: {} });
        return;
      }
      runInput = prepared.input;
    }
    const result = await generate(runInput, {}, { queries: queryWorker.run });
    // Interrupted while generating: the user asked to stop, so nothing more is written or reported.
    if (stopped) return;
    // A file changed while this run read it: what it read may be a save half done (an editor that
    // truncates, then writes), so its problems or its output would be a state that never existed.
    // Neither is reported nor written; the run the change schedules reads the file whole.
    const after = await signatures();
    if (files.some((f) => after.get(f) !== now.get(f))) {
      schedule();
      return;
    }
    if (!result.ok) event(result);
    else event({ ok: true, write: await writeOutput(result, options) });
  };
  // A poll calls this when the file's stat differs from the poll before.
  const poll = () => schedule();
  const unwatch = () => {
    stopped = true;
    clearTimeout(timer);
    for (const w of watchers) w.close();
    for (const f of files) unwatchFile(f, poll);
  };
  const enqueue = (batch?: ReadonlySet<string>) => {
    // Runs one after another, never interleaved; an unexpected error ends watching through `done`.
    running = running.then(() => run(batch)).catch(async (err: unknown) => {
      unwatch();
      await queryWorker.close();
      fail(err);
    });
  };
  const schedule = (file?: string) => {
    if (stopped) return;
    if (file) named.add(file);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const batch = named;
      named = new Set();
      enqueue(batch);
    }, debounceMs);
  };
  for (const dir of new Set(files.map((f) => dirname(f)))) {
    const w = fsWatch(dir, (_event, name) => {
      const full = name ? resolve(dir, name.toString()) : undefined;
      if (full && files.includes(full)) schedule(full);
    });
    // A folder that goes away may end its watcher with an error on some systems; the polls go on.
    w.on('error', () => w.close());
    watchers.push(w);
  }
  for (const f of files) watchFile(f, { interval: POLL_INTERVAL_MS }, poll);
  enqueue(undefined);

  return {
    done,
    async stop() {
      unwatch();
      await running;
      await queryWorker.close();
      finish();
    },
  };
}
