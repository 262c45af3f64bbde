import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generate } from '../dist/index.js';
import { yamlFlowScalar, yamlScalar, jsonLiteral } from '../dist/pipeline/helpers.js';
import { ROOT } from './helpers.js';

const HOSTILE = [
  '',
  ' ',
  'plain',
  'true',
  'no',
  'on',
  'null',
  '~',
  '123',
  '0x1f',
  '1e5',
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
];

describe('escaping helpers', () => {
  it.each(HOSTILE)('yaml scalar round-trips %j', (value) => {
    expect(parse(`k: ${yamlScalar(value)}\n`)).toEqual({ k: value });
    expect(parse(`k: [${yamlFlowScalar(value)}, ${yamlFlowScalar(value)}]\n`)).toEqual({ k: [value, value] });
    expect(yamlScalar(value)).not.toContain('\n');
  });

  it.each(HOSTILE)('JSON/TypeScript literal round-trips %j', (value) => {
    const literal = jsonLiteral(value);
    expect(JSON.parse(literal)).toBe(value);
    // Evaluated as a JavaScript expression it is the same string, and nothing else runs.
    expect(new Function(`return ${literal};`)()).toBe(value);
  });
});

describe('a model with hostile strings', () => {
  it('generates, and every value lands in kong.yml unchanged and inert', async () => {
    const result = await generate({ models: [join('test/fixtures/valid/hostile-strings.ttl')], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
    const kong = result.files.find((f) => f.path === 'kong/kong.yml')!.content;
    const doc = parse(kong) as { consumers: Array<{ username: string; jwt_secrets?: Array<{ key: string }>; plugins?: Array<{ tags: string[] }> }>; services: Array<{ name: string; routes: Array<{ headers?: Record<string, string[]> }> }> };
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
