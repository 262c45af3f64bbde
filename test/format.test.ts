import { join } from 'node:path';
import { format } from 'prettier';
import { describe, expect, it } from 'vitest';
import { needsPrettier, PRETTIER_OPTIONS, prettierParser } from '../src/pipeline/format.js';
import type { RenderedFile } from '../src/pipeline/render.js';
import { ROOT, snapshotDir } from './helpers.js';

/**
 * gwgen skips prettier for templates kept in prettier's form and for data files (see
 * src/pipeline/format.ts). This checks the promise behind that: every code file of every
 * generated example is exactly what prettier makes of it, and data files are canonical JSON.
 */
// Generated code only: .gwgen/manifest.json is gwgen's own bookkeeping, not prettier's business.
const generated = Object.fromEntries(Object.entries(snapshotDir(join(ROOT, 'generated-examples'))).filter(([path]) => !path.includes('/.gwgen/')));
const all = Object.keys(generated);
const code = all.filter((f) => prettierParser(f) !== undefined && !f.endsWith('gateway/config.json'));

describe('generated code is in prettier form without prettier running on it', () => {
  it.each(code)('%s', async (path) => {
    const text = generated[path]!;
    // A failure here means a template under templates/gateway/ was edited out of prettier's form: run `npm run format:templates`.
    expect(await format(text, { ...PRETTIER_OPTIONS, parser: prettierParser(path)! })).toBe(text);
  });

  it.each(all.filter((f) => f.endsWith('gateway/config.json')))('%s is JSON with two-space indentation', (path) => {
    const text = generated[path]!;
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
