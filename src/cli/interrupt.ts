/**
 * `gwgen watch` ends with exit 0 on SIGINT or SIGTERM. Its own handler, which lets a write under
 * way finish, is set once the watcher runs; a signal before that (while Node loads gwgen, or the
 * model files are read) would end the process by that signal instead (exit 130 or 143), which a
 * supervisor that stops it early takes for a failure. So such a signal is noted, and watch stops
 * before its first run. Only the first: a second one ends the process as it would have, in case
 * reading a model never ends (a named pipe nobody writes to).
 */
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

let noting = false;
let caught = false;
const note = () => {
  caught = true;
  release();
};
const release = () => {
  for (const signal of SIGNALS) process.off(signal, note);
};

/** Notes the first SIGINT or SIGTERM from now on instead of ending the process. Once per process. */
export function noteEarlyInterrupt(): void {
  if (noting) return;
  noting = true;
  for (const signal of SIGNALS) process.on(signal, note);
}

/** Whether a SIGINT or SIGTERM came since noteEarlyInterrupt. */
export function interruptedEarly(): boolean {
  return caught;
}

/** From now on, every SIGINT or SIGTERM calls stop. */
export function whenInterrupted(stop: () => void): void {
  release();
  // on, not once: a signal held back during a write (see holdingSignals) is raised again, and must find this handler.
  for (const signal of SIGNALS) process.on(signal, stop);
}
