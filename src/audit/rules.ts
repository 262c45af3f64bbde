import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { problem, type Problem } from '../errors.js';
import { decodeUtf8, fileIdentity, readFailure } from '../pipeline/load.js';
import { QUERIES_DIR } from '../paths.js';
import { formOffset, normalizeQueryText, positionAt, queryShape } from '../sparql/scan.js';

export type Severity = 'error' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];

/**
 * An audit rule: a SPARQL SELECT in a .rq file whose header comments carry its metadata.
 *
 *   # id: route-without-rate-limit
 *   # severity: warning
 *   # title: Route without a rate limiter
 *   # message: Route {?focus} ({?path}) has no rate limiter.
 *   # description: (optional) what the rule looks for
 *   # help: (optional) how to fix a finding
 *   # MESSAGE: Route without a rate limiter        ← so the file also works as a ggen gate
 *
 * Every row is a finding; `?focus` names the node it is about.
 */
export interface AuditRule {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  /** With `{?var}` placeholders filled from the row. */
  readonly message: string;
  readonly description: string;
  readonly help: string;
  /** The SELECT; empty for UNKNOWN_SUPPRESSION_RULE, which gwgen checks itself. */
  readonly query: string;
  /** The .rq file; empty for UNKNOWN_SUPPRESSION_RULE. */
  readonly file: string;
  /** The lines of its `# id:` and `# message:` headers, for problems about them. */
  readonly lines?: { readonly id?: number; readonly message?: number };
}

export const BUILTIN_RULES_DIR = join(QUERIES_DIR, 'audit');

/**
 * The one built-in rule that is no query: whether a suppression names a rule that exists takes
 * the ids of the rules loaded for this run (--rules included), which a query of the model cannot
 * know. audit() checks it after the query rules and lists it with them (SARIF rules included).
 */
export const UNKNOWN_SUPPRESSION_RULE: AuditRule = {
  id: 'unknown-suppression',
  severity: 'warning',
  title: 'Audit suppression of an unknown rule',
  message: '{?focus} suppresses "{?rule}", which is not the id of any loaded audit rule: it suppresses nothing.',
  description: 'agw:auditSuppress names a rule id that none of the rules of this run has: a misspelling, or a rule of a --rules directory not given this time. The suppression has no effect.',
  help: 'Correct the rule id (gwgen audit --format sarif lists every rule), pass the --rules directory that defines it, or remove the suppression.',
  query: '',
  file: '',
};

/**
 * A suppression of a rule that finds nothing on its node suppresses nothing: one stated on the
 * gateway for its routes, on an agw:MutualTLS for its service, or left after the fix. Checked by
 * audit() after the other rules; info, so it fails no --fail-on level.
 */
export const UNUSED_SUPPRESSION_RULE: AuditRule = {
  id: 'unused-suppression',
  severity: 'info',
  title: 'Audit suppression that suppresses nothing',
  message: '{?focus} suppresses "{?rule}", which finds nothing on it: a suppression covers only the findings about the node it is stated on.',
  description: 'agw:auditSuppress names a rule that has no finding about this node: the finding it was meant for is about another node (a suppression on the gateway does not cover its routes, one on an agw:MutualTLS not its service or mesh), or it is gone.',
  help: 'Move the suppression to the node the finding is about (the focus of the finding, where the audit locates it), or remove it.',
  query: '',
  file: '',
};

const HEADER = /^#\s*([A-Za-z]+):\s?(.*)$/;

