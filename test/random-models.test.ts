import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'prettier';
import { describe, expect, it } from 'vitest';
import { buildGateway, runGeneratedTests } from './gateway-helpers.js';
import { tempDir } from './helpers.js';
import { checkOutput } from './output-checks.js';
import { randomModel, Rng, VOCABULARY_ENUMS, VOCABULARY_TERMS, type RandomModel } from './random-models.js';

/**
 * Property-based test: random VALID models (test/random-models.ts, seeded) validate without a
 * problem and generate every target into output that passes test/output-checks.ts: the targets'
 * own schemas (Kong's, kubernetes-models, @kubernetes-models/istio), the invariants those do not
 * check (unique names, references, Kong's rate-limit window order, Service names, one
 * DestinationRule per host …), prettier's form, config.json with one entry per route of the
 * model, and the same files on every run. A few seeds also build the generated gateway
 * project and run its own tests.
 *
 * The fixed seeds run in the suite. More by hand: `GWGEN_FUZZ_SEEDS=200` (seeds 1..200) or
 * `GWGEN_FUZZ_SEEDS=17,301` (those seeds) or `=301-450` (a range). A failure names the seed and the file the model was
 * written to, and `gwgen generate <that file>` reproduces it.
 */

const FIXED_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
const SEEDS = seedsFromEnv(process.env.GWGEN_FUZZ_SEEDS) ?? FIXED_SEEDS;
/**
 * Seeds whose generated gateway project is built and runs its own tests (templates/gateway/test),
 * which must pass for any valid model: a check the model makes impossible is skipped with its
 * reason. These three together run every kind of check the generated tests have (seed 1: two
 * model files, JWT, canaries, weights, mirrors, WebSocket, breakers, CORS, tracing; 17: API keys
 * and a quota tier, 50 ms per-try timeouts; 21: 1 ms deadlines, a POST route with retries), in
 * about a minute on two busy cores.
 * More by hand: GWGEN_FUZZ_GATEWAY_SEEDS=60 (seeds 1..60), GWGEN_FUZZ_GATEWAY_SEEDS=26,35 or =101-200.
 */
const FIXED_GATEWAY_SEEDS = [1, 17, 21];
const GATEWAY_SEEDS = seedsFromEnv(process.env.GWGEN_FUZZ_GATEWAY_SEEDS) ?? FIXED_GATEWAY_SEEDS;

function seedsFromEnv(value: string | undefined): number[] | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Array.from({ length: Number(value) }, (_, i) => i + 1);
  // A comma list of seeds and ranges: "26,35", "301-450", "128-128" (that seed alone).
  return value.split(',').flatMap((part) => {
    const [from, to = from] = part.trim().split('-').map(Number);
    return Array.from({ length: to! - from! + 1 }, (_, i) => from! + i);
  });
}

/** Writes the model's files to a fresh folder; returns their paths. */
function writeModel(model: RandomModel): { dir: string; paths: string[] } {
  const dir = tempDir(`gwgen-fuzz-${model.seed}-`);
  const paths = model.files.map((f) => {
    const path = join(dir, f.name);
    writeFileSync(path, f.text);
    return path;
  });
  return { dir, paths };
}

describe('random valid models', () => {
  it('the fixed seeds use every class, property and enumerated value of the vocabulary', () => {
    const used = new Set(FIXED_SEEDS.flatMap((s) => [...randomModel(s).used]));
    expect(VOCABULARY_TERMS.filter((t) => !used.has(t))).toEqual([]);
    expect(VOCABULARY_ENUMS.filter((t) => !used.has(t))).toEqual([]);
  });

  it('yamlList key= lays a flow list out as prettier does, at any column and length', async () => {
    const { yamlFlowEntry } = await import('../dist/pipeline/helpers.js');
    const r = new Rng(2024);
    for (let i = 0; i < 150; i++) {
      const at = 2 * r.int(0, 7);
      const list = Array.from({ length: r.int(0, 6) }, () => r.pick(['gwgen', 'gateway:edge', `route:${'r'.repeat(r.int(1, 63))}`, 'a b', 'x,y', '{vault://env/key}', `tier:${'é'.repeat(r.int(0, 40))}`]));
      // The entry in a sequence item nested `at` columns deep, as in kong.yml.
      const keys = Array.from({ length: at / 2 }, (_, d) => `${'  '.repeat(d)}k${d}:\n`).join('');
      const text = `${keys}${' '.repeat(at)}- name: x\n${' '.repeat(at + 2)}${yamlFlowEntry('tags', list, at + 2, 0)}\n`;
      expect(await format(text, { parser: 'yaml', printWidth: 120 }), JSON.stringify({ at, list })).toBe(text);
    }
  });

  it('the generator is a function of its seed', () => {
    expect(randomModel(7).files).toEqual(randomModel(7).files);
    expect(randomModel(7).files).not.toEqual(randomModel(8).files);
  });

  it.concurrent.for(SEEDS)('seed %i: validates, generates every target, valid and deterministic', async (seed, { expect, onTestFailed, onTestFinished }) => {
    const model = randomModel(seed);
    const { dir, paths } = writeModel(model);
    // Soft failures do not throw: say where the model is whenever the test fails, and keep it.
    onTestFailed(() => {
      console.error(`random model seed ${seed} failed; the model is in ${paths.join(' ')}\n  reproduce: npx gwgen generate ${paths.join(' ')} -o /tmp/out\n  or: GWGEN_FUZZ_SEEDS=${seed} npx vitest run --config test/vitest.config.ts test/random-models.test.ts`);
    });
    onTestFinished(({ task }) => {
      if (task.result?.state === 'pass') rmSync(dir, { recursive: true, force: true });
    });
    await checkOutput(paths, expect, model);
  });
});

describe.each(GATEWAY_SEEDS)('the generated gateway of random model %i', (seed) => {
  it('compiles and passes its own generated tests', async () => {
    const model = randomModel(seed);
    const { dir: modelDir, paths } = writeModel(model);
    const { out: built, dir } = await buildGateway(paths);
    const out = runGeneratedTests(dir, `seed ${seed} (model ${paths.join(' ')}): `);
    expect(out).toMatch(/# fail 0/);
    expect(Number(/# pass (\d+)/.exec(out)?.[1])).toBeGreaterThan(5);
    rmSync(modelDir, { recursive: true, force: true });
    rmSync(built, { recursive: true, force: true });
  });
});
