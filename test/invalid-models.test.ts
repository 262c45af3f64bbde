import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, validate } from '../dist/index.js';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';

/**
 * Drop-in fixtures: every test/fixtures/invalid/*.ttl must be rejected, and the messages must
 * contain each `# expect: <text>` line of the file (location, property, offending value...) and
 * none of its `# expect-not: <text>` lines.
 */
const DIR = join(ROOT, 'test/fixtures/invalid');
const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.ttl')).sort();

function linesAfter(file: string, marker: string): string[] {
  return readFileSync(join(DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(marker))
    .map((l) => l.slice(marker.length));
}
const expectations = (file: string) => linesAfter(file, '# expect: ');
/** `# expect-not: <text>` lines: what no message may show (a secret, an internal label). */
const exclusions = (file: string) => linesAfter(file, '# expect-not: ');

describe('invalid models are rejected with located messages', () => {
  it('has fixtures', () => expect(fixtures.length).toBeGreaterThan(25));

  it.each(fixtures)('%s', async (file) => {
    const result = await validate({ models: [join('test/fixtures/invalid', file)], cwd: ROOT });
    expect(result.ok).toBe(false);
    const text = result.problems.map(formatProblem).join('\n');
    const expected = expectations(file);
    expect(expected.length, 'a fixture states what its message must say').toBeGreaterThan(0);
    for (const part of expected) expect(text).toContain(part);
    for (const part of exclusions(file)) expect(text).not.toContain(part);
    for (const p of result.problems) {
      // Every problem says where: a file position or the node.
      expect(p.location?.file ?? p.location?.node, formatProblem(p)).toBeTruthy();
    }
  });
});

describe('the CLI on invalid models', () => {
  it.each(['broken-turtle.ttl', 'many-problems.ttl', 'template-injection.ttl', 'empty.ttl'])(
    'generate %s: exit 1, every problem on stderr, no stack trace, nothing written',
    async (file) => {
      const parent = tempDir();
      const out = join(parent, 'out');
      const r = await gwgen(['generate', `test/fixtures/invalid/${file}`, '-o', out]);
      expect(r.exitCode).toBe(1);
      for (const part of expectations(file)) expect(r.stderr).toContain(part);
      expect(r.stderr).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
      expect(r.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    },
  );

  it('a second file whose agw: prefix is http:// is refused at that prefix, not generated without its policies', async () => {
    const parent = tempDir();
    const out = join(parent, 'out');
    const r = await gwgen(['generate', 'test/fixtures/split/gateway.ttl', 'test/fixtures/split/policies-http-namespace.ttl', '-o', out]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain('test/fixtures/split/policies-http-namespace.ttl:2:14');
    expect(r.stderr).toContain('<http://ggen.ai/ontology/api-gateway#> is not the agw: namespace');
    expect(r.stderr).toContain('(ApiKey, hasAuthentication)');
    expect(r.stderr).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
    expect(existsSync(out)).toBe(false);
  });

  it('a failed run leaves an existing output directory exactly as it was', async () => {
    const out = tempDir();
    const ok = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(ok.exitCode).toBe(0);
    const before = snapshotDir(out);
    const bad = await gwgen(['generate', 'test/fixtures/invalid/many-problems.ttl', '-o', out]);
    expect(bad.exitCode).toBe(1);
    expect(snapshotDir(out)).toEqual(before);
  });

});
