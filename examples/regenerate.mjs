#!/usr/bin/env node
// Regenerates generated-examples/<name>/ from every examples/<name>.ttl with the built CLI
// (`npm run examples`). The golden test does the same into a temporary folder and compares.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const models = readdirSync('examples').filter((f) => f.endsWith('.ttl')).sort();
for (const model of models) {
  const name = model.replace(/\.ttl$/, '');
  execFileSync(process.execPath, ['dist/cli/bin.js', 'generate', `examples/${model}`, '-o', `generated-examples/${name}`, '--force'], { stdio: 'inherit' });
}
