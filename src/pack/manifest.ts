import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { problem, type Problem } from '../errors.js';

/** `[pack]` of pack.toml: what makes a directory a template pack. */
export interface PackManifest {
  readonly name: string;
  readonly version: string;
  readonly description: string;
}

/** SemVer 2.0.0, as in semver.org's suggested regular expression. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const NAME = /^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/;

/** A pack name as pack.toml must give it: also a safe single directory name under .gwgen/packs/. */
export function isPackName(name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name);
}

export async function readManifest(dir: string): Promise<{ manifest?: PackManifest; problems: Problem[] }> {
  const file = join(dir, 'pack.toml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { problems: [problem('usage', `${dir} is not a template pack: it has no pack.toml`, { location: { file }, hint: 'a pack has pack.toml with [pack] name, version and description' })] };
  }
  let data: Record<string, unknown>;
  try {
    data = parse(text) as Record<string, unknown>;
  } catch (err) {
    const e = err as Error & { line?: number; column?: number };
    return { problems: [problem('usage', `pack.toml is not valid TOML: ${e.message.split('\n')[0]}`, { location: { file, ...(e.line ? { line: e.line } : {}), ...(e.column ? { column: e.column } : {}) }, hint: 'fix the TOML syntax at this position; pack.toml holds [pack] with name, version and description' })] };
  }
  const pack = data.pack as Record<string, unknown> | undefined;
  const problems: Problem[] = [];
  const fail = (message: string, hint: string) => problems.push(problem('usage', message, { location: { file }, hint }));
  if (!pack || typeof pack !== 'object') {
    fail('pack.toml has no [pack] table', 'add [pack] with name, version and description');
    return { problems };
  }
  const { name, version, description } = pack;
  if (!isPackName(name)) fail(`[pack] name ${JSON.stringify(name)} must be a lower-case name (a-z, 0-9, "-")`, 'e.g. name = "acme-gateway-pack"');
  if (typeof version !== 'string' || !SEMVER.test(version)) fail(`[pack] version ${JSON.stringify(version)} must be a SemVer version`, 'e.g. version = "1.2.0"');
  if (typeof description !== 'string' || description.trim() === '') fail('[pack] description must be a non-empty string', 'say what the pack generates');
  for (const key of Object.keys(pack)) {
    if (!['name', 'version', 'description'].includes(key)) fail(`[pack] has an unknown key "${key}"`, 'only name, version and description are read');
  }
  if (problems.length > 0) return { problems };
  return { manifest: { name: name as string, version: version as string, description: description as string }, problems };
}