/** Parses one rule file; problems name the file and say what is missing. */
export function parseRule(file: string, raw: string): { rule?: AuditRule; problems: Problem[] } {
  // No byte order mark, "\n" line ends: what the query runs from (see normalizeQueryText).
  const text = normalizeQueryText(raw);
  const meta = new Map<string, string>();
  // The line of each header, so a wrong value is reported where it is written.
  const lines = new Map<string, number>();
  for (const [i, line] of text.split('\n').entries()) {
    // The header is the comment block before the query: a comment inside it ("# note: ...",
    // "# severity: only prod routes") is the query's own and must not change the rule.
    if (line.trim() !== '' && !line.trim().startsWith('#')) break;
    const m = HEADER.exec(line.trim());
    if (!m) continue;
    const key = m[1]!.toLowerCase() === 'message' && m[1] === 'MESSAGE' ? 'gate' : m[1]!.toLowerCase();
    meta.set(key, m[2]!.trim());
    lines.set(key, i + 1);
  }
  const problems: Problem[] = [];
  const fail = (message: string, hint: string, key?: string, at: Partial<{ line: number; column: number }> = {}) => {
    const line = key === undefined ? undefined : lines.get(key);
    // At the value on its header line (file:line:col), where the fix goes; at the line's end when it is empty.
    const lineText = line !== undefined ? text.split('\n')[line - 1]! : '';
    const value = key === undefined ? undefined : meta.get(key);
    const place = line === undefined ? {} : value ? placeAt(line, lineText, value) : { line, column: [...lineText.trimEnd()].length + 1 };
    problems.push(problem('usage', `audit rule ${file}: ${message}`, { location: { file, ...place, ...at }, hint }));
  };
  const id = meta.get('id');
  const severity = meta.get('severity');
  const message = meta.get('message') ?? meta.get('gate');
  const ruleLines = { id: lines.get('id'), message: lines.get(meta.has('message') ? 'message' : 'gate') };
  if (!id || !/^[a-z0-9][a-z0-9-]*$/.test(id)) fail(`needs a header line "# id: <kebab-case-id>"${id ? ` (found "${id}": lower-case letters, digits and "-" only)` : ''}`, 'add e.g. "# id: route-without-owner" at the top of the file', 'id');
  if (!severity || !SEVERITIES.includes(severity as Severity)) fail(`needs "# severity: error|warning|info"${severity ? ` (found "${severity}")` : ''}`, 'add e.g. "# severity: warning"', 'severity');
  if (!message) fail('needs a "# message: ..." line (with {?var} placeholders)', 'add e.g. "# message: Route {?focus} has no owner"');
  // The form and the projection come from the query's tokens: a "#" in an IRI or a string is no comment.
  const shape = queryShape(text);
  if (shape.form !== 'select') {
    // A file of header comments alone has no keyword to point at: it is located where its query should start.
    const empty = formOffset(text) === undefined;
    const not = shape.form ? `, not ${shape.form === 'update' ? 'an update' : `${shape.form.toUpperCase()}`}` : empty ? ', and the file has no query after its header' : '';
    fail(`must be a SPARQL SELECT query (each row is a finding)${not}`, 'write SELECT ?focus ... WHERE { ... }', undefined, empty ? positionAt(text, text.trimEnd().length + 1) : formAt(text));
  } else if (shape.projection !== '*') {
    // SELECT * projects what its pattern binds: checked against the variables the query reports once it has run.
    problems.push(...missingVariables({ file, message: message ?? '', query: text, lines: ruleLines }, shape.projection!));
  }
  if (problems.length > 0) return { problems };
  const title = meta.get('title') ?? meta.get('gate') ?? id!;
  return {
    rule: { id: id!, severity: severity as Severity, title, message: message!, description: meta.get('description') ?? title, help: meta.get('help') ?? '', query: text, file, lines: ruleLines },
    problems,
  };
}

/** `{?var}` in a rule's message. */
export const PLACEHOLDER = /\{\?([\p{L}\p{N}_]+)\}/gu;

/**
 * What a rule needs its query to select: ?focus, and each variable its message names. Checked
 * when the rule is read (an explicit SELECT list) and, for SELECT *, against the variables the
 * query turned out to project.
 */
export function missingVariables(rule: Pick<AuditRule, 'file' | 'message' | 'query' | 'lines'>, projected: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  if (!projected.includes('focus')) {
    problems.push(problem('usage', `audit rule ${rule.file}: must select ?focus, the node each finding is about`, { location: { file: rule.file, ...formAt(rule.query) }, hint: 'write SELECT ?focus ... (the IRI of the offending node)' }));
  }
  const messageLine = rule.lines?.message;
  const lineText = messageLine !== undefined ? rule.query.split('\n')[messageLine - 1] ?? '' : '';
  const named = new Set([...rule.message.matchAll(PLACEHOLDER)].map((m) => m[1]!));
  for (const name of named) {
    if (name === 'focus' || projected.includes(name)) continue;
    problems.push(
      problem('usage', `audit rule ${rule.file}: the message uses {?${name}}, but the query does not select ?${name}`, {
        location: { file: rule.file, ...(messageLine !== undefined ? placeAt(messageLine, lineText, `{?${name}}`) : {}) },
        hint: `add ?${name} to the SELECT clause, or take {?${name}} out of the "# message:" line`,
      }),
    );
  }
  return problems;
}

/**
 * The built-in rules, then the `.rq` files of each extra directory; ids must be unique. An extra
 * directory (`--rules`) that gives no rule file, or holds a query file named otherwise (`.sparql`,
 * `.RQ`), is a problem: its rules would silently not run, and the audit pass. Those of
 * `options.mayBeEmpty` (an installed pack's queries/audit/) may hold none.
 */
