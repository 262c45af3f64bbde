import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { format } from 'prettier';
import { describe, expect, it } from 'vitest';
import { needsPrettier, PRETTIER_OPTIONS, prettierParser } from '../src/pipeline/format.js';
import type { RenderedFile } from '../src/pipeline/render.js';

/**
 * gwgen skips prettier for templates kept in prettier's form and for data files (see
 * src/pipeline/format.ts). This checks the promise behind that: every code file of every
 * generated example is exactly what prettier makes of it, and data files are canonical JSON.
 */
const EXAMPLES = new URL('../generated-examples/', import.meta.url).pathname;

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? (e.name === '.gwgen' ? [] : files(join(dir, e.name))) : [join(dir, e.name)])));
  return nested.flat();
}

const all = (await files(EXAMPLES)).map((f) => relative(EXAMPLES, f)).sort();
const code = all.filter((f) => prettierParser(f) !== undefined && !f.endsWith('gateway/config.json'));

describe('generated code is in prettier form without prettier running on it', () => {
  it.each(code)('%s', async (path) => {
    const text = await readFile(join(EXAMPLES, path), 'utf8');
    // A failure here means a template under templates/gateway/ was edited out of prettier's form: run `npm run format:templates`.
    expect(await format(text, { ...PRETTIER_OPTIONS, parser: prettierParser(path)! })).toBe(text);
  });

  it.each(all.filter((f) => f.endsWith('gateway/config.json')))('%s is JSON with two-space indentation', async (path) => {
    const text = await readFile(join(EXAMPLES, path), 'utf8');
    expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  });
});

describe('needsPrettier', () => {
  const file = (over: Partial<RenderedFile>): RenderedFile => ({ path: 'gateway/src/x.ts', content: '', target: 'gateway', template: 'gateway/src/x.ts.hbs', format: 'prettier', builtin: true, ...over });
  it.each([
    ['code from a template', file({}), true],
    ['a built-in template kept in prettier form', file({ format: 'template' }), false],
    ["a template pack's override of such a template", file({ format: 'template', builtin: false }), true],
    ['data written verbatim', file({ path: 'gateway/config.json', format: 'verbatim' }), false],
    ['YAML', file({ path: 'kong/kong.yml' }), false],
  ])('%s', (_label, f, expected) => {
    expect(needsPrettier(f)).toBe(expected);
  });
});
