import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { execa } from 'execa';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyWrite, lockOutput, planWrite, recoverInterruptedWrites, type GeneratedFile } from '../dist/pipeline/write.js';
import { carryUserCode } from '../dist/pipeline/user-code.js';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';

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

/**
 * Runs applyWrite(plan from A to B) in a child process whose rename() sends itself `signal` just
 * before its `at`-th call: a kill -9 (or a Ctrl-C) at every point of the commit.
 */
async function interruptedWrite(dir: string, files: GeneratedFile[], at: number, signal: 'SIGKILL' | 'SIGINT', call: 'rename' | 'rm' = 'rename'): Promise<{ code: number | null; signal: string | null }> {
  // rm: the at-th removal of the staging folder itself (after its journal).
  const script = `
    import fsp from 'node:fs/promises';
    import { syncBuiltinESMExports } from 'node:module';
    const original = fsp.${call};
    let n = 0;
    fsp.${call} = async (...args) => {
      if (${call === 'rm' ? "/staging-\\d+-\\d+$/.test(String(args[0])) && " : ''}++n === ${at}) process.kill(process.pid, ${JSON.stringify(signal)});
      return original(...args);
    };
    syncBuiltinESMExports();
    const { applyWrite, planWrite } = await import(${JSON.stringify(join(ROOT, 'dist/pipeline/write.js'))});
    const plan = await planWrite(${JSON.stringify(dir)}, ${JSON.stringify(files)}, ${JSON.stringify(base)});
    await applyWrite(plan);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
}

describe('an interrupted write', () => {
  const before = [file('keep.txt', 'K\n'), file('change.txt', 'C1\n'), file('gone/old.txt', 'O\n'), file('src/hooks.ts', '// gwgen:user-code-begin h\n// gwgen:user-code-end h\n')];
  const after = [file('keep.txt', 'K\n'), file('change.txt', 'C2\n'), file('new/made.txt', 'N\n'), file('src/hooks.ts', '// v2\n// gwgen:user-code-begin h\n// gwgen:user-code-end h\n')];
  // deletion: 1 rename; change.txt, hooks.ts, manifest: 2 each; new/made.txt: 1.
  const RENAMES = 8;

  it('killed (kill -9) at any rename, is undone by the next run: DIR is exactly what it was', async () => {
    for (let at = 1; at <= RENAMES; at++) {
      const dir = tempDir();
      await write(dir, before);
      writeFileSync(join(dir, 'src/hooks.ts'), '// gwgen:user-code-begin h\nmine();\n// gwgen:user-code-end h\n');
      writeFileSync(join(dir, 'user-file.txt'), 'not gwgen\n');
      const original = snapshotDir(dir);
      const run = await interruptedWrite(dir, after, at, 'SIGKILL');
      expect(run.signal, `rename ${at}`).toBe('SIGKILL');
      expect(readdirSync(join(dir, '.gwgen')).some((n) => n.startsWith('staging-')), `rename ${at}`).toBe(true);
      expect(await recoverInterruptedWrites(dir), `rename ${at}`).toBe(1);
      expect(snapshotDir(dir), `rename ${at}`).toEqual(original);
      expect(readdirSync(join(dir, '.gwgen')), `rename ${at}`).toEqual(['manifest.json']);
      expect(existsSync(join(dir, 'new')), `rename ${at}`).toBe(false);
      // And the run after that is a normal one.
      const plan = await write(dir, after);
      expect(plan.conflicts, `rename ${at}`).toEqual([]);
      expect(readFileSync(join(dir, 'src/hooks.ts'), 'utf8')).toBe('// v2\n// gwgen:user-code-begin h\nmine();\n// gwgen:user-code-end h\n');
    }
  });

  it('interrupted by SIGINT, finishes its renames first, then ends by the signal', async () => {
    for (const at of [1, 4, RENAMES]) {
      const dir = tempDir();
      await write(dir, before);
      const run = await interruptedWrite(dir, after, at, 'SIGINT');
      expect(run.signal, `rename ${at}`).toBe('SIGINT');
      const snap = snapshotDir(dir);
      expect(snap['change.txt']).toBe('C2\n');
      expect(snap['new/made.txt']).toBe('N\n');
      expect(snap['gone/old.txt']).toBeUndefined();
      expect(readdirSync(join(dir, '.gwgen'))).toEqual(['manifest.json']);
    }
  });

  it('killed while it removes its staging folder (the journal gone first), the run counts as done', async () => {
    const dir = tempDir();
    await write(dir, before);
    const run = await interruptedWrite(dir, after, 1, 'SIGKILL', 'rm');
    expect(run.signal).toBe('SIGKILL');
    expect(await recoverInterruptedWrites(dir)).toBe(0);
    const snap = snapshotDir(dir);
    expect([snap['change.txt'], snap['new/made.txt'], snap['gone/old.txt']]).toEqual(['C2\n', 'N\n', undefined]);
    expect(readdirSync(join(dir, '.gwgen'))).toEqual(['manifest.json']);
    expect((await write(dir, after)).conflicts).toEqual([]);
  });

  it('keeps a file edited after the killed run: the next plan reports it as edited by hand', async () => {
    const dir = tempDir();
    await write(dir, before);
    await interruptedWrite(dir, after, 5, 'SIGKILL');
    // change.txt was replaced before the kill (renames 1-3: the deletion, then change.txt's two).
    expect(readFileSync(join(dir, 'change.txt'), 'utf8')).toBe('C2\n');
    writeFileSync(join(dir, 'change.txt'), 'my edit\n');
    await recoverInterruptedWrites(dir);
    expect(readFileSync(join(dir, 'change.txt'), 'utf8')).toBe('my edit\n');
    expect(readFileSync(join(dir, 'gone/old.txt'), 'utf8')).toBe('O\n');
    const plan = await planWrite(dir, before, base);
    expect(plan.conflicts.map((c) => c.message)).toEqual(['change.txt was edited by hand since gwgen generated it']);
  });

  it('does not act on a journal that names paths outside its staging folder', async () => {
    const dir = tempDir();
    await write(dir, before);
    const outside = tempDir();
    writeFileSync(join(outside, 'victim.txt'), 'secret\n');
    const forged = join(dir, '.gwgen', 'staging-999999-1');
    mkdirSync(forged);
    writeFileSync(join(forged, 'journal.json'), JSON.stringify({ steps: [{ target: 'keep.txt', tmp: 'nope.new' }, { target: 'stolen.txt', backup: `../../../${outside}/victim.txt` }], folders: [] }));
    await expect(recoverInterruptedWrites(dir)).rejects.toThrow(/not a journal gwgen wrote/);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('K\n');
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('secret\n');
    expect(existsSync(join(dir, 'stolen.txt'))).toBe(false);
  });

  it('does not undo through a folder that is now a symbolic link: the files it leads to stay', async () => {
    const dir = tempDir();
    await write(dir, before);
    const outside = tempDir();
    writeFileSync(join(outside, 'victim.txt'), 'secret\n');
    writeFileSync(join(outside, 'kept.txt'), 'mine\n');
    symlinkSync(outside, join(dir, 'lnk'));
    const forged = join(dir, '.gwgen', 'staging-999999-1');
    mkdirSync(forged);
    writeFileSync(join(forged, '0.old'), 'forged\n');
    const victim = statSync(join(outside, 'victim.txt'));
    // A step that "moved" lnk/victim.txt into place (its size and time match) and one with a backup to put back through the link.
    const steps = [{ target: 'lnk/victim.txt', tmp: '1.new', size: victim.size, mtimeMs: victim.mtimeMs }, { target: 'lnk/kept.txt', tmp: '2.new', backup: '0.old', size: 1, mtimeMs: 1 }];
    writeFileSync(join(forged, 'journal.json'), JSON.stringify({ steps, folders: ['lnk/sub'] }));
    await expect(recoverInterruptedWrites(dir)).rejects.toThrow(/names lnk\/victim\.txt, but lnk on its way is a symbolic link, which gwgen never writes through: nothing was undone/);
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('secret\n');
    expect(readFileSync(join(outside, 'kept.txt'), 'utf8')).toBe('mine\n');
  });

  it('undoing puts back only the folders the run made: an empty folder of the user stays', async () => {
    const dir = tempDir();
    await write(dir, before);
    mkdirSync(join(dir, 'mine-empty'));
    await interruptedWrite(dir, [...after, file('mine-empty/x.txt', 'X\n')], 8, 'SIGKILL');
    await recoverInterruptedWrites(dir);
    expect(existsSync(join(dir, 'mine-empty'))).toBe(true);
    expect(existsSync(join(dir, 'new'))).toBe(false);
  });
});

describe('the output lock', () => {
  it('one run at a time: a live holder stops the next run, a dead or old one is taken over', async () => {
    const dir = tempDir();
    await write(dir, [file('a.txt', 'A\n')]);
    const lock = join(dir, '.gwgen/lock');
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: hostname(), started: 'now' }));
    await expect(lockOutput(dir)).rejects.toThrow(/another gwgen run \(pid \d+ on .*\) is writing to/);
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), started: 'long ago' }));
    const release = await lockOutput(dir);
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid);
    await release();
    expect(existsSync(lock)).toBe(false);
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: hostname(), started: 'an hour ago' }));
    utimesSync(lock, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    await (await lockOutput(dir))();
    // A first run (no DIR yet) leaves nothing behind once released: its lock's folders are removed.
    const fresh = join(tempDir(), 'fresh');
    await (await lockOutput(fresh))();
    expect(existsSync(fresh)).toBe(false);
  });

  it('is held by one run at a time while many take and release it at once (a lock released while another run reads it is not judged stale)', async () => {
    // Concurrent pack installs once both held it: one found the lock gone as it read it, judged
    // that stale and removed the lock a third had just taken (CI: ENOTEMPTY from two installs at once).
    const dir = tempDir();
    mkdirSync(join(dir, '.gwgen'));
    writeFileSync(join(dir, '.gwgen/keep'), '');
    let inside = 0;
    let overlaps = 0;
    let taken = 0;
    const contender = async () => {
      for (let i = 0; i < 300; i++) {
        let release: () => Promise<void>;
        for (;;) {
          try {
            release = await lockOutput(dir);
            break;
          } catch (err) {
            if (!(err as { problems?: { code: string }[] }).problems?.some((p) => p.code === 'locked')) throw err;
            await new Promise((done) => setTimeout(done, Math.random() * 3));
          }
        }
        taken++;
        if (++inside > 1) overlaps++;
        await new Promise((done) => setImmediate(done));
        inside--;
        await release();
      }
    };
    await Promise.all(Array.from({ length: 6 }, contender));
    expect({ taken, overlaps }).toEqual({ taken: 1800, overlaps: 0 });
    expect(readdirSync(join(dir, '.gwgen'))).toEqual(['keep']);
  });

  it('a first run into a new DIR holds the lock too: a second run into the same new DIR waits its turn (exit 3), not writing over it', async () => {
    const parent = tempDir('gwgen test ü ');
    const fresh = join(parent, 'new out');
    const release = await lockOutput(fresh);
    expect(readdirSync(join(fresh, '.gwgen'))).toEqual(['lock']);
    const second = await gwgen(['generate', 'examples/metered-api.ttl', '-o', fresh]);
    expect(second.exitCode, second.stderr).toBe(3);
    expect(second.stderr).toContain(`another gwgen run (pid ${process.pid} on ${hostname()}`);
    expect(readdirSync(join(fresh, '.gwgen'))).toEqual(['lock']);
    await release();
    expect(existsSync(fresh)).toBe(false);
    // Released, DIR is free for the next run, which writes it.
    const third = await gwgen(['generate', 'examples/metered-api.ttl', '-o', fresh]);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(readdirSync(join(fresh, '.gwgen'))).toEqual(['manifest.json']);
  });

  it('a Ctrl-C while gwgen generate holds the lock leaves no lock behind: planning, DIR as it was (a new DIR not made); writing, the renames done', async () => {
    const parent = tempDir();
    const fresh = join(parent, 'new out');
    const planning = await interruptedCli(['generate', 'examples/metered-api.ttl', '-o', fresh], 'link', 1);
    expect(planning.signal, planning.stderr).toBe('SIGINT');
    expect(existsSync(fresh)).toBe(false);

    const dir = join(parent, 'out');
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', dir])).exitCode).toBe(0);
    const original = snapshotDir(dir);
    const again = await interruptedCli(['generate', 'examples/mesh-shop.ttl', '-o', dir], 'link', 1);
    expect(again.signal, again.stderr).toBe('SIGINT');
    expect(snapshotDir(dir)).toEqual(original);

    const writing = await interruptedCli(['generate', 'examples/mesh-shop.ttl', '-o', dir], 'rename', 3);
    expect(writing.signal, writing.stderr).toBe('SIGINT');
    expect(readdirSync(join(dir, '.gwgen'))).toEqual(['manifest.json']);
    expect((await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', dir, '--check'])).exitCode).toBe(0);
  });

  it('a run killed outright (kill -9) just as it took the lock leaves its lock and the copy it linked from; the next run removes both', async () => {
    const dir = tempDir();
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', dir])).exitCode).toBe(0);
    const killed = await interruptedCli(['generate', 'examples/mesh-shop.ttl', '-o', dir], 'link', 1, 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect(readdirSync(join(dir, '.gwgen')).filter((n) => n.startsWith('lock-'))).toHaveLength(1);
    const next = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', dir]);
    expect(next.exitCode, next.stderr).toBe(0);
    // Before, lock-<pid>-<id> stayed in .gwgen for good.
    expect(readdirSync(join(dir, '.gwgen'))).toEqual(['manifest.json']);
  });

  it('a .gwgen folder gwgen may not write to is a write error (exit 1) naming it, not an internal error', async () => {
    const { dir, run } = await unprivilegedOutput();
    const before = snapshotDir(dir);
    chmodSync(join(dir, '.gwgen'), 0o555);
    try {
      const r = await run(['generate', 'examples/mesh-shop.ttl', '-o', dir]);
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain(`${join(dir, '.gwgen')}: error: cannot take the lock ${join(dir, '.gwgen', 'lock')} (EACCES), so nothing was written`);
      expect(r.stderr).not.toContain('internal error');
    } finally {
      chmodSync(join(dir, '.gwgen'), 0o755);
    }
    expect(snapshotDir(dir)).toEqual(before);
  });

  it('a generated file or folder gwgen may not read is a problem (exit 1) naming it, also for --check, not an internal error', async () => {
    const { dir, run } = await unprivilegedOutput();
    const before = snapshotDir(dir);
    for (const [path, args] of [
      ['kong/kong.yml', ['generate', 'examples/metered-api.ttl', '-o', dir]],
      ['kong/kong.yml', ['generate', 'examples/metered-api.ttl', '-o', dir, '--check']],
      ['gateway/src', ['generate', 'examples/mesh-shop.ttl', '-o', dir]],
    ] as const) {
      chmodSync(join(dir, path), 0);
      try {
        const r = await run([...args]);
        expect(r.exitCode, r.stderr).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`: error: gwgen cannot (read|list the folder) ${join(dir, path)}[/\\w.]* \\(EACCES\\)`));
        expect(r.stderr).not.toContain('internal error');
      } finally {
        chmodSync(join(dir, path), statSync(join(dir, path)).isDirectory() ? 0o755 : 0o644);
      }
      expect(snapshotDir(dir)).toEqual(before);
    }
  });
});

/**
 * A generated DIR and a way to run the CLI on it where permissions count: root ignores them, so
 * as root the CLI runs as nobody, on a DIR that nobody owns.
 */
async function unprivilegedOutput(): Promise<{ dir: string; run: (args: string[]) => Promise<{ exitCode?: number; stderr: string }> }> {
  const asRoot = process.getuid?.() === 0;
  const dir = join(tempDir(), 'out');
  expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', dir])).exitCode).toBe(0);
  if (asRoot) {
    chownTree(dir, 65534, 65534);
    chmodSync(join(dir, '..'), 0o755);
  }
  const user = asRoot ? { uid: 65534, gid: 65534 } : {};
  const run = async (args: string[]) => {
    const r = await execa(process.execPath, [join(ROOT, 'dist/cli/bin.js'), ...args], { cwd: ROOT, reject: false, env: {}, timeout: 120_000, ...user });
    return { exitCode: r.exitCode, stderr: String(r.stderr) };
  };
  return { dir, run };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
}

/** Runs the CLI in a child whose `call` (fs/promises) sends the process a SIGINT right after its `at`-th call returns. */
async function interruptedCli(args: string[], call: 'link' | 'rename', at: number, signal: 'SIGINT' | 'SIGKILL' = 'SIGINT'): Promise<{ signal: string | null; stderr: string }> {
  const preload = join(tempDir(), 'interrupt.mjs');
  writeFileSync(
    preload,
    `import fsp from 'node:fs/promises';
    import { syncBuiltinESMExports } from 'node:module';
    const original = fsp.${call};
    let n = 0;
    fsp.${call} = async (...args) => {
      const result = await original(...args);
      if (++n === ${at}) process.kill(process.pid, '${signal}');
      return result;
    };
    syncBuiltinESMExports();`,
  );
  const child = spawn(process.execPath, ['--import', preload, join(ROOT, 'dist/cli/bin.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.on('exit', (_code, signal) => (clearTimeout(timer), resolve({ signal, stderr }))));
}

describe('user code and the manifest', () => {
  const hooks = (v: string) => file('src/hooks.ts', `// ${v}\n// gwgen:user-code-begin h\n// default body\n// gwgen:user-code-end h\n`);

  it('a file no longer generated that holds user code is not deleted without --force; one without is', async () => {
    const dir = tempDir();
    await write(dir, [hooks('v1'), file('a.txt', 'A\n')]);
    const untouched = await planWrite(dir, [file('a.txt', 'A\n')], base);
    expect(untouched.conflicts).toEqual([]);
    expect(untouched.delete).toEqual(['src/hooks.ts']);
    writeFileSync(join(dir, 'src/hooks.ts'), '// v1\n// gwgen:user-code-begin h\nmine();\n// gwgen:user-code-end h\n');
    // Carried over once (the manifest then records the file with the user's code in it) ...
    await write(dir, [hooks('v2'), file('a.txt', 'A\n')]);
    // ... and still not deleted silently.
    const plan = await write(dir, [file('a.txt', 'A\n')]);
    expect(plan.conflicts.map((c) => c.message)).toEqual(['src/hooks.ts is no longer generated, but holds your code in its gwgen:user-code regions, which would be lost']);
    expect(readFileSync(join(dir, 'src/hooks.ts'), 'utf8')).toContain('mine();');
  });

  it('a region that still holds the template\'s own body takes the new template\'s body; one with user code keeps it', async () => {
    const dir = tempDir();
    const two = (a: string, b: string) => `export {};\n// gwgen:user-code-begin a\n${a}\n// gwgen:user-code-end a\n// gwgen:user-code-begin b\n${b}\n// gwgen:user-code-end b\n`;
    await write(dir, [file('src/edited.ts', two('// a1', '// b1')), file('src/untouched.ts', two('// a1', '// b1'))]);
    writeFileSync(join(dir, 'src/edited.ts'), two('mine();', '// b1'));
    const plan = await write(dir, [file('src/edited.ts', two('// a2', '// b2')), file('src/untouched.ts', two('// a2', '// b2'))]);
    expect(plan.conflicts).toEqual([]);
    expect(readFileSync(join(dir, 'src/edited.ts'), 'utf8')).toBe(two('mine();', '// b2'));
    expect(readFileSync(join(dir, 'src/untouched.ts'), 'utf8')).toBe(two('// a2', '// b2'));
    // A manifest of an earlier gwgen (no template_regions): a file as its template wrote it still takes the new bodies.
    const manifestPath = join(dir, '.gwgen/manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    for (const entry of Object.values(manifest.files) as { template_regions?: unknown }[]) delete entry.template_regions;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const older = await planWrite(dir, [file('src/edited.ts', two('// a3', '// b3')), file('src/untouched.ts', two('// a3', '// b3'))], base);
    expect(older.conflicts).toEqual([]);
    expect(older.contents.get('src/untouched.ts')).toBe(two('// a3', '// b3'));
    expect(older.contents.get('src/edited.ts')).toBe(two('mine();', '// b2'));
  });

  it('a region that leaves the template is no conflict while the file holds only the template\'s own body', async () => {
    const dir = tempDir();
    await write(dir, [hooks('v1')]);
    const plan = await planWrite(dir, [file('src/hooks.ts', '// v2, no region\n')], base);
    expect(plan.conflicts).toEqual([]);
  });

  it('a region of the user\'s own (copied markers, a new id) is named as no region gwgen generates, not as one that "no longer exists"', async () => {
    const out = tempDir();
    const model = join(ROOT, 'examples/metered-api.ttl');
    expect((await gwgen(['generate', model, '-o', out])).exitCode).toBe(0);
    const hooks = join(out, 'gateway/src/hooks.ts');
    const text = readFileSync(hooks, 'utf8');
    writeFileSync(hooks, `${text}// gwgen:user-code-begin helpers\nexport const mine = 1;\n// gwgen:user-code-end helpers\n`);
    const r = await gwgen(['generate', model, '-o', out]);
    expect(r.exitCode).toBe(3);
    const line = text.split('\n').length;
    expect(r.stderr).toContain(`${hooks}:${line}: error: gateway/src/hooks.ts: "helpers" is not one of the user code regions gwgen generates in this file (imports, before-proxy, after-response), so its code would be lost`);
    expect(r.stderr).not.toContain('no longer exists');
    expect(readFileSync(hooks, 'utf8')).toContain('export const mine = 1;');
  });

  it('a region id twice on disk is a conflict; twice in a template is an error', async () => {
    const dir = tempDir();
    await write(dir, [hooks('v1')]);
    const path = join(dir, 'src/hooks.ts');
    writeFileSync(path, `${readFileSync(path, 'utf8')}// gwgen:user-code-begin h\ncopy();\n// gwgen:user-code-end h\n`);
    const plan = await planWrite(dir, [hooks('v2')], base);
    expect(plan.conflicts.map((c) => c.message)).toContain('src/hooks.ts: the user code region "h" appears twice, so gwgen cannot tell which body is yours (the first would be kept)');
    await expect(planWrite(dir, [file('src/two.ts', '// gwgen:user-code-begin x\n// gwgen:user-code-end x\n// gwgen:user-code-begin x\n// gwgen:user-code-end x\n')], base)).rejects.toThrow(/has the user-code region "x" twice/);
  });

  it.each([['{}'], ['[]'], ['{"files":null}'], ['{"files":{"../../evil":{"sha256":"x","target":"t","template":"t"}}}'], ['{"files":{".gwgen/lock":{"sha256":"x","target":"t","template":"t"}}}'], ['{not json']])('a manifest of the wrong shape (%s) is not trusted: gwgen owns nothing in DIR', async (text) => {
    const dir = tempDir();
    await write(dir, [file('a.txt', 'A\n')]);
    writeFileSync(join(dir, '.gwgen/manifest.json'), text);
    const plan = await planWrite(dir, [file('a.txt', 'A2\n')], base);
    const why = text === '{not json' ? 'is not valid JSON' : 'is not a manifest gwgen wrote (another shape, or a path outside the output directory or inside .gwgen)';
    expect(plan.conflicts.map((c) => c.message)).toEqual([
      `.gwgen/manifest.json ${why}, so gwgen cannot tell which files in the output directory it generated`,
      `a.txt exists but was not generated by gwgen (.gwgen/manifest.json ${why})`,
    ]);
    expect(plan.delete).toEqual([]);
  });

  it('a manifest gwgen cannot trust stops the run even when every file is as gwgen would write it (it would forget what it generated before)', async () => {
    const dir = tempDir();
    await write(dir, [file('a.txt', 'A\n'), file('old.txt', 'O\n')]);
    writeFileSync(join(dir, '.gwgen/manifest.json'), '{"files": [');
    const plan = await planWrite(dir, [file('a.txt', 'A\n')], base);
    expect(plan.unchanged).toEqual(['a.txt']);
    expect(plan.conflicts.map((c) => c.message)).toEqual(['.gwgen/manifest.json is not valid JSON, so gwgen cannot tell which files in the output directory it generated']);
    expect(plan.conflicts[0]?.location?.file).toBe(join(dir, '.gwgen/manifest.json'));
    expect(plan.obstacles).toEqual([]);
  });

  it('a deleted manifest is named as the reason a file is not known as gwgen\'s, and the hint says to restore it', async () => {
    const dir = tempDir();
    await write(dir, [file('a.txt', 'A\n')]);
    rmSync(join(dir, '.gwgen/manifest.json'));
    const plan = await planWrite(dir, [file('a.txt', 'A2\n')], base);
    expect(plan.conflicts.map((c) => c.message)).toEqual(['a.txt exists but was not generated by gwgen (no .gwgen/manifest.json records it)']);
    expect(plan.conflicts[0]?.hint).toContain('restore .gwgen/manifest.json');
  });

  it('never deletes through a symbolic link: a file no longer generated behind a linked folder stays, even with --force', async () => {
    const dir = tempDir();
    const outside = tempDir();
    await write(dir, [file('a.txt', 'A\n'), file('linked/secret.txt', 'S\n')]);
    // The folder replaced by a link to a folder outside DIR that holds the same file.
    rmSync(join(dir, 'linked'), { recursive: true });
    writeFileSync(join(outside, 'secret.txt'), 'S\n');
    symlinkSync(outside, join(dir, 'linked'));
    const plan = await planWrite(dir, [file('a.txt', 'A\n')], base);
    expect(plan.delete).toEqual([]);
    expect(plan.obstacles.map((c) => c.message)).toEqual(['linked/secret.txt is no longer generated, but linked on its way is a symbolic link: gwgen does not delete through one (the file it leads to may lie outside the output directory)']);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('S\n');
  });

  it('a folder replaced by a symbolic link: its files are still planned, not taken for files the model dropped', async () => {
    const dir = tempDir();
    const outside = tempDir();
    await write(dir, [file('a.txt', 'A\n'), file('linked/x.txt', 'X\n')]);
    rmSync(join(dir, 'linked'), { recursive: true });
    writeFileSync(join(outside, 'x.txt'), 'X\n');
    symlinkSync(outside, join(dir, 'linked'));
    const plan = await planWrite(dir, [file('a.txt', 'A\n'), file('linked/x.txt', 'X\n')], base);
    expect(plan.obstacles.map((c) => c.message)).toEqual(['linked is a symbolic link, where gwgen writes the directory linked/: writing through it could leave the output directory']);
    expect(plan.delete).toEqual([]);
    expect(plan.update).toEqual(['linked/x.txt']);
  });

  it('.gwgen as a symbolic link is an obstacle even with --force', async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    symlinkSync(elsewhere, join(dir, '.gwgen'));
    const plan = await planWrite(dir, [file('a.txt', 'A\n')], base);
    expect(plan.obstacles.map((c) => c.message)).toEqual(['.gwgen is a symbolic link, where gwgen keeps its manifest and stages its writes: writing through it could leave the output directory']);
  });
});

