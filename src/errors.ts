/**
 * Problems are values: every stage returns them instead of throwing, so one run can report
 * every problem of a model at once. Only the CLI turns them into text and exit codes.
 */

/** Where a problem sits: a file position, an RDF node, or both. */
export interface SourceLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** IRI of the node, or a readable path such as `<route> agw:hasRateLimiter []` for blank nodes. */
  readonly node?: string;
  /** The property concerned, as a prefixed name (`agw:routePath`). */
  readonly property?: string;
}

export type ProblemCode =
  | 'usage'
  | 'file-not-found'
  | 'syntax'
  | 'empty-model'
  | 'shacl'
  | 'semantic'
  | 'model-schema'
  | 'query'
  | 'render'
  | 'write'
  | 'hand-edited'
  | 'locked'
  | 'internal';

export interface Problem {
  readonly code: ProblemCode;
  /** Short rule name, e.g. `sh:MinCountConstraintComponent` or `duplicate-route-name`. */
  readonly rule?: string;
  readonly message: string;
  /** What the user can do about it. */
  readonly hint?: string;
  readonly location?: SourceLocation;
}

/**
 * Thrown only to abort a run from deep inside a stage; the public API catches it and returns
 * its problems. `exitCode` is the CLI's code for it (interfaces.md).
 */
export class GwgenError extends Error {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[] | Problem) {
    const list = Array.isArray(problems) ? problems : [problems as Problem];
    super(list.map((p) => p.message).join('\n'));
    this.name = 'GwgenError';
    this.problems = list;
  }
}

export function problem(code: ProblemCode, message: string, extra: Omit<Problem, 'code' | 'message'> = {}): Problem {
  return { code, message, ...extra };
}

/** Exit code per interfaces.md for a set of problems. */
export function exitCodeFor(problems: readonly Problem[]): number {
  if (problems.some((p) => p.code === 'usage' || p.code === 'file-not-found')) return 2;
  if (problems.some((p) => p.code === 'hand-edited' || p.code === 'locked')) return 3;
  return 1;
}

/** `file:line:col` and/or `<node>` — the location prefix of a problem line. */
export function formatLocation(loc: SourceLocation | undefined): string {
  if (!loc) return '';
  const parts: string[] = [];
  if (loc.file) {
    let pos = loc.file;
    if (loc.line !== undefined) pos += `:${loc.line}`;
    if (loc.line !== undefined && loc.column !== undefined) pos += `:${loc.column}`;
    parts.push(pos);
  }
  if (loc.node) parts.push(loc.node.startsWith('<') || loc.node.startsWith('_:') || loc.node.includes(' ') ? loc.node : `<${loc.node}>`);
  if (loc.property) parts.push(loc.property);
  return parts.join(' ');
}

/**
 * Characters a terminal does not show as text: C0 controls but the tab (an ESC starts an escape
 * sequence, a CR or a line feed rewrites or splits the line), DEL and C1 controls, and the
 * bidirectional marks, overrides and isolates that reorder what is shown ("Trojan Source").
 */
const INVISIBLE = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;

/** Text for a terminal: each invisible character written as a `\uXXXX` escape, as JSON writes it. */
export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One problem as the CLI prints it: `location: message` and an indented hint. A message quotes
 * the model, file names and parser output, so it is made visible: one problem, one line.
 */
export function formatProblem(p: Problem): string {
  const where = formatLocation(p.location);
  const head = visible(`${where ? `${where}: ` : ''}error: ${p.message}${p.rule ? ` [${p.rule}]` : ''}`);
  return p.hint ? `${head}\n  hint: ${visible(p.hint)}` : head;
}
