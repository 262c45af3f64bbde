#!/usr/bin/env node
// Benchmark of `gwgen generate` end to end and per stage, on synthetic models of 100, 1,000 and
// 10,000 routes (bench/synthetic-model.mjs). Run with `npm run bench` (builds first).
//
// The machine is shared and noisy, so every figure is the median of several fresh processes, and
// ratios are taken against baselines measured in the same run: a bare `node` start, and the CLI
// start without a model (`gwgen --version`). Options: --sizes 100,1000 --repeats 3.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticModel } from './synthetic-model.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const sizes = opt('sizes', '100,1000,10000').split(',').map(Number);
const repeats = Number(opt('repeats', '3'));
const BIN = new URL('../dist/cli/bin.js', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'gwgen-bench-'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function wall(argv) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return { ms, stderr: r.stderr };
}

function stages(stderr) {
  const line = stderr.split('\n').find((l) => /parse [\d.]+ ms/.test(l)) ?? '';
  return Object.fromEntries([...line.matchAll(/([\w.]+) ([\d.]+) ms/g)].map((m) => [m[1], Number(m[2])]));
}

const nodeStart = median(Array.from({ length: 5 }, () => wall(['-e', '0']).ms));
const cliStart = median(Array.from({ length: 5 }, () => wall([BIN, '--version']).ms));
console.log(`baselines (median of 5): node start ${nodeStart.toFixed(0)} ms, gwgen --version ${cliStart.toFixed(0)} ms`);
console.log('');

const rows = [];
const variants = sizes.flatMap((n) => [{ n, distinct: false }, ...(n === 1000 ? [{ n, distinct: true }] : [])]);
for (const { n, distinct } of variants) {
  const model = join(work, `model-${n}${distinct ? '-distinct' : ''}.ttl`);
  writeFileSync(model, syntheticModel(n, { distinctPolicies: distinct }));
  const triples = Number(execFileSync(process.execPath, [BIN, 'query', model, '-e', 'SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }', '--format', 'csv'], { encoding: 'utf8' }).split('\r\n')[1]);
  const runs = [];
  const count = n >= 10000 ? 1 : repeats;
  for (let i = 0; i < count; i++) {
    const out = join(work, `out-${n}-${i}`);
    const r = wall([BIN, 'generate', model, '-o', out, '--timings']);
    runs.push({ ms: r.ms, stages: stages(r.stderr) });
    rmSync(out, { recursive: true, force: true });
  }
  const stageNames = Object.keys(runs[0].stages);
  const med = Object.fromEntries(stageNames.map((s) => [s, median(runs.map((r) => r.stages[s] ?? 0))]));
  rows.push({ label: `${n}${distinct ? ' (own policies)' : ''}`, n, distinct, triples, wall: median(runs.map((r) => r.ms)), stages: med, runs: count });
}

const cols = ['parse', 'shacl', 'semantic', 'compile', 'worker.engine', 'worker.queries', 'queries', 'build', 'render', 'format', 'write'];
const pad = (s, w) => String(s).padStart(w);
console.log(`${'routes'.padEnd(18)}${pad('triples', 8)}${pad('wall ms', 9)}${pad('×node', 7)}${cols.map((c) => pad(c.replace('worker.', 'w.'), 10)).join('')}`);
for (const r of rows) {
  console.log(`${r.label.padEnd(18)}${pad(r.triples, 8)}${pad(r.wall.toFixed(0), 9)}${pad((r.wall / nodeStart).toFixed(1), 7)}${cols.map((c) => pad((r.stages[c] ?? 0).toFixed(0), 10)).join('')}`);
}
console.log('');
console.log('parse/shacl/semantic (then compile: the templates) run on the main thread while the worker (w.) loads Comunica and runs the queries;');
console.log('"queries" is how long the main thread then waits for the worker.');
const shared = rows.filter((r) => !r.distinct);
for (let i = 1; i < shared.length; i++) {
  const a = shared[i - 1];
  const b = shared[i];
  const net = (r) => r.wall - cliStart;
  console.log(`${b.n}/${a.n} routes: wall ×${(b.wall / a.wall).toFixed(2)}, above the CLI start ×${(net(b) / net(a)).toFixed(2)} (routes ×${b.n / a.n})`);
}
// gwgen audit: the built-in rules over the same models (issue goal: 1,000 routes under 3 s).
console.log('');
for (const n of sizes.filter((x) => x <= 1000)) {
  const model = join(work, `model-${n}.ttl`);
  const times = Array.from({ length: repeats }, () => {
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, [BIN, 'audit', model, '--format', 'json', '--fail-on', 'never'], { encoding: 'utf8' });
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
  console.log(`gwgen audit, ${n} routes: ${median(times).toFixed(0)} ms wall (median of ${repeats}; ×${(median(times) / cliStart).toFixed(1)} the CLI start)`);
}
const k = rows.find((r) => r.n === 1000 && !r.distinct);
if (k) console.log(`1,000 routes, every target: ${(k.wall / 1000).toFixed(2)} s wall (goal: under 2 s)`);
rmSync(work, { recursive: true, force: true });
