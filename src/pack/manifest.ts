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

/**
 * The line of `key` in the [pack] table of pack.toml (or of the [pack] header for a key that is
 * not there), for problems located where they are written. smol-toml gives values, not positions.
 */
function lineOf(text: string, key?: string): number | undefined {
  const lines = text.split(/\r?\n/);
  const quoted = (k: string) => `(?:${k}|"${k}"|'${k}')`;
  let header: number | undefined;
  let inPack = false;
  for (const [i, line] of lines.entries()) {
    const table = /^\s*\[\s*([^\]]*?)\s*\]/.exec(line);
    if (table) {
      // A sub-table [pack.key] is where that key is written.
      if (key !== undefined && new RegExp(`^${quoted('pack')}\\s*\\.\\s*${quoted(key)}$`).test(table[1]!)) return i + 1;
      inPack = new RegExp(`^${quoted('pack')}$`).test(table[1]!);
      if (inPack) header ??= i + 1;
      continue;
    }
    if (inPack && key !== undefined && new RegExp(`^\\s*${quoted(key)}\\s*=`).test(line)) return i + 1;
  }
  return header;
}

/** The line of a top-level table header `[name]` or `[[name]]`, or of a top-level `name =`. */
function topLevelLine(text: string, name: string): number | undefined {
  const lines = text.split(/\r?\n/);
  let topLevel = true;
  for (const [i, line] of lines.entries()) {
    const table = /^\s*\[\[?\s*([^\].]*)/.exec(line);
    if (table) {
      if (table[1]!.trim().replace(/^["']|["']$/g, '') === name) return i + 1;
      topLevel = false;
    } else if (topLevel && new RegExp(`^\\s*["']?${name.replace(/[^\w-]/g, '\\$&')}["']?\\s*[.=]`).test(line)) {
      return i + 1;
    }
  }
  return undefined;
}

export async function readManifest(dir: string): Promise<{ manifest?: PackManifest; problems: Problem[] }> {
  const file = join(dir, 'pack.toml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it has no pack.toml' : code === 'EISDIR' ? 'its pack.toml is a directory' : `its pack.toml cannot be read (${code ?? (err as Error).message})`;
    return { problems: [problem('usage', `${dir} is not a template pack: ${why}`, { location: { file }, hint: 'a pack has a file pack.toml with [pack] name, version and description' })] };
  }
  let data: Record<string, unknown>;
  try {
    data = parse(text) as Record<string, unknown>;
  } catch (err) {
    const e = err as Error & { line?: number; column?: number };
    return { problems: [problem('usage', `pack.toml is not valid TOML: ${e.message.split('\n')[0]}`, { location: { file, ...(e.line ? { line: e.line } : {}), ...(e.column ? { column: e.column } : {}) }, hint: 'fix the TOML syntax at this position; pack.toml holds [pack] with name, version and description' })] };
  }
  const problems: Problem[] = [];
  const fail = (message: string, hint: string, line?: number) => problems.push(problem('usage', message, { location: { file, ...(line !== undefined ? { line } : {}) }, hint }));
  // Closed like ggen's pack.toml: a table or key gwgen does not read is a typo or a misunderstanding.
  const pack = data.pack;
  const fields = ['name', 'version', 'description'];
  // The usual slip: the fields written before any table, with no [pack] header above them.
  const headless = pack === undefined && fields.some((key) => key in data);
  for (const key of Object.keys(data)) {
    if (headless && fields.includes(key)) continue;
    if (key !== 'pack') fail(`pack.toml has an unknown ${isTable(data[key]) ? 'table' : 'key'} "${key}"`, 'pack.toml holds only the table [pack] with name, version and description', topLevelLine(text, key));
  }
  if (!isTable(pack)) {
    if (headless) fail(`pack.toml has no [pack] table: ${fields.filter((key) => key in data).join(', ')} stand${fields.filter((key) => key in data).length === 1 ? 's' : ''} outside any table`, 'put the line [pack] above them', topLevelLine(text, fields.find((key) => key in data)!));
    else if (pack === undefined) fail('pack.toml has no [pack] table', 'add [pack] with name, version and description');
    else fail(`pack.toml's "pack" is ${Array.isArray(pack) ? 'an array of tables ([[pack]])' : 'a value'}, not the table [pack]`, 'write one [pack] table with name, version and description', topLevelLine(text, 'pack'));
    return { problems };
  }
  const { name, version, description } = pack;
  const missing = (key: string, example: string) => fail(`[pack] has no ${key}`, `add e.g. ${key} = ${example}`, lineOf(text));
  if (name === undefined) missing('name', '"acme-gateway-pack"');
  else if (!isPackName(name)) fail(`[pack] name ${JSON.stringify(name)} must be a lower-case name (a-z, 0-9, "-"; at most 64 characters, not starting or ending with "-")`, 'e.g. name = "acme-gateway-pack"', lineOf(text, 'name'));
  if (version === undefined) missing('version', '"1.2.0"');
  else if (typeof version !== 'string') fail(`[pack] version must be a string in quotes, not ${JSON.stringify(version)}`, 'e.g. version = "1.2.0"', lineOf(text, 'version'));
  else if (!SEMVER.test(version)) fail(`[pack] version ${JSON.stringify(version)} must be a SemVer version (MAJOR.MINOR.PATCH)`, 'e.g. version = "1.2.0"', lineOf(text, 'version'));
  if (description === undefined) missing('description', '"Kong and Istio for ACME"');
  else if (typeof description !== 'string' || description.trim() === '') fail('[pack] description must be a non-empty string', 'say what the pack generates', lineOf(text, 'description'));
  for (const key of Object.keys(pack)) {
    if (!fields.includes(key)) fail(`[pack] has an unknown key "${key}"`, 'only name, version and description are read', lineOf(text, key));
  }
  // In the order of the file, as an editor goes through them (the checks run table by table).
  if (problems.length > 0) return { problems: problems.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0)) };
  return { manifest: { name: name as string, version: version as string, description: description as string }, problems };
}

function isTable(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
}
