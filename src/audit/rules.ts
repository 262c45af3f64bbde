import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { problem, type Problem } from '../errors.js';
import { QUERIES_DIR } from '../paths.js';

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
  readonly query: string;
  readonly file: string;
}

export const BUILTIN_RULES_DIR = join(QUERIES_DIR, 'audit');

const HEADER = /^#\s*([A-Za-z]+):\s?(.*)$/;

/** Parses one rule file; problems name the file and say what is missing. */
export function parseRule(file: string, text: string): { rule?: AuditRule; problems: Problem[] } {
  const meta = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = HEADER.exec(line.trim());
    if (m) meta.set(m[1]!.toLowerCase() === 'message' && m[1] === 'MESSAGE' ? 'gate' : m[1]!.toLowerCase(), m[2]!.trim());
  }
  const problems: Problem[] = [];
  const fail = (message: string, hint: string) => problems.push(problem('usage', `audit rule ${file}: ${message}`, { location: { file }, hint }));
  const id = meta.get('id');
  const severity = meta.get('severity');
  const message = meta.get('message') ?? meta.get('gate');
  if (!id || !/^[a-z0-9][a-z0-9-]*$/.test(id)) fail('needs a header line "# id: <kebab-case-id>"', 'add e.g. "# id: route-without-owner" at the top of the file');
  if (!severity || !SEVERITIES.includes(severity as Severity)) fail(`needs "# severity: error|warning|info"${severity ? ` (found "${severity}")` : ''}`, 'add e.g. "# severity: warning"');
  if (!message) fail('needs a "# message: ..." line (with {?var} placeholders)', 'add e.g. "# message: Route {?focus} has no owner"');
  if (!/\bSELECT\b/i.test(text.replace(/#.*$/gm, ''))) fail('must be a SPARQL SELECT query (each row is a finding)', 'write SELECT ?focus ... WHERE { ... }');
  else if (!/\?focus\b/.test(text.replace(/#.*$/gm, '').split(/\bWHERE\b/i)[0] ?? '')) fail('must select ?focus, the node each finding is about', 'write SELECT ?focus ... (the IRI of the offending node)');
  if (problems.length > 0) return { problems };
  const title = meta.get('title') ?? meta.get('gate') ?? id!;
  return {
    rule: { id: id!, severity: severity as Severity, title, message: message!, description: meta.get('description') ?? title, help: meta.get('help') ?? '', query: text, file },
    problems,
  };
}

/** The built-in rules, then the `.rq` files of each extra directory; ids must be unique. */
export async function loadRules(extraDirs: readonly string[] = []): Promise<{ rules: AuditRule[]; problems: Problem[] }> {
  const rules: AuditRule[] = [];
  const problems: Problem[] = [];
  for (const dir of [BUILTIN_RULES_DIR, ...extraDirs]) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.rq')).sort();
    } catch {
      problems.push(problem('file-not-found', `rules directory not found: ${dir}`, { location: { file: dir }, hint: 'pass a directory of .rq rule files to --rules' }));
      continue;
    }
    for (const name of names) {
      const file = join(dir, name);
      const parsed = parseRule(file, await readFile(file, 'utf8'));
      problems.push(...parsed.problems);
      if (!parsed.rule) continue;
      const clash = rules.find((r) => r.id === parsed.rule!.id);
      if (clash) {
        problems.push(problem('usage', `audit rule ${file}: id "${parsed.rule.id}" is already used by ${clash.file}`, { location: { file }, hint: 'give the rule its own id' }));
        continue;
      }
      rules.push(parsed.rule);
    }
  }
  return { rules, problems };
}
