import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';

export const ROOT = new URL('..', import.meta.url).pathname;
export const BIN = join(ROOT, 'dist/cli/bin.js');

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a real process from the repository root (or `cwd`). */
export async function gwgen(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  const r = await execa(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, reject: false, env: options.env ?? {}, timeout: 120_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function tempDir(prefix = 'gwgen-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every file under dir with its content, keyed by "/"-separated relative path. */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries.sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out[relative(dir, full).split('\\').join('/')] = readFileSync(full, 'utf8');
    }
  };
  walk(dir);
  return out;
}
