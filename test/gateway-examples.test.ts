import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'prettier';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRETTIER_OPTIONS } from '../src/pipeline/format.js';
import { buildGateway, runGeneratedTests } from './gateway-helpers.js';
import { ROOT } from './helpers.js';

/**
 * Every example's gateway project installs (node_modules shared between projects, see
 * installGatewayDeps), typechecks, and passes its own generated tests (`npm test` there), which
 * start the gateway against mock backends and check each route's policies.
 */
const examples = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.ttl'))
  .sort();

describe.each(examples)('generated gateway of %s', (example) => {
  let dir = '';
  beforeAll(async () => {
    ({ dir } = await buildGateway(`examples/${example}`));
  });

  it('pins exact dependency versions and names the start and test commands', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const v of Object.values({ ...pkg.dependencies, ...pkg.devDependencies })) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.scripts.start).toBe('node dist/src/main.js');
    expect(pkg.scripts.test).toContain('node --test');
  });

  it('writes a README that prettier leaves as it is', async () => {
    const text = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(await format(text, { ...PRETTIER_OPTIONS, parser: 'markdown' })).toBe(text);
  });

  it('passes its own generated tests (npm test)', () => {
    const out = runGeneratedTests(dir);
    expect(out).toMatch(/# fail 0/);
    expect(Number(/# pass (\d+)/.exec(out)?.[1])).toBeGreaterThan(20);
  });
});
