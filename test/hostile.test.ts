import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import * as prettier from 'prettier';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generate } from '../dist/index.js';
import { yamlFlowScalar, yamlScalar, jsonLiteral, markdownText } from '../dist/pipeline/helpers.js';
import { ROOT, gwgen, snapshotDir, tempDir } from './helpers.js';
import { renderDeck } from './deck-render.js';

/**
 * What no generated file may hold raw: what YAML 1.1 parsers (libyaml in Kong, go-yaml in kubectl)
 * refuse ("control characters are not allowed": C0 but tab/LF/CR, DEL, C1, U+FFFE/FFFF) or read
 * as a line break (U+0085, U+2028, U+2029: a plain scalar ends there, a quoted one folds it to a
 * space), and bidi controls and the BOM, which make a file display other than it reads.
 */
// eslint-disable-next-line no-control-regex
const RAW_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]/u;

const HOSTILE = [
  '',
  ' ',
  'plain',
  'true',
  'no',
  'on',
  'null',
  '~',
  // GFM's strikethrough and GitHub's math in Markdown.
  '/~admin~/~~v1~~',
  'costs $5 or $x$ and $$y$$',
  '123',
  '0x1f',
  '1e5',
  // Numbers to some YAML parser (YAML 1.2's octal, Go's base-0 forms in go-yaml v3), not to YAML 1.1.
  '0o17',
  '0o0',
  '-0o7',
  '+0O17',
  '0x1p-2',
  '1_000',
  '-1_0.5',
  '0b1_0',
  '7.',
  '.inf',
  '1:20',
  'a: b',
  'key: value\nother: x',
  '- item',
  '[a, b]',
  '{a: b}',
  '"quoted"',
  "'single'",
  '# comment',
  'a # b',
  '&anchor',
  '*alias',
  '!tag',
  '%directive',
  '@at',
  '`tick`',
  '|block',
  '>folded',
  '---',
  '...',
  '${process.exit(1)}',
  '{{handlebars}}',
  '</script><script>',
  '../../etc/passwd',
  'tab\there',
  'cr\rlf\n',
  'trailing space ',
  '\u2028\u2029',
  'emoji 🚀',
  '\\backslash\\',
  '{vault://env/x}',
  'a\u2028b: c',
  'nel\u0085next: x',
  'csi\u009b[31m',
  'del\u007f',
  'bidi \u202egnp.exe\u202c \u2066x\u2069',
  'bom\ufeff',
  'say "hi" \u202e',
];

describe('escaping helpers', () => {
  it.each(HOSTILE)('yaml scalar round-trips %j', (value) => {
    for (const version of ['1.1', '1.2'] as const) {
      expect(parse(`k: ${yamlScalar(value)}\n`, { version })).toEqual({ k: value });
      expect(parse(`k: [${yamlFlowScalar(value)}, ${yamlFlowScalar(value)}]\n`, { version })).toEqual({ k: [value, value] });
      expect(parse(`${yamlScalar(value)}: k\n`, { version })).toEqual({ [value]: 'k' });
    }
    expect(yamlScalar(value)).not.toContain('\n');
    expect(yamlScalar(value)).not.toMatch(RAW_FORBIDDEN);
    expect(yamlFlowScalar(value)).not.toMatch(RAW_FORBIDDEN);
  });

  it.each(HOSTILE)('JSON/TypeScript literal round-trips %j', (value) => {
    const literal = jsonLiteral(value);
    expect(JSON.parse(literal)).toBe(value);
    // Evaluated as a JavaScript expression it is the same string, and nothing else runs.
    expect(new Function(`return ${literal};`)()).toBe(value);
    expect(literal).not.toMatch(RAW_FORBIDDEN);
  });

  it.each(HOSTILE)('Markdown text of %j is one inline text node', async (value) => {
    const ast = await parseMarkdown(`Applies to: x\n\n- ${markdownText(value)}\n\n${markdownText(value)}\n`);
    expect(markupOf(ast)).toEqual([]);
  });
});

