import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { problem, type Problem } from './errors.js';
import { keyPosition, parseJsonText, topLevelKeys } from './json-text.js';
import { nearest } from './nearest.js';
import { TARGET_NAMES } from './targets/names.js';

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
  if (!c || typeof c !== 'object' || Array.isArray(c)) {
    return { problems: [problem('usage', SHAPE, { location: { file, line: 1, column: 1 }, hint: 'gwgen init writes a working gwgen.json' })] };
  }
  const at = (key: string) => ({ file, ...keyPosition(text, key) });
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const problems: Problem[] = [];
  // JSON.parse keeps the last of a repeated key: an "out" given twice would silently write where the second says.
  const written = topLevelKeys(text);
  for (const [i, { key, line, column }] of written.entries()) {
    const first = written.find((k) => k.key === key);
    if (first !== written[i]) problems.push(problem('usage', `${CONFIG_FILE} gives "${key}" twice (first at line ${first!.line})`, { location: { file, line, column }, hint: `keep one "${key}"; JSON would take the last one without a word` }));
  }
  // A misspelt key ("target", "output") would otherwise be ignored silently: every target written, or into ./generated.
  for (const key of Object.keys(c).filter((k) => !KEYS.includes(k))) {
    const near = nearest(key, KEYS);
    problems.push(problem('usage', `${CONFIG_FILE} has an unknown key "${key}"`, { location: at(key), hint: near ? `did you mean "${near}"? ${SHAPE}` : SHAPE }));
  }
  if (c.models === undefined) problems.push(problem('usage', `${CONFIG_FILE} has no "models"`, { location: { file, line: 1, column: 1 }, hint: `name the model files: "models": ["model.ttl"]; ${SHAPE}` }));
  else if (!strings(c.models) || c.models.length === 0) problems.push(problem('usage', `${CONFIG_FILE} "models" must be a list of one or more file paths`, { location: at('models'), hint: 'e.g. "models": ["model.ttl"], relative to gwgen.json' }));
  if (c.out !== undefined && typeof c.out !== 'string') problems.push(problem('usage', `${CONFIG_FILE} "out" must be a string: the output directory`, { location: at('out'), hint: 'e.g. "out": "generated", or leave it out for ./generated' }));
  if (c.targets !== undefined && !strings(c.targets)) problems.push(problem('usage', `${CONFIG_FILE} "targets" must be a list of target names`, { location: at('targets'), hint: 'e.g. "targets": ["kong", "gateway"], or leave it out for every target the model has data for' }));
  else if (c.targets !== undefined && c.targets.length === 0) problems.push(problem('usage', `${CONFIG_FILE} "targets" names no target`, { location: at('targets'), hint: 'list targets (kong, gateway, istio, k8s), or leave "targets" out for every target the model has data for' }));
  else if (c.targets !== undefined) {
    for (const target of c.targets.filter((t) => !TARGET_NAMES.includes(t))) {
      const near = nearest(target, TARGET_NAMES);
      problems.push(problem('usage', `${CONFIG_FILE} "targets" names an unknown target "${target}"`, { location: at('targets'), hint: `${near ? `did you mean "${near}"? ` : ''}available targets: ${TARGET_NAMES.join(', ')}` }));
    }
  }
  if (problems.length > 0) return { problems };
  const modelPath = (m: string) => (isAbsolute(m) ? m : join(dir, m).replace(/^\.\//, ''));
  return { config: { models: c.models!.map(modelPath), ...(c.out !== undefined ? { out: c.out } : {}), ...(c.targets ? { targets: c.targets } : {}) }, problems: [] };
}
