import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';

/**
 * Every examples/<name>.ttl regenerates byte for byte into generated-examples/<name>/.
 * After a template change: `npm run examples` and commit the result.
 */
const examples = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.ttl'))
  .map((f) => f.replace(/\.ttl$/, ''))
  .sort();

describe('golden examples', () => {
  it('has at least three examples', () => expect(examples.length).toBeGreaterThanOrEqual(3));

  it.each(examples)('%s regenerates without a byte of difference', async (name) => {
    const out = tempDir();
    const r = await gwgen(['generate', `examples/${name}.ttl`, '-o', out]);
    expect(r.stderr).toContain('generated');
    expect(r.exitCode).toBe(0);
    const fresh = snapshotDir(out);
    const committed = snapshotDir(join(ROOT, 'generated-examples', name));
    expect(Object.keys(fresh)).toEqual(Object.keys(committed));
    for (const [path, content] of Object.entries(committed)) expect(fresh[path], path).toBe(content);
  });
});
