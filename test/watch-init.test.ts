// gwgen watch and gwgen init, run as a user runs them: the real CLI in a real process, real files
// changed the ways editors change them, real signals.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, appendFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { describe, expect, it } from 'vitest';
import { STARTER_MODEL } from '../dist/init.js';
import { watch } from '../dist/watch.js';
import { BIN, gwgen, snapshotDir, tempDir } from './helpers.js';

/** The starter model split in two files, so that watch has several models to follow. */
function splitStarter(dir: string): { a: string; b: string } {
  const [head, rest] = STARTER_MODEL.split('# --- backend');
  const prefixes = head!.split('\n').filter((l) => l.startsWith('@prefix')).join('\n');
  const a = join(dir, 'a.ttl');
  const b = join(dir, 'b.ttl');
  writeFileSync(a, head!);
  writeFileSync(b, `${prefixes}\n# --- backend${rest!}`);
  return { a, b };
}

/** A running `gwgen watch`: its stderr so far, and a wait for the n-th "...; watching" report. */
function startWatch(args: string[], cwd: string) {
  const child: ResultPromise = execa(process.execPath, [BIN, 'watch', ...args], { cwd, reject: false, timeout: 110_000 });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const reports = () => stderr.split('\n').filter((l) => l.endsWith('; watching'));
  const until = async (what: string, ok: () => boolean) => {
    for (const deadline = Date.now() + 30_000; !ok(); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
    }
  };
  return {
    child,
    stderr: () => stderr,
    reports,
    /**
     * Waits until no run is under way: the last line is a report and none came for 1 s (the
     * debounce is 150 ms). A save that changes a file twice (truncate, then write) may cause one
     * run or two, so a test counts reports only from such a quiet point.
     */
    settled: async () => {
      let count = -1;
      let since = Date.now();
      await until('a quiet moment', () => {
        if (reports().length !== count) [count, since] = [reports().length, Date.now()];
        return stderr.endsWith('; watching\n') && Date.now() - since >= 1000;
      });
      return count;
    },
    /** Waits for report number n (1-based) and returns it. */
    report: async (n: number, what: string) => {
      await until(what, () => reports().length >= n);
      return reports()[n - 1]!;
    },
    until,
  };
}

/**
 * kong.yml as it is now; "" for the moment a run replaces it (the old file is moved aside, then
 * the new one renamed into place), so a wait polling it reads again rather than failing.
 */
