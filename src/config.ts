import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { problem, type Problem } from './errors.js';
import { parseJsonText } from './json-text.js';
import { nearest } from './nearest.js';

/** Read by `gwgen generate` and `gwgen watch` when no model file is given (`gwgen init` writes one). */
export const CONFIG_FILE = 'gwgen.json';

export interface GwgenConfig {
  /** Model files, relative to the config file's directory (or absolute). */
  readonly models: readonly string[];
  /** @default "./generated" */
  readonly out?: string;
  readonly targets?: readonly string[];
}

const KEYS = ['models', 'out', 'targets'];
const SHAPE = `${CONFIG_FILE} must be { "models": ["model.ttl", ...], "out"?: "dir", "targets"?: ["kong", ...] }`;

/** `command`: the command the hints show (`generate` or `watch`). */
export async function loadConfig(dir = process.cwd(), command = 'generate'): Promise<{ config?: GwgenConfig; problems: Problem[] }> {
  const file = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      // There is one, but gwgen cannot read it: "no gwgen.json here" would send the user looking for the wrong problem.
      const why = code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? (err as Error).message})`;
      return { problems: [problem('usage', `${CONFIG_FILE} ${why}`, { location: { file }, hint: `make it a readable JSON file, or pass model files (gwgen ${command} model.ttl)` })] };
    }
    return { problems: [problem('usage', `no model file given and no ${CONFIG_FILE} here`, { hint: `pass model files (gwgen ${command} model.ttl), or run gwgen init` })] };
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    return { problems: [problem('usage', `${CONFIG_FILE} is not valid JSON: ${parsed.why}`, { location: { file, line: parsed.line, column: parsed.column }, hint: 'fix the JSON, e.g. { "models": ["model.ttl"], "out": "generated" }' })] };
  }
  const c = parsed.value as Partial<GwgenConfig>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (!c || typeof c !== 'object' || Array.isArray(c) || !strings(c.models) || (c.models ?? []).length === 0 || (c.out !== undefined && typeof c.out !== 'string') || (c.targets !== undefined && !strings(c.targets))) {
    return { problems: [problem('usage', SHAPE, { location: { file }, hint: 'name at least one model file; gwgen init writes a working gwgen.json' })] };
  }
  // A misspelt key ("target", "output") would otherwise be ignored silently: every target written, or into ./generated.
  const unknown = Object.keys(c).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) {
    return {
      problems: unknown.map((key) => {
        const near = nearest(key, KEYS);
        return problem('usage', `${CONFIG_FILE} has an unknown key "${key}"`, { location: { file }, hint: near ? `did you mean "${near}"? ${SHAPE}` : SHAPE });
      }),
    };
  }
  if (c.targets !== undefined && c.targets.length === 0) {
    return { problems: [problem('usage', `${CONFIG_FILE} "targets" names no target`, { location: { file }, hint: 'list targets (kong, gateway, istio, k8s), or leave "targets" out for every target the model has data for' })] };
  }
  const modelPath = (m: string) => (isAbsolute(m) ? m : join(dir, m).replace(/^\.\//, ''));
  return { config: { models: c.models!.map(modelPath), ...(c.out !== undefined ? { out: c.out } : {}), ...(c.targets ? { targets: c.targets } : {}) }, problems: [] };
}
