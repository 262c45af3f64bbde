import { formatProblem, type Problem } from '../errors.js';

/**
 * A reader that stops early (`gwgen query … | head -1`) closes the pipe: further output has
 * nowhere to go, which is no fault of the run. Without a listener Node would throw EPIPE as
 * an unhandled 'error' event, with a stack trace. The command still ends with its exit code.
 */
export function tolerateClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}

/** The only place that writes to the terminal. Commands return exit codes; this prints. */
export const out = {
  /** Results (generated listings, query rows): stdout, so they can be piped. */
  result(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  },
  /** Progress and summaries: stderr, so stdout stays clean for results. */
  info(text: string): void {
    process.stderr.write(`${text}\n`);
  },
  problems(problems: readonly Problem[]): void {
    for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
    const n = problems.length;
    if (n > 1) process.stderr.write(`${n} problems\n`);
  },
  internal(err: unknown, debug: boolean): void {
    const e = err as Error;
    process.stderr.write(`internal error: ${e?.message ?? String(err)}\n`);
    if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('  hint: this is a fault in gwgen; run again with --debug for the stack trace and please report it\n');
  },
};