/** Whether this process may mount a tmpfs (root on Linux, outside most containers' limits). */
function canMount(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = tempDir();
  if (spawnSync('mount', ['-t', 'tmpfs', 'none', probe]).status !== 0) return false;
  return spawnSync('umount', [probe]).status === 0;
}

describe.skipIf(!canMount())('a folder of DIR on another file system (a mount point)', () => {
  it('is named as such, with a hint that fits (EXDEV), and DIR is left as it was', async () => {
    const out = tempDir();
    const metered = join(ROOT, 'examples/metered-api.ttl');
    expect((await gwgen(['generate', metered, '-o', out])).exitCode).toBe(0);
    const kong = join(out, 'kong');
    const saved = tempDir();
    cpSync(kong, saved, { recursive: true });
    expect(spawnSync('mount', ['-t', 'tmpfs', 'none', kong]).status).toBe(0);
    try {
      cpSync(saved, kong, { recursive: true });
      const before = snapshotDir(out);
      const r = await gwgen(['generate', join(ROOT, 'examples/mesh-shop.ttl'), '-o', out]);
      expect(r.exitCode).toBe(1);
      // Before: "writing failed ... EXDEV: cross-device link not permitted", hint "check permissions and free space".
      expect(r.stderr).toContain(`${kong}: error: kong is on another file system than ${join(out, '.gwgen')}`);
      expect(r.stderr).toContain('mount the whole output directory');
      expect(snapshotDir(out)).toEqual(before);
    } finally {
      spawnSync('umount', [kong]);
    }
  });
});

