import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate } from '../dist/index.js';
import { ROOT, tempDir } from './helpers.js';
import { randomModel } from './random-models.js';

/**
 * The wide sweep, by hand (it is not part of the suite: the validator installs its own
 * dependencies on first use and takes seconds per model): the Kong, Istio and Kubernetes output
 * of random models (test/random-models.ts), the valid fixtures and the examples, checked by the
 * shared validator against decK's schema, Istio's CRDs and Kubernetes 1.30's schemas:
 *
 *   GWGEN_VALIDATE_MANIFESTS=300 npx vitest run --config test/vitest.config.ts test/external-validator.test.ts
 *
 * (seeds 1..300; `=17,301` for those seeds). GWGEN_VALIDATOR names the validator script when it is
 * not ../shared/tools/validate-manifests.mjs beside the repository.
 */
const SEEDS = process.env.GWGEN_VALIDATE_MANIFESTS;
const VALIDATOR = process.env.GWGEN_VALIDATOR ?? join(ROOT, '..', 'shared', 'tools', 'validate-manifests.mjs');

function seeds(value: string): number[] {
  if (/^\d+$/.test(value)) return Array.from({ length: Number(value) }, (_, i) => i + 1);
  return value.split(',').map((s) => Number(s.trim()));
}

describe.skipIf(!SEEDS)('the shared validator (GWGEN_VALIDATE_MANIFESTS)', () => {
  it('finds no invalid document in the Kong, Istio and Kubernetes output of random models, the valid fixtures and the examples', async () => {
    expect(existsSync(VALIDATOR), `no validator at ${VALIDATOR} (set GWGEN_VALIDATOR)`).toBe(true);
    const out = tempDir('gwgen-validate-');
    const models: { name: string; paths: string[] }[] = [
      ...readdirSync(join(ROOT, 'test/fixtures/valid')).filter((f) => f.endsWith('.ttl')).map((f) => ({ name: f, paths: [join(ROOT, 'test/fixtures/valid', f)] })),
      ...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ttl')).map((f) => ({ name: f, paths: [join(ROOT, 'examples', f)] })),
      ...seeds(SEEDS!).map((seed) => {
        const dir = join(out, 'models', String(seed));
        mkdirSync(dir, { recursive: true });
        return { name: `seed-${seed}`, paths: randomModel(seed).files.map((f) => (writeFileSync(join(dir, f.name), f.text), join(dir, f.name))) };
      }),
    ];
    for (const { name, paths } of models) {
      const result = await generate({ models: paths, targets: ['kong', 'istio', 'k8s'], cwd: ROOT });
      if (!result.ok) throw new Error(`${name}: ${JSON.stringify(result.problems)}`);
      for (const f of result.files) {
        const path = join(out, 'output', name, f.path);
        mkdirSync(join(path, '..'), { recursive: true });
        writeFileSync(path, f.content);
      }
    }
    // One run over every output folder: the validator's start-up dominates its time per model.
    const run = spawnSync(process.execPath, [VALIDATOR, join(out, 'output')], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
    const summary = /validated (\d+) documents: (\d+) ok, (\d+) invalid/.exec(run.stdout);
    expect(summary, `${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`).not.toBeNull();
    const problems = run.stdout.split('\n').filter((l) => l.startsWith(join(out, 'output')) || /^\S+#\d+ /.test(l));
    expect(problems.slice(0, 40), 'invalid documents').toEqual([]);
    expect(Number(summary![3])).toBe(0);
    expect(Number(summary![1])).toBeGreaterThan(models.length);
    rmSync(out, { recursive: true, force: true });
  }, 60 * 60_000);
});
