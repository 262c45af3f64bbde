import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE } from '../../config.js';
import { exitCodeFor } from '../../errors.js';
import type { GenerateInput } from '../../generate.js';
import { packGenerateInput } from '../../pack/pack.js';
import { readSources } from '../../pipeline/load.js';
import { summarizePlan } from '../../pipeline/write.js';
import { POLL_INTERVAL_MS, watch, type Watcher } from '../../watch.js';
import { interruptedEarly, noteEarlyInterrupt, whenInterrupted } from '../interrupt.js';
import { out } from '../output.js';
import type { Run } from '../program.js';
import { addTargets, onePack, runInput, type RunFlags } from './run-input.js';

type WatchFlags = RunFlags & { readonly force?: boolean };

export function registerWatch(program: Command, run: Run): void {
  program
    .command('watch')
    .description('generate, then regenerate on every change of a model file, until interrupted')
    .argument('[model...]', 'Turtle model files, merged into one model; default: those named by ./gwgen.json')
    .option('-o, --out <dir>', 'output directory (default: "./generated", or "out" of gwgen.json)')
    .option('-t, --targets <list>', 'comma-separated targets, repeatable; default: every target the model has data for', addTargets)
    .option('--force', 'overwrite files edited by hand')
    .option('--pack <name>', 'render with the templates of an installed pack (gwgen pack install), as generate --pack does', onePack)
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen watch examples/research-platform.ttl -o out     # Ctrl-C to stop

An invalid model is reported and watching goes on; the output directory keeps the last good output.`,
    )
    .action((modelArgs: string[], flags: WatchFlags) =>
      run(async () => {
        noteEarlyInterrupt();
        // Without model arguments the models, output folder and targets are gwgen.json's: an edit
        // of it (another model, another target) is taken up as a model edit is, without a restart.
        const config = modelArgs.length === 0 ? resolve(CONFIG_FILE) : undefined;
        let stopping = false;
        let current: Watcher | undefined;
        let wake = () => {};
        for (let first = true; ; first = false) {
          const started = await startWatching(modelArgs, flags, first);
          if ('exit' in started) {
            if (first || config === undefined) return started.exit;
            out.info(`not watching until ${CONFIG_FILE} changes again`);
          }
          if (first) whenInterrupted(() => ((stopping = true), void current?.stop(), wake()));
          current = 'watcher' in started ? started.watcher : undefined;
          if (stopping) {
            await current?.stop();
            return 0;
          }
          const edited = config === undefined ? undefined : onChange(config);
          // Until a signal, an edit of gwgen.json, or the end of the watcher (a run that failed unexpectedly).
          await new Promise<void>((woken) => {
            wake = woken;
            void edited?.next.then(woken);
            current?.done.then(woken, woken);
          });
          edited?.cancel();
          if (stopping || !edited?.happened()) {
            // done rejects when a run failed unexpectedly: that is the command's error.
            await current?.done;
            return 0;
          }
          await current?.stop();
          out.info(`${CONFIG_FILE} changed: reading it again`);
        }
      }),
    );
}

/**
 * Resolves the run's input and starts the watcher on it, or prints why it cannot (a usage
 * problem; at the start, a missing model file) and returns the exit code: at the start of watch
 * that ends it; after an edit of gwgen.json, watch waits for the next one.
 */
async function startWatching(
  modelArgs: readonly string[],
  flags: WatchFlags,
  first: boolean,
): Promise<{ watcher: Watcher } | { exit: number }> {
  const resolved = await runInput(modelArgs, flags, 'watch');
  if ('exit' in resolved) return resolved;
  const { input, outDir } = resolved;
  // A model file that is not there at the start is a usage error (exit 2), not something to wait
  // for. After gwgen.json was read again it is what a model missing while watching is: reported
  // by the run, and generated from once it is back (an editor's save, a checkout under way).
  const missing = first ? (await readSources(input.models)).problems.filter((p) => p.code === 'file-not-found') : [];
  if (missing.length > 0) {
    out.problems(missing);
    return { exit: exitCodeFor(missing) };
  }
  // Stopped before the first run: nothing was written, and nothing is.
  if (interruptedEarly()) return { exit: 0 };
  // The pack is checked against gwgen.lock before every run, not only the first: it may be
  // modified (refused) or reinstalled (its new templates and pin are used) while watching.
  const pack = flags.pack;
  const prepare = pack === undefined ? undefined : async (base: GenerateInput) => {
    const { input: packed, problems } = await packGenerateInput(pack);
    return packed ? { input: { ...base, ...packed }, problems } : { problems };
  };
  const watcher = watch(input, { outDir, force: Boolean(flags.force) }, (event) => {
    const why = event.changed.length ? `${event.changed.join(', ')} changed: ` : '';
    if (!event.generation.ok) {
      out.problems(event.generation.problems);
      const packRefused = event.generation.problems.every((p) => p.code === 'usage' || p.code === 'file-not-found');
      out.info(`${why}${packRefused ? 'not generated' : 'model invalid'}, ${outDir} left as it was; watching`);
    } else if (!event.generation.write.ok) {
      out.problems(event.generation.write.problems);
      out.info(`${why}not written, ${outDir} left as it was; watching`);
    } else {
      out.info(`${why}generated into ${outDir}: ${summarizePlan(event.generation.write.plan)}; watching`);
    }
  }, undefined, prepare);
  return { watcher };
}

/** Polls `file` (gwgen.json is small, and editors replace it on save): `next` resolves on its first change. */
function onChange(file: string): { next: Promise<void>; happened: () => boolean; cancel: () => void } {
  let happened = false;
  let resolveNext!: () => void;
  const next = new Promise<void>((r) => (resolveNext = r));
  const listener = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    happened = true;
    unwatchFile(file, listener);
    resolveNext();
  };
  watchFile(file, { interval: POLL_INTERVAL_MS }, listener);
  return { next, happened: () => happened, cancel: () => unwatchFile(file, listener) };
}
