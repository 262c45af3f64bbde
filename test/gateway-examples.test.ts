import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/**
 * Models kept for their generated tests: each checks policies the generated tests once left
 * unchecked or got wrong. Drop a model in test/fixtures/gateway-suites/ to have its `npm test` run.
 */
const suitesDir = join(ROOT, 'test/fixtures/gateway-suites');
const suites = existsSync(suitesDir)
  ? readdirSync(suitesDir)
      .filter((f) => f.endsWith('.ttl'))
      .sort()
  : [];

describe.each(suites)('generated tests of test/fixtures/gateway-suites/%s', (model) => {
  let dir = '';
  beforeAll(async () => {
    ({ dir } = await buildGateway(join(suitesDir, model)));
  });

  it('pass, and none is skipped that the model makes possible', () => {
    const out = runGeneratedTests(dir, `${model}: `);
    expect(out).toMatch(/# fail 0/);
    // The skips a model cannot avoid are named in comments of the model ("# skip: <test name>");
    // every other check runs.
    const allowed = [...readFileSync(join(suitesDir, model), 'utf8').matchAll(/^# skip: (.+)$/gm)].map((m) => m[1]!);
    const skipped = out
      .split('\n')
      .filter((l) => l.includes('# SKIP'))
      .map((l) => l.replace(/^\s*ok \d+ - /, '').replace(/ # SKIP.*$/, ''));
    expect(skipped.filter((t) => !allowed.some((a) => t.includes(a)))).toEqual([]);
  });
});
