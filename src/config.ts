import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { problem, type Problem } from './errors.js';

/** Read by `gwgen generate` and `gwgen watch` when no model file is given (`gwgen init` writes one). */
export const CONFIG_FILE = 'gwgen.json';

export interface GwgenConfig {
  /** Model files, relative to the config file's directory. */
  readonly models: readonly string[];
  /** @default "./generated" */
  readonly out?: string;
  readonly targets?: readonly string[];
}

export async function loadConfig(dir = process.cwd()): Promise<{ config?: GwgenConfig; problems: Problem[] }> {
  const file = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { problems: [problem('usage', `no model file given and no ${CONFIG_FILE} here`, { hint: 'pass model files (gwgen generate model.ttl), or run gwgen init' })] };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { problems: [problem('usage', `${CONFIG_FILE} is not valid JSON: ${(err as Error).message}`, { location: { file }, hint: 'fix the JSON, e.g. { "models": ["model.ttl"], "out": "generated" }' })] };
  }
  const c = data as Partial<GwgenConfig>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (!c || typeof c !== 'object' || !strings(c.models) || (c.models ?? []).length === 0 || (c.out !== undefined && typeof c.out !== 'string') || (c.targets !== undefined && !strings(c.targets))) {
    return { problems: [problem('usage', `${CONFIG_FILE} must be { "models": ["model.ttl", ...], "out"?: "dir", "targets"?: ["kong", ...] }`, { location: { file }, hint: 'name at least one model file; gwgen init writes a working gwgen.json' })] };
  }
  return { config: { models: c.models!.map((m) => join(dir, m).replace(/^\.\//, '')), ...(c.out !== undefined ? { out: c.out } : {}), ...(c.targets ? { targets: c.targets } : {}) }, problems: [] };
}