export async function loadRules(extraDirs: readonly string[] = [], options: { mayBeEmpty?: readonly string[] } = {}): Promise<{ rules: AuditRule[]; problems: Problem[] }> {
  const rules: AuditRule[] = [];
  const problems: Problem[] = [];
  // A directory named twice (`--rules a --rules ./a`, a link to it, gwgen's own queries/audit) is
  // read once: read again, each of its rules would clash with itself ("id x is already used by a/x.rq").
  const seen = new Set<string>();
  for (const dir of [BUILTIN_RULES_DIR, ...extraDirs]) {
    const identity = await fileIdentity(dir);
    if (seen.has(identity)) continue;
    seen.add(identity);
    let names: string[];
    const checked = dir !== BUILTIN_RULES_DIR && !options.mayBeEmpty?.includes(dir);
    let read = 0;
    try {
      const entries = await readdir(dir);
      names = entries.filter((n) => n.endsWith('.rq')).sort();
      for (const other of checked ? entries.filter((n) => !n.endsWith('.rq') && /\.(rq|sparql)$/i.test(n)).sort() : []) {
        const file = join(dir, other);
        problems.push(problem('usage', `${file} is not read as an audit rule: a rule file's name ends in ".rq" (lower case)`, { location: { file }, hint: `rename it, e.g. mv ${file} ${file.replace(/\.(rq|sparql)$/i, '.rq')}` }));
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(
        code === 'ENOTDIR'
          ? problem('usage', `rules directory ${dir} is a file, not a directory`, { location: { file: dir }, hint: 'pass the directory that holds the .rq rule files to --rules' })
          : problem('file-not-found', code === 'ENOENT' ? `rules directory not found: ${dir}` : `cannot read rules directory ${dir}: ${code ?? String(err)}`, { location: { file: dir }, hint: 'pass a directory of .rq rule files to --rules' }),
      );
      continue;
    }
    for (const name of names) {
      const file = join(dir, name);
      read++;
      let raw: string;
      try {
        const decoded = decodeUtf8(file, await readFile(file), 'audit rule files');
        if ('problem' in decoded) {
          // A broken rule file (exit 2), as one that does not parse: read as U+FFFD, its strings would silently match nothing.
          problems.push({ ...decoded.problem, code: 'usage', message: `audit rule ${file}: ${decoded.problem.message}` });
          continue;
        }
        raw = decoded.text;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A directory whose name ends in .rq is no rule file: skipped, as every other non-.rq entry.
        if (code === 'EISDIR') {
          read--;
          continue;
        }
        problems.push(problem('usage', `cannot read audit rule ${file}: ${readFailure(err)}`, { location: { file }, hint: 'make the rule file readable, or move it out of the rules directory' }));
        continue;
      }
      const parsed = parseRule(file, raw);
      problems.push(...parsed.problems);
      if (!parsed.rule) continue;
      const clash = rules.find((r) => r.id === parsed.rule!.id) ?? [UNKNOWN_SUPPRESSION_RULE, UNUSED_SUPPRESSION_RULE].find((r) => r.id === parsed.rule!.id);
      if (clash) {
        const line = parsed.rule.lines?.id;
        const place = line !== undefined ? placeAt(line, parsed.rule.query.split('\n')[line - 1]!, parsed.rule.id) : {};
        problems.push(problem('usage', `audit rule ${file}: id "${parsed.rule.id}" is already used by ${clash.file || "gwgen's own check of suppressions"}`, { location: { file, ...place }, hint: 'give the rule its own id' }));
        continue;
      }
      rules.push(parsed.rule);
    }
    if (checked && read === 0 && !problems.some((p) => p.location?.file?.startsWith(join(dir, '/')))) {
      problems.push(problem('usage', `rules directory ${dir} holds no .rq rule file: it adds no rule to the audit`, { location: { file: dir }, hint: 'put the .rq rule files in it, or leave out this --rules' }));
    }
  }
  return { rules, problems };
}

/** Where the query itself starts (its first keyword after the header comments and PREFIX lines). */
function formAt(text: string): Partial<{ line: number; column: number }> {
  const offset = formOffset(text);
  return offset === undefined ? {} : positionAt(text, offset);
}

/** The line and column of `needle` in a line of the rule file (the line alone when it is not there). */
function placeAt(line: number, lineText: string, needle: string): { line: number; column?: number } {
  const at = lineText.indexOf(needle);
  return at < 0 ? { line } : { line, column: [...lineText.slice(0, at)].length + 1 };
}
