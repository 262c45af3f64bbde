import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyWrite, planWrite, type GeneratedFile } from '../dist/pipeline/write.js';
import { carryUserCode } from '../dist/pipeline/user-code.js';
import { snapshotDir, tempDir } from './helpers.js';

const base = { generator: 'gwgen test', inputs: [], targets: ['t'] };
const file = (path: string, content: string): GeneratedFile => ({ path, content, target: 't', template: 't.hbs' });

async function write(dir: string, files: GeneratedFile[], force = false) {
  const plan = await planWrite(dir, files, base);
  if (plan.conflicts.length && !force) return plan;
  await applyWrite(plan);
  return plan;
}

describe('write stage', () => {
  it('creates, keeps unchanged files untouched, updates, and deletes what is no longer generated', async () => {
    const dir = tempDir();
    const p1 = await write(dir, [file('a.txt', 'A1\n'), file('sub/b.txt', 'B1\n'), file('sub/deep/c.txt', 'C1\n')]);
    expect(p1.create).toEqual(['a.txt', 'sub/b.txt', 'sub/deep/c.txt']);
    const p2 = await write(dir, [file('a.txt', 'A2\n'), file('sub/b.txt', 'B1\n')]);
    expect(p2.update).toEqual(['a.txt']);
    expect(p2.unchanged).toEqual(['sub/b.txt']);
    expect(p2.delete).toEqual(['sub/deep/c.txt']);
    expect(snapshotDir(dir)['a.txt']).toBe('A2\n');
    expect(existsSync(join(dir, 'sub/deep'))).toBe(false);
    expect(existsSync(join(dir, 'sub/b.txt'))).toBe(true);
  });

  it('with an explicit target list, files of the other targets are kept, not deleted', async () => {
    const dir = tempDir();
    const two = { ...base, targets: ['a', 'b'] };
    await applyWrite(await planWrite(dir, [{ ...file('a/x.txt', 'A\n'), target: 'a' }, { ...file('b/y.txt', 'B\n'), target: 'b' }], two));
    const onlyA = await planWrite(dir, [{ ...file('a/x.txt', 'A2\n'), target: 'a' }], { ...base, targets: ['a'] }, { keepOtherTargets: true });
    expect(onlyA.delete).toEqual([]);
    await applyWrite(onlyA);
    expect(readFileSync(join(dir, 'b/y.txt'), 'utf8')).toBe('B\n');
    expect(Object.keys(onlyA.manifest.files)).toEqual(['a/x.txt', 'b/y.txt']);
    expect(onlyA.manifest.targets).toEqual(['a', 'b']);
    // Without -t, a target the model no longer has data for is stale: its files go.
    const all = await planWrite(dir, [{ ...file('a/x.txt', 'A2\n'), target: 'a' }], { ...base, targets: ['a'] });
    expect(all.delete).toEqual(['b/y.txt']);
  });

  it('a deleted file that was edited by hand is a conflict', async () => {
    const dir = tempDir();
    await write(dir, [file('a.txt', 'A\n'), file('old.txt', 'O\n')]);
    writeFileSync(join(dir, 'old.txt'), 'edited\n');
    const plan = await write(dir, [file('a.txt', 'A\n')]);
    expect(plan.conflicts.map((c) => c.message)).toEqual(['old.txt is no longer generated, but was edited by hand since gwgen generated it']);
    expect(readFileSync(join(dir, 'old.txt'), 'utf8')).toBe('edited\n');
  });

  it('carries user code regions over and does not count them as hand edits', async () => {
    const dir = tempDir();
    const gen = (v: string) => `// v${v}\nexport function hook() {\n  // gwgen:user-code-begin hook\n  // gwgen:user-code-end hook\n}\n`;
    await write(dir, [file('src/x.ts', gen('1'))]);
    const path = join(dir, 'src/x.ts');
    writeFileSync(path, readFileSync(path, 'utf8').replace('  // gwgen:user-code-end hook', '  console.log("mine");\n  // gwgen:user-code-end hook'));
    const plan = await write(dir, [file('src/x.ts', gen('2'))]);
    expect(plan.conflicts).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe('// v2\nexport function hook() {\n  // gwgen:user-code-begin hook\n  console.log("mine");\n  // gwgen:user-code-end hook\n}\n');
    // A region that disappears from the template would lose code: that needs --force.
    const gone = await planWrite(dir, [file('src/x.ts', '// v3\n')], base);
    expect(gone.conflicts[0]?.message).toContain('"hook" no longer exists');
  });

  it('carryUserCode keeps each region by id', () => {
    const generated = '// gwgen:user-code-begin a\n// gwgen:user-code-end a\nX\n  // gwgen:user-code-begin b\n  // gwgen:user-code-end b\n';
    const previous = '// gwgen:user-code-begin b\nB!\n  // gwgen:user-code-end b\n// gwgen:user-code-begin a\nA!\n// gwgen:user-code-end a\n';
    expect(carryUserCode(generated, previous).content).toBe('// gwgen:user-code-begin a\nA!\n// gwgen:user-code-end a\nX\n  // gwgen:user-code-begin b\nB!\n  // gwgen:user-code-end b\n');
  });

  it('refuses paths that leave the output directory', async () => {
    const dir = tempDir();
    await expect(planWrite(dir, [file('../escape.txt', 'x')], base)).rejects.toThrow(/outside the output directory/);
    await expect(planWrite(dir, [file('/etc/passwd', 'x')], base)).rejects.toThrow(/outside the output directory/);
  });

  it('rolls back every file when a write fails half way', async () => {
    if (process.getuid?.() === 0) {
      // root ignores permissions: make the failure with a file where a directory must go.
      const dir = tempDir();
      await write(dir, [file('a.txt', 'A1\n'), file('b.txt', 'B1\n')]);
      const before = snapshotDir(dir);
      writeFileSync(join(dir, 'blocker'), 'not a directory\n');
      const plan = await planWrite(dir, [file('a.txt', 'A2\n'), file('b.txt', 'B2\n'), file('blocker/c.txt', 'C\n')], base);
      await expect(applyWrite(plan)).rejects.toThrow(/nothing was changed/);
      const after = snapshotDir(dir);
      delete after['blocker'];
      expect(after).toEqual(before);
      return;
    }
    const dir = tempDir();
    await write(dir, [file('a.txt', 'A1\n')]);
    mkdirSync(join(dir, 'locked'));
    chmodSync(join(dir, 'locked'), 0o500);
    const plan = await planWrite(dir, [file('a.txt', 'A2\n'), file('locked/c.txt', 'C\n')], base);
    await expect(applyWrite(plan)).rejects.toThrow(/nothing was changed/);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('A1\n');
  });
});
