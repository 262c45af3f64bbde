import { formatProblem, visible, type Problem } from '../errors.js';

let outputFailed = false;

/**
 * A reader that stops early (`gwgen query … | head -1`) closes the pipe: further output has
 * nowhere to go, which is no fault of the run. Without a listener Node would throw EPIPE as
 * an unhandled 'error' event, with a stack trace. The command still ends with its exit code.
 * Any other failure (a full disk behind `> rows.csv`) means the output is incomplete: it is
 * said once on stderr, without a stack trace, and the run exits 1 (see failedOutput). stderr only
 * carries messages: its failures are ignored.
 */
export function tolerateClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      // stderr only carries messages: nowhere to say that it failed, and no result was lost.
      if (err.code === 'EPIPE' || stream === process.stderr || outputFailed) return;
      outputFailed = true;
      // Whichever comes last sets the exit code: this, or the command's (failedOutput() in main).
      if (!process.exitCode) process.exitCode = 1;
      // Node's "ENOSPC: no space left on device, write" without the code and the call.
      const why = (err.message ?? '').replace(/^[A-Z]+: /, '').replace(/, \w+$/, '') || String(err.code);
      process.stderr.write(`error: cannot write the output: ${why}${err.code ? ` (${err.code})` : ''}\n  hint: the output is incomplete; check where stdout goes (a full disk, a closed device)\n`);
    });
  }
}

/** Whether writing the results to stdout failed during the run (a reader closing the pipe is no failure). */
export function failedOutput(): boolean {
  return outputFailed;
}

/** The only place that writes to the terminal. Commands return exit codes; this prints. */
export const out = {
  /** Results (generated listings, query rows): stdout, so they can be piped. */
  result(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  },
  /**
   * Progress and summaries: stderr, so stdout stays clean for results. They name paths the user
   * gave (an output directory, a model file), which may hold an ESC or a line break: one message,
   * one line, that cannot drive the terminal, as for problems.
   */
  info(text: string): void {
    process.stderr.write(`${visible(text)}\n`);
  },
  problems(problems: readonly Problem[]): void {
    for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
    const n = problems.length;
    if (n > 1) process.stderr.write(`${n} problems\n`);
  },
  internal(err: unknown, debug: boolean): void {
    const e = err as Error;
    process.stderr.write(`internal error: ${visible(String(e?.message ?? err))}\n`);
    if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('  hint: this is a fault in gwgen; run again with --debug for the stack trace and please report it\n');
  },
};
