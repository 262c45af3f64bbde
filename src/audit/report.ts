import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import stringWidth from 'string-width';
import { formatLocation, visible } from '../errors.js';
import { jsonLiteral } from '../pipeline/helpers.js';
import { VERSION } from '../version.js';
import type { Finding } from './audit.js';
import type { AuditRule, Severity } from './rules.js';

/**
 * `json`: an array of { rule, severity, focus, message, location }; suppressed findings carry
 * `suppressed: true` and the reason. location is where the table and SARIF place the finding
 * (the model file as given, line, column), so a script need not search the model for the focus.
 */
export function toJson(findings: readonly Finding[]): string {
  const out = findings.map((f) => ({
    rule: f.rule,
    severity: f.severity,
    focus: f.focus,
    message: f.message,
    ...(f.location.file !== undefined
      ? { location: { file: f.location.file, ...(f.location.line !== undefined ? { line: f.location.line } : {}), ...(f.location.column !== undefined ? { column: f.location.column } : {}) } }
      : {}),
    ...(f.suppressed ? { suppressed: true, ...(f.suppressed.reason !== undefined ? { reason: f.suppressed.reason } : {}) } : {}),
  }));
  return `${jsonLiteral(out, 2)}\n`;
}

/**
 * `table`: findings grouped by severity, then the suppressed ones, then a count line. Rule,
 * location and message are columns aligned across the whole table. Messages carry model text
 * (IRIs, and any literal a --rules rule selects): control characters and bidirectional
 * overrides are shown as \uXXXX, as in every other terminal output, so a model cannot drive the
 * terminal or reorder what the reader sees.
 */
export function toTable(findings: readonly Finding[]): string {
  const active = findings.filter((f) => !f.suppressed);
  const suppressed = findings.filter((f) => f.suppressed);
  const where = (f: Finding) => visible(formatLocation({ ...f.location, node: undefined }) || f.focus);
  const ruleWidth = Math.max(0, ...findings.map((f) => stringWidth(visible(f.rule))));
  const whereWidth = Math.max(0, ...findings.map((f) => stringWidth(where(f))));
  const pad = (text: string, width: number) => text + ' '.repeat(width - stringWidth(text));
  const lines: string[] = [];
  const section = (title: string, list: readonly Finding[]) => {
    if (list.length === 0) return;
    lines.push(`${title} (${list.length})`);
    for (const f of list) {
      const note = f.suppressed ? `  [suppressed: ${f.suppressed.reason ?? 'no reason given'}]` : '';
      lines.push(`  ${pad(visible(f.rule), ruleWidth)}  ${pad(where(f), whereWidth)}  ${visible(oneLine(f.message + note))}`);
    }
    lines.push('');
  };
  for (const severity of ['error', 'warning', 'info'] as Severity[]) section(severity, active.filter((f) => f.severity === severity));
  section('suppressed', suppressed);
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const total = (s: Severity) => active.filter((f) => f.severity === s).length;
  lines.push(`${count(total('error'), 'error', 'errors')}, ${count(total('warning'), 'warning', 'warnings')}, ${total('info')} info, ${suppressed.length} suppressed`);
  return `${lines.join('\n')}\n`;
}

/** One finding, one line: a line break or tab in a model value becomes a space. */
const oneLine = (text: string) => text.replace(/\r\n|[\r\n\t]/g, ' ');

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', info: 'note' };

/** The SARIF base id of model files under the working directory (the usual name, GitHub's too). */
const SRCROOT = '%SRCROOT%';

/**
 * A SARIF 2.1.0 log for code scanning: one run, tool.driver gwgen with every rule, and a
 * result per finding located at the line of the model file where the focus node is defined.
 * Suppressed findings carry an inSource suppression with the model's reason. A model file under
 * `cwd` (the directory finding locations are relative to: audit's `cwd`) is a relative URI
 * against %SRCROOT%, which originalUriBaseIds sets to cwd as a file:// URI; another one is an
 * absolute file:// URI.
 */
export function toSarif(findings: readonly Finding[], rules: readonly AuditRule[], options: { cwd?: string } = {}): string {
  const cwd = resolve(options.cwd ?? process.cwd());
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const root = pathToFileURL(cwd).href;
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'gwgen',
            version: VERSION,
            informationUri: 'https://ggen.ai/ontology/api-gateway',
            rules: rules.map((r) => ({
              id: r.id,
              name: pascal(r.id),
              shortDescription: { text: sarifText(r.title) },
              fullDescription: { text: sarifText(r.description) },
              ...(r.help ? { help: { text: sarifText(r.help) } } : {}),
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { tags: ['gwgen', 'api-gateway', 'compliance'] },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: index.get(f.rule) ?? 0,
          level: LEVEL[f.severity],
          message: { text: sarifText(f.message) },
          locations: [
            {
              ...(f.location.file
                ? { physicalLocation: { artifactLocation: artifactLocation(f.location.file, cwd), region: { startLine: f.location.line ?? 1, ...(f.location.column ? { startColumn: f.location.column } : {}) } } }
                : {}),
              logicalLocations: [{ fullyQualifiedName: f.focus, kind: 'resource' }],
            },
          ],
          // A blank node's label shifts when blank nodes are added above it: its identity does not.
          partialFingerprints: { 'gwgenFinding/v1': `${f.rule}|${f.identity}` },
          ...(f.suppressed ? { suppressions: [{ kind: 'inSource', ...(f.suppressed.reason !== undefined ? { justification: f.suppressed.reason } : {}) }] } : {}),
        })),
        columnKind: 'unicodeCodePoints',
        originalUriBaseIds: { [SRCROOT]: { uri: root.endsWith('/') ? root : `${root}/` } },
      },
    ],
  };
  return `${jsonLiteral(log, 2)}\n`;
}

/**
 * SARIF message strings may hold placeholders ({0} is the result's first argument), so a brace
 * of the text itself is written twice (SARIF 2.1.0, 3.11.5): a route path "/users/{id}" is
 * "/users/{{id}}", which a SARIF viewer shows as "/users/{id}"; a lone brace is no text SARIF
 * defines. The suppression's justification is a plain string, not a message: written as it is.
 */
function sarifText(text: string): string {
  return text.replace(/[{}]/g, '$&$&');
}

function pascal(id: string): string {
  return id.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());
}

/**
 * SARIF wants a relative URI with a base id, or an absolute URI: "my model#1.ttl" is
 * "my%20model%231.ttl" ("#" would start a fragment), "/elsewhere/m.ttl" "file:///elsewhere/m.ttl".
 */
function artifactLocation(file: string, cwd: string): { uri: string; uriBaseId?: string } {
  const path = resolve(cwd, file);
  const rel = relative(cwd, path);
  if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return { uri: rel.split(/[\\/]/).map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
  return { uri: pathToFileURL(path).href };
}