describe('file permissions', () => {
  it('a rewritten file keeps its mode', async () => {
    const dir = tempDir();
    await write(dir, [file('run.sh', 'echo 1\n'), file('plain.txt', 'A\n')]);
    chmodSync(join(dir, 'run.sh'), 0o755);
    await write(dir, [file('run.sh', 'echo 2\n'), file('plain.txt', 'B\n')], true);
    expect(statSync(join(dir, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(dir, 'run.sh'), 'utf8')).toBe('echo 2\n');
  });
});

describe('hand edits around user code', () => {
  it('a region whose end marker is gone is named as such; an edited YAML file is not told to use a region', async () => {
    const dir = tempDir();
    await write(dir, [file('src/hooks.ts', '// gwgen:user-code-begin h\n// gwgen:user-code-end h\nexport {};\n'), file('k8s/a.yaml', 'a: 1\n')]);
    writeFileSync(join(dir, 'src/hooks.ts'), '// gwgen:user-code-begin h\nmine();\nexport {};\n');
    writeFileSync(join(dir, 'k8s/a.yaml'), 'a: 2\n');
    const plan = await planWrite(dir, [file('src/hooks.ts', '// v2\n// gwgen:user-code-begin h\n// gwgen:user-code-end h\nexport {};\n'), file('k8s/a.yaml', 'a: 3\n')], base);
    const byFile = Object.fromEntries(plan.conflicts.map((c) => [c.message.split(/[: ]/)[0], c]));
    expect(byFile['src/hooks.ts']?.message).toBe('src/hooks.ts: the user code region "h" lost its end marker, so gwgen cannot tell where your code ends');
    expect(byFile['src/hooks.ts']?.hint).toContain('// gwgen:user-code-end h');
    expect(byFile['k8s/a.yaml']?.hint).toBe('move your change into the model, or pass --force to overwrite it');
  });

  it('a region whose begin marker is gone is named as such', async () => {
    const dir = tempDir();
    await write(dir, [file('src/hooks.ts', 'export {};\n// gwgen:user-code-begin h\n// gwgen:user-code-end h\n')]);
    writeFileSync(join(dir, 'src/hooks.ts'), 'export {};\nmine();\n// gwgen:user-code-end h\n');
    const plan = await planWrite(dir, [file('src/hooks.ts', '// v2\nexport {};\n// gwgen:user-code-begin h\n// gwgen:user-code-end h\n')], base);
    expect(plan.conflicts.map((c) => c.message)).toEqual(['src/hooks.ts: the user code region "h" lost its begin marker, so gwgen cannot tell where your code starts']);
    expect(plan.conflicts[0]?.hint).toContain('// gwgen:user-code-begin h');
  });
});

describe('CRLF line ends (a Windows checkout with core.autocrlf)', () => {
  const gen = (v: string) => file('src/hooks.ts', `// ${v}\nexport function hook() {\n  // gwgen:user-code-begin hook\n  // gwgen:user-code-end hook\n}\n`);
  const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

  it('a file converted to CRLF is unchanged, its user code no hand edit, and a rewrite keeps CRLF and the code', async () => {
    const dir = tempDir();
    await write(dir, [gen('v1'), file('k8s/a.yaml', 'a: 1\n')]);
    const hooks = join(dir, 'src/hooks.ts');
    writeFileSync(hooks, crlf(readFileSync(hooks, 'utf8').replace('  // gwgen:user-code-end hook', '  mine();\n  // gwgen:user-code-end hook')));
    writeFileSync(join(dir, 'k8s/a.yaml'), 'a: 1\r\n');
    writeFileSync(join(dir, '.gwgen/manifest.json'), crlf(readFileSync(join(dir, '.gwgen/manifest.json'), 'utf8')));
    const same = await planWrite(dir, [gen('v1'), file('k8s/a.yaml', 'a: 1\n')], base);
    expect(same.conflicts).toEqual([]);
    expect(same.unchanged).toEqual(['k8s/a.yaml', 'src/hooks.ts']);
    expect(same.manifestChanged).toBe(false);
    const next = await write(dir, [gen('v2'), file('k8s/a.yaml', 'a: 2\n')]);
    expect(next.conflicts).toEqual([]);
    expect(next.update).toEqual(['k8s/a.yaml', 'src/hooks.ts']);
    expect(readFileSync(hooks, 'utf8')).toBe('// v2\r\nexport function hook() {\r\n  // gwgen:user-code-begin hook\r\n  mine();\r\n  // gwgen:user-code-end hook\r\n}\r\n');
    expect(readFileSync(join(dir, 'k8s/a.yaml'), 'utf8')).toBe('a: 2\r\n');
    // Recorded with LF line ends, as gwgen generated it: the next run finds nothing changed.
    expect((await planWrite(dir, [gen('v2'), file('k8s/a.yaml', 'a: 2\n')], base)).unchanged).toEqual(['k8s/a.yaml', 'src/hooks.ts']);
  });

  it('a file with mixed line ends (CRLF lines pasted into a region) is unchanged: --check passes and generate leaves its bytes alone', async () => {
    const out = tempDir();
    const model = join(ROOT, 'examples/metered-api.ttl');
    expect((await gwgen(['generate', model, '-o', out])).exitCode).toBe(0);
    const hooks = join(out, 'gateway/src/hooks.ts');
    const mixed = readFileSync(hooks, 'utf8').replace('  // gwgen:user-code-end before-proxy', '  // pasted from a Windows clipboard\r\n  void 0;\r\n  // gwgen:user-code-end before-proxy');
    expect(mixed).toContain('\r\n');
    writeFileSync(hooks, mixed);
    const check = await gwgen(['generate', model, '-o', out, '--check']);
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    const run = await gwgen(['generate', model, '-o', out]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain(' 0 updated');
    // Before, the user's CRLF lines were rewritten to LF on a run with nothing to change.
    expect(readFileSync(hooks, 'utf8')).toBe(mixed);
  });

  it('a real edit of a CRLF file is still a hand edit', async () => {
    const dir = tempDir();
    await write(dir, [file('k8s/a.yaml', 'a: 1\n')]);
    writeFileSync(join(dir, 'k8s/a.yaml'), 'a: 1\r\nb: 2\r\n');
    const plan = await planWrite(dir, [file('k8s/a.yaml', 'a: 1\n')], base);
    expect(plan.conflicts.map((c) => c.message)).toEqual(['k8s/a.yaml was edited by hand since gwgen generated it']);
  });
});