const kongOf = (out: string): string => {
  try {
    return readFileSync(join(out, 'kong/kong.yml'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
};
/** Writes a file the way VS Code and `sed -i` do: a temporary file renamed over the original. */
const replaceByRename = (file: string, text: string) => {
  writeFileSync(`${file}.tmp~`, text);
  renameSync(`${file}.tmp~`, file);
};

describe('gwgen watch', () => {
  it('regenerates on every change of each of several model files, however an editor saves it, and leaves DIR alone when it cannot write', async () => {
    const dir = tempDir();
    const { a, b } = splitStarter(dir);
    const out = join(dir, 'out');
    const w = startWatch(['a.ttl', 'b.ttl', '-o', 'out'], dir);
    try {
      expect(await w.report(1, 'the first run')).toMatch(/^generated into out: \d+ created/);
      // b.ttl: a temporary file renamed over it.
      replaceByRename(b, readFileSync(b, 'utf8').replace('agw:port 8080', 'agw:port 8081'));
      expect(await w.report(2, 'the rename-over save')).toMatch(/^b\.ttl changed: generated into out/);
      expect(kongOf(out)).toContain('port: 8081');
      // a.ttl: truncated, then written (an editor that saves in place).
      const text = readFileSync(a, 'utf8');
      truncateSync(a, 0);
      appendFileSync(a, text.replace('"my-gateway"', '"renamed-gateway"'));
      await w.until('the in-place save', () => kongOf(out).includes('gateway:renamed-gateway'));
      // b.ttl the way vim saves: the original renamed to a backup, a new file written, the backup removed.
      const before = await w.settled();
      renameSync(b, `${b}~`);
      writeFileSync(b, readFileSync(`${b}~`, 'utf8').replace('agw:port 8081', 'agw:port 8082'));
      rmSync(`${b}~`);
      await w.until('the vim-style save', () => kongOf(out).includes('port: 8082'));
      await w.until('its report', () => w.reports().length > before);

      // b.ttl deleted: reported, DIR as it was; back later: generated again.
      const kept = snapshotDir(out);
      const backup = readFileSync(b, 'utf8');
      let n = await w.settled();
      rmSync(b);
      expect(await w.report(n + 1, 'the deletion')).toBe('b.ttl changed: not generated, out left as it was; watching');
      expect(w.stderr()).toContain('b.ttl: error: model file not found: b.ttl');
      expect(snapshotDir(out)).toEqual(kept);
      writeFileSync(b, backup.replace('agw:port 8082', 'agw:port 8083'));
      await w.until('the file back', () => kongOf(out).includes('port: 8083'));

      // An invalid edit: located at file:line:col, DIR exactly as it was; the next valid edit regenerates.
      // (The files are written before the run's report is printed: without waiting, the report
      // awaited below could be the previous run's.)
      n = await w.settled();
      const good = readFileSync(b, 'utf8');
      const snapshot = snapshotDir(out);
      writeFileSync(b, good.replace('agw:port 8083 ;', 'agw:port 8084 ; agw:bogus'));
      expect(await w.report(n + 1, 'the invalid edit')).toBe('b.ttl changed: model invalid, out left as it was; watching');
      expect(w.stderr()).toMatch(/b\.ttl:\d+:\d+: error: Turtle syntax error/);
      expect(snapshotDir(out)).toEqual(snapshot);
      writeFileSync(b, good.replace('agw:port 8083', 'agw:port 8085'));
      await w.until('the fix', () => kongOf(out).includes('port: 8085'));

      // A generated file edited by hand is not overwritten (exit-3 rule); watch says so and goes on.
      n = await w.settled();
      const edited = `${kongOf(out)}# mine\n`;
      writeFileSync(join(out, 'kong/kong.yml'), edited);
      const withEdit = snapshotDir(out);
      writeFileSync(b, good.replace('agw:port 8083', 'agw:port 8086'));
      expect(await w.report(n + 1, 'the refused run')).toBe('b.ttl changed: not written, out left as it was; watching');
      expect(w.stderr()).toContain('kong/kong.yml was edited by hand');
      expect(snapshotDir(out)).toEqual(withEdit);
      // The edit undone, the next save is written.
      writeFileSync(join(out, 'kong/kong.yml'), edited.replace('# mine\n', ''));
      writeFileSync(b, good.replace('agw:port 8083', 'agw:port 8087'));
      await w.until('the run after the edit was undone', () => kongOf(out).includes('port: 8087'));
    } finally {
      w.child.kill('SIGTERM');
    }
    const result = await w.child;
    expect(result.exitCode, w.stderr()).toBe(0);
    // No lock and no staging folder left behind.
    expect(readdirSync(join(out, '.gwgen'))).toEqual(['manifest.json']);
  });

  it('started without models, follows edits of gwgen.json: other models and targets, a broken gwgen.json reported until fixed', async () => {
    const dir = tempDir();
    splitStarter(dir);
    const config = join(dir, 'gwgen.json');
    writeFileSync(config, JSON.stringify({ models: ['a.ttl', 'b.ttl'], out: 'out', targets: ['kong'] }));
    const out = join(dir, 'out');
    const w = startWatch([], dir);
    try {
      expect(await w.report(1, 'the first run')).toMatch(/^generated into out: \d+ created/);
      expect(existsSync(join(out, 'k8s'))).toBe(false);
      // Another target: generated without a restart.
      replaceByRename(config, JSON.stringify({ models: ['a.ttl', 'b.ttl'], out: 'out', targets: ['kong', 'k8s'] }));
      await w.until('the k8s target', () => existsSync(join(out, 'k8s/kustomization.yaml')));
      expect(w.stderr()).toContain('gwgen.json changed: reading it again');
      // Broken: said, with its location, and nothing written; fixed: watched again.
      let n = await w.settled();
      const kept = snapshotDir(out);
      writeFileSync(config, '{ "models": [');
      await w.until('the refusal', () => w.stderr().includes(`not watching until gwgen.json changes again`));
      expect(w.stderr()).toMatch(/gwgen\.json:1:\d+: error: gwgen\.json is not valid JSON/);
      expect(snapshotDir(out)).toEqual(kept);
      writeFileSync(config, JSON.stringify({ models: ['a.ttl', 'b.ttl'], out: 'out', targets: ['kong', 'k8s'] }));
      await w.until('watching again', () => w.reports().length > n);
      // The models of the new gwgen.json are the ones watched.
      n = await w.settled();
      writeFileSync(join(dir, 'b.ttl'), readFileSync(join(dir, 'b.ttl'), 'utf8').replace('agw:port 8080', 'agw:port 8091'));
      await w.until('the model edit', () => kongOf(out).includes('port: 8091'));
      // A gwgen.json naming a model that is not there yet: reported, watched, and generated from
      // once it is (it used to stop watching until gwgen.json changed again).
      n = await w.settled();
      replaceByRename(config, JSON.stringify({ models: ['a.ttl', 'c.ttl'], out: 'out', targets: ['kong', 'k8s'] }));
      await w.until('the missing model reported', () => w.reports().length > n);
      expect(w.reports().at(-1)).toBe('not generated, out left as it was; watching');
      expect(w.stderr().split('not watching until').length).toBe(2);
      writeFileSync(join(dir, 'c.ttl'), readFileSync(join(dir, 'b.ttl'), 'utf8').replace('agw:port 8091', 'agw:port 8092'));
      await w.until('the model once there', () => kongOf(out).includes('port: 8092'));
    } finally {
      w.child.kill('SIGTERM');
    }
    const result = await w.child;
    expect(result.exitCode, w.stderr()).toBe(0);
  });

  it('runs rapid saves one after another, never at once, and the last save wins', async () => {
    const dir = tempDir();
    const { b } = splitStarter(dir);
    const out = join(dir, 'out');
    const w = startWatch(['a.ttl', 'b.ttl', '-o', out, '-t', 'kong'], dir);
    try {
      await w.report(1, 'the first run');
      const text = readFileSync(b, 'utf8');
      for (let i = 1; i <= 30; i++) {
        writeFileSync(b, text.replace('agw:port 8080', `agw:port ${9000 + i}`));
        await new Promise((r) => setTimeout(r, i % 5 === 0 ? 200 : 10));
      }
      await w.until('the last save', () => kongOf(out).includes('port: 9030'));
      // Debounced: fewer runs than saves; serialised: no run found another one's lock.
      expect(w.reports().length).toBeLessThan(1 + 30);
      expect(w.stderr()).not.toMatch(/lock|not written|error/);
      expect(readdirSync(out).sort()).toEqual(['.gwgen', 'kong']);
    } finally {
      w.child.kill('SIGINT');
    }
    expect((await w.child).exitCode, w.stderr()).toBe(0);
  });

  it('follows a model that is a symbolic link: an edit of the file it leads to regenerates', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'shared'));
    mkdirSync(join(dir, 'project'));
    const { a } = splitStarter(join(dir, 'shared'));
    symlinkSync('../shared/a.ttl', join(dir, 'project/a.ttl'));
    renameSync(join(dir, 'shared/b.ttl'), join(dir, 'project/b.ttl'));
    const out = join(dir, 'project/out');
    const w = startWatch(['a.ttl', 'b.ttl', '-o', 'out'], join(dir, 'project'));
    try {
      await w.report(1, 'the first run');
      replaceByRename(a, readFileSync(a, 'utf8').replace('"my-gateway"', '"linked-gateway"'));
      expect(await w.report(2, 'the edit behind the link')).toMatch(/^a\.ttl changed: generated into out/);
      expect(kongOf(out)).toContain('gateway:linked-gateway');
    } finally {
      w.child.kill('SIGINT');
    }
    expect((await w.child).exitCode, w.stderr()).toBe(0);
  });

  it('goes on watching a model folder that was removed and made again', async () => {
    const dir = tempDir();
    const models = join(dir, 'models');
    mkdirSync(models);
    const { a, b } = splitStarter(models);
    const [textA, textB] = [readFileSync(a, 'utf8'), readFileSync(b, 'utf8')];
    const w = startWatch(['models/a.ttl', 'models/b.ttl', '-o', 'out'], dir);
    try {
      await w.report(1, 'the first run');
      rmSync(models, { recursive: true });
      expect(await w.report(2, 'the removal')).toMatch(/not generated, out left as it was; watching$/);
      // Put back as a checkout or a sync tool would, then edited.
      mkdirSync(models);
      writeFileSync(a, textA);
      writeFileSync(b, textB);
      await w.report(3, 'the folder back');
      writeFileSync(a, textA.replace('"my-gateway"', '"back-again"'));
      await w.until('the edit in the new folder', () => kongOf(join(dir, 'out')).includes('gateway:back-again'));
    } finally {
      w.child.kill('SIGINT');
    }
    expect((await w.child).exitCode, w.stderr()).toBe(0);
  });

  it('writes nothing more once stopped in the middle of a run, and ends with an error a run throws', async () => {
    const dir = tempDir();
    const { a, b } = splitStarter(dir);
    const out = join(dir, 'out');
    let release!: () => void;
    let started!: () => void;
    const runStarted = new Promise<void>((r) => (started = r));
    let runs = 0;
    const reports: string[] = [];
    // The pack hook runs at the start of every run: the second run waits there until stop() was called.
    const watcher = watch({ models: [a, b] }, { outDir: out }, (e) => reports.push(e.generation.ok ? 'ok' : 'failed'), 50, async (input) => {
      if (++runs === 2) {
        started();
        await new Promise<void>((r) => (release = r));
      }
      return { input, problems: [] };
    });
    for (const deadline = Date.now() + 30_000; reports.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    expect(reports).toEqual(['ok']);
    const first = snapshotDir(out);
    writeFileSync(b, readFileSync(b, 'utf8').replace('agw:port 8080', 'agw:port 8089'));
    await runStarted;
    const stopping = watcher.stop();
    release();
    await stopping;
    expect(reports).toEqual(['ok']);
    expect(snapshotDir(out)).toEqual(first);

    // A run that fails unexpectedly (not a model problem) ends watching: `done` rejects with it.
    const broken = watch({ models: [a, b] }, { outDir: join(dir, 'out2') }, () => undefined, 50, () => Promise.reject(new Error('boom')));
    await expect(broken.done).rejects.toThrow('boom');
    await broken.stop();
  });
});

describe('gwgen watch stopped while it starts', () => {
  it('ends with exit 0, having written nothing, on a SIGTERM that comes while the models are read', async () => {
    const dir = tempDir();
    // A named pipe as the model: gwgen has started, and is reading the models, once it opens the pipe.
    const model = join(dir, 'model.ttl');
    execFileSync('mkfifo', [model]);
    const child = execa(process.execPath, [BIN, 'watch', 'model.ttl', '-o', 'out'], { cwd: dir, reject: false, timeout: 110_000 });
    const pipe = await open(model, 'w');
    child.kill('SIGTERM');
    // The model arrives after the signal: gwgen stops before its first run, or (had the model been
    // read first) drops that run unwritten; either way it ends as a stopped watch does.
    await pipe.writeFile(STARTER_MODEL).catch(() => undefined);
    await pipe.close().catch(() => undefined);
    const result = await child;
    expect([result.exitCode, result.signal, result.stderr]).toEqual([0, undefined, '']);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});

describe('watch(), a save that lands while a run reads the model', () => {
  it('neither reports nor writes what it read half saved, and runs again on the whole file', async () => {
    const dir = tempDir();
    const { a, b } = splitStarter(dir);
    const out = join(dir, 'out');
    const whole = readFileSync(b, 'utf8').replace('agw:port 8080', 'agw:port 9111');
    // What run 2 reads of b.ttl: the first half of a save that an editor makes by truncating, then writing.
    const half = join(dir, 'half-saved.ttl');
    writeFileSync(half, whole.slice(0, whole.length / 2));
    const reports: string[] = [];
    let runs = 0;
    // The pack hook runs after watch took the files' stat and before the run reads them. In run 2
    // it reads the half save in b.ttl's place while the rest of the save lands in b.ttl.
    const watcher = watch({ models: [a, b] }, { outDir: out }, (e) => reports.push(e.generation.ok ? `ok ${e.changed.join()}` : 'failed'), 50, async (input) => {
      if (++runs !== 2) return { input, problems: [] };
      writeFileSync(b, whole);
      return { input: { ...input, models: [a, half] }, problems: [] };
    });
    try {
      const until = async (what: string, ok: () => boolean) => {
        for (const deadline = Date.now() + 30_000; !ok(); await new Promise((r) => setTimeout(r, 50))) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; reports: ${reports.join(', ')}`);
        }
      };
      await until('the first run', () => reports.length === 1);
      writeFileSync(b, readFileSync(b, 'utf8').replace('agw:port 8080', 'agw:port 8089'));
      await until('the whole save', () => existsSync(join(out, 'kong/kong.yml')) && kongOf(out).includes('port: 9111'));
      await until('its report', () => reports.length === 2);
      expect(runs).toBeGreaterThanOrEqual(3);
      expect(reports).toEqual(['ok ', 'ok b.ttl']);
    } finally {
      await watcher.stop();
    }
  });
});

describe('gwgen init', () => {
  it('writes into a new nested folder a starter that validates, passes the audit, generates every target, and names the next command', async () => {
    const cwd = tempDir();
    const r = await gwgen(['init', 'new/my gateway'], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain("next: cd 'new/my gateway' && gwgen generate");
    const dir = join(cwd, 'new/my gateway');
    expect(readdirSync(dir).sort()).toEqual(['gwgen.json', 'model.ttl']);
    const audit = await gwgen(['audit', 'model.ttl'], { cwd: dir });
    expect(audit.exitCode, audit.stdout).toBe(0);
    const all = await gwgen(['generate', '-t', 'gateway,kong,istio,k8s'], { cwd: dir });
    expect(all.exitCode, all.stderr).toBe(0);
    expect(readdirSync(join(dir, 'generated')).sort()).toEqual(['.gwgen', 'gateway', 'istio', 'k8s', 'kong']);
  });

  it('adds to a folder with files of its own, leaving them as they are', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    const r = await gwgen(['init', dir]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['gwgen.json', 'model.ttl', 'notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('refuses a model.ttl that is a symbolic link to nowhere, and writes nothing through it', async () => {
    const dir = tempDir();
    const outside = join(tempDir(), 'elsewhere.ttl');
    symlinkSync(outside, join(dir, 'model.ttl'));
    const r = await gwgen(['init', dir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'model.ttl')} already exists`);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(join(dir, 'gwgen.json'))).toBe(false);
    expect(lstatSync(join(dir, 'model.ttl')).isSymbolicLink()).toBe(true);
  });

  it('--force replaces symbolic links with the starter files and leaves what they point to as it was', async () => {
    const dir = tempDir();
    const outside = tempDir();
    writeFileSync(join(outside, 'precious.ttl'), 'precious\n');
    symlinkSync(join(outside, 'precious.ttl'), join(dir, 'model.ttl'));
    symlinkSync(join(outside, 'nothing-yet.json'), join(dir, 'gwgen.json'));
    const r = await gwgen(['init', dir, '--force']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(outside, 'precious.ttl'), 'utf8')).toBe('precious\n');
    expect(readdirSync(outside)).toEqual(['precious.ttl']);
    expect(lstatSync(join(dir, 'model.ttl')).isFile()).toBe(true);
    expect(readFileSync(join(dir, 'model.ttl'), 'utf8')).toBe(STARTER_MODEL);
    expect(readdirSync(dir).sort()).toEqual(['gwgen.json', 'model.ttl']);
  });

  it('--force with a folder where a starter file goes changes nothing, the model included', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'model.ttl'), '# my model\n');
    mkdirSync(join(dir, 'gwgen.json'));
    const before = snapshotDir(dir);
    const r = await gwgen(['init', dir, '--force']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'gwgen.json')} is a directory`);
    expect(snapshotDir(dir)).toEqual(before);
  });

  it('a directory that is a symbolic link to nowhere is named with its target (exit 2)', async () => {
    const cwd = tempDir();
    symlinkSync(join(cwd, 'gone'), join(cwd, 'dangling'));
    const r = await gwgen(['init', 'dangling'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`dangling is a symbolic link to ${join(cwd, 'gone')}, which does not exist`);
    expect(readdirSync(cwd)).toEqual(['dangling']);
  });

  it('an empty directory name is a usage error (exit 2)', async () => {
    const cwd = tempDir();
    const r = await gwgen(['init', ''], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('the directory name is empty');
    expect(readdirSync(cwd)).toEqual([]);
  });
});
