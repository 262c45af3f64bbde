import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p` that returns, as `mkdir(path, { recursive: true })` does, the first folder it made
 * (undefined if none). Node's recursive mkdir spins forever, at full CPU, when the kernel answers
 * ENOENT for a folder whose parent exists (`-o /proc/x`, `/sys/x`, a deleted working directory):
 * here each level is made once, and that ENOENT is thrown as it is.
 */
export async function makeDirs(path: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    const there = await stat(p).then(
      (st) => {
        // As mkdir: a file where the folder is wanted is EEXIST (one further up fails the mkdir below it).
        if (p === path && !st.isDirectory()) throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${p}'`), { code: 'EEXIST', path: p, syscall: 'mkdir' });
        return true;
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        return false;
      },
    );
    if (there) break;
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  let first: string | undefined;
  for (const dir of missing) {
    try {
      await mkdir(dir);
      first ??= dir;
    } catch (err) {
      // Another run made it meanwhile: it is there, which is all that is asked, but not ours.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return first;
}
