import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const TEMPLATES = join(ROOT, 'templates');
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}
const files = walk(TEMPLATES).filter((f) => f.endsWith('.hbs'));

/** Helpers that escape (or produce no model text); anything else printed bare would be unescaped. */
const SAFE = /^(yaml|yamlBlock|yamlList|yamlEntries|deckEnv|json|jsonPretty|ts|md|kebabCase|snakeCase|constantCase|camelCase|pascalCase)\s/;

describe('templates escape every value', () => {
  it.each(files.map((f) => relative(TEMPLATES, f)))('%s has no bare {{value}}', (name) => {
    const text = readFileSync(join(TEMPLATES, name), 'utf8');
    const bare = [...text.matchAll(/\{\{\{?([^#/>!^][^}]*)\}\}\}?/g)]
      .map((m) => m[1]!.trim())
      .filter((expr) => !SAFE.test(expr) && expr !== 'else' && !expr.startsWith('else '));
    expect(bare).toEqual([]);
  });

  it('raw triple-stash output is never used', () => {
    for (const f of files) expect(readFileSync(f, 'utf8')).not.toContain('{{{');
  });
});

describe('target registry', () => {
  it('TARGET_NAMES lists exactly the registered targets', async () => {
    const { TARGETS } = await import('../dist/targets/index.js');
    const { TARGET_NAMES } = await import('../dist/targets/names.js');
    expect([...TARGET_NAMES].sort()).toEqual(Object.keys(TARGETS).sort());
  });
});