describe('a model with hostile strings', () => {
  it('generates, and every value lands in kong.yml unchanged and inert', async () => {
    const result = await generate({ models: [join('test/fixtures/valid/hostile-strings.ttl')], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
    const kong = result.files.find((f) => f.path === 'kong/kong.yml')!.content;
    const doc = parse(renderDeck(kong)) as { consumers: Array<{ username: string; jwt_secrets?: Array<{ key: string }>; plugins?: Array<{ tags: string[] }> }>; services: Array<{ name: string; routes: Array<{ headers?: Record<string, string[]> }> }> };
    const issuer = 'https://issuer.example.com/"quoted": kind: Secret --- ${process.exit(1)} # c';
    const jwtConsumer = doc.consumers.find((c) => c.jwt_secrets)!;
    expect(jwtConsumer.jwt_secrets![0]!.key).toBe(issuer);
    const canary = doc.services.find((s) => s.name === 'r2.svc')!;
    expect(canary.routes[0]!.headers).toEqual({ 'x-evil': ['a", b: [c] # ${x} `y` {{z}}'] });
    // No key the templates did not write: the injected "kind" and "injected" never become keys.
    expect(Object.keys(doc).sort()).toEqual(['_format_version', '_transform', 'consumers', 'plugins', 'services', 'upstreams']);
    expect(kong).not.toMatch(/^\s*kind:/m);
    expect(kong).not.toMatch(/^\s*injected:/m);
    const schema = JSON.parse(readFileSync(join(ROOT, 'test/schemas/kong-declarative.schema.json'), 'utf8'));
    const validateKong = new Ajv({ allErrors: true, strict: true }).compile(schema);
    expect(validateKong(doc), JSON.stringify(validateKong.errors)).toBe(true);
    const notes = result.files.find((f) => f.path === 'kong/NOTES.md')!.content;
    expect(notes).not.toMatch(/^kind: Secret/m);
  });
});

/** prettier's Markdown parser (remark, with GFM's autolinks), which its typings leave out. */
const parseMarkdown = async (text: string): Promise<MdNode> =>
  ((await (prettier as unknown as { __debug: { parse(t: string, o: { parser: string }): Promise<{ ast: MdNode }> } }).__debug.parse(text, { parser: 'markdown' })).ast);

interface MdNode {
  type: string;
  value?: string;
  children?: MdNode[];
}

/** Every node of a Markdown tree that is more than text and paragraphs in one list item: what model text must never make. */
function markupOf(node: MdNode, inList = 0): string[] {
  // liquidNode: prettier's parser reads "{{x}}" as a Liquid tag, which Markdown renders as text.
  const own = ['root', 'paragraph', 'text', 'liquidNode'].includes(node.type) || (node.type === 'list' && inList === 0) || (node.type === 'listItem' && inList === 1) ? [] : [`${node.type} ${JSON.stringify(node.value ?? '')}`];
  const depth = node.type === 'list' ? inList + 1 : inList;
  return [...own, ...(node.children ?? []).flatMap((c) => markupOf(c, depth))];
}

describe('a model with line-break, control, bidi and Markdown characters in its free text', () => {
  it('writes YAML and JSON that hold them only as escapes, and Markdown that makes no link, HTML or heading of them', async () => {
    const out = tempDir();
    try {
      const run = await gwgen(['generate', 'test/fixtures/valid/hostile-text.ttl', '-o', out]);
      expect(run.exitCode, run.stderr).toBe(0);
      const files = snapshotDir(out);
      const tier = 'gold\u0085nel\u2028ls\u2029ps\u009bcsi\u007fdel\u202ertl\ufeffbom';
      for (const [path, content] of Object.entries(files)) expect(RAW_FORBIDDEN.exec(content)?.[0], path).toBeUndefined();
      for (const [path, content] of Object.entries(files).filter(([p]) => /\.ya?ml$/.test(p))) {
        for (const doc of parseAllDocuments(content)) expect([...doc.errors, ...doc.warnings], path).toEqual([]);
      }
      // The tier reaches the gateway's config, and the Kubernetes ConfigMap that carries it, unchanged.
      const config = JSON.parse(files['gateway/config.json']!) as { consumers: Array<{ tier: { name: string } }> };
      expect(JSON.stringify(config)).toContain(JSON.stringify(tier).slice(1, -1));
      const configMap = parseAllDocuments(files['k8s/gateway.yaml']!).map((d) => d.toJS() as { kind: string; data?: Record<string, string> }).find((d) => d.kind === 'ConfigMap')!;
      expect(JSON.parse(Object.values(configMap.data!)[0]!)).toEqual(config);
      // Kong's regex path holds U+2028 decoded: as an escape, so that libyaml does not break the line there.
      const kong = parse(files['kong/kong.yml']!) as { services: Array<{ routes: Array<{ paths?: string[] }> }> };
      expect(kong.services.flatMap((s) => s.routes.flatMap((r) => r.paths ?? [])).some((p) => p.includes('a\u2028b'))).toBe(true);
      for (const path of ['kong/NOTES.md', 'k8s/NOTES.md', 'gateway/README.md']) {
        const ast = await parseMarkdown(files[path]!);
        const made = markupOf(ast).filter((m) => !/^(heading|list|listItem|strong|inlineCode|code|emphasis) /.test(m) || /evil|Heading|item|ordered/.test(m));
        expect(made, path).toEqual([]);
      }
      expect(files['kong/NOTES.md']).toContain('\\u202egnp.exe\\u202c');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('machine-readable output of a model whose text holds terminal escapes', () => {
  const model = 'test/fixtures/valid/hostile-audit-reason.ttl';
  const reason = 'ok\u001b[2J\u001b]0;title\u0007\nFAKE: line\r\u202eevil\u009b31m\u2028';

  it.each(['json', 'sarif'])('audit --format %s holds them only as JSON escapes', async (format) => {
    const run = await gwgen(['audit', model, '--format', format, '--fail-on', 'never']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(RAW_FORBIDDEN.exec(run.stdout)?.[0]).toBeUndefined();
    // The reason is still there, whole, once the JSON is read.
    expect(JSON.stringify(JSON.parse(run.stdout))).toContain(JSON.stringify(reason).slice(1, -1));
  });

  it('query --format json holds them only as JSON escapes, the values unchanged', async () => {
    const run = await gwgen(['query', model, '-e', 'SELECT ?v WHERE { ?r agw:auditReason ?v }', '--format', 'json']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(RAW_FORBIDDEN.exec(run.stdout)?.[0]).toBeUndefined();
    const doc = JSON.parse(run.stdout) as { results: { bindings: Array<{ v: { value: string } }> } };
    expect(doc.results.bindings.map((b) => b.v.value)).toEqual([reason]);
  });
});
