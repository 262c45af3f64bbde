#!/usr/bin/env node
// gRPC through the generated gateway (`npm run build && node bench/grpc.mjs`): @grpc/grpc-js on
// both sides, unary calls with raw-byte messages, N calls at C in flight, straight to the service
// and through a gateway generated from test/fixtures/gateway/grpc.ttl. Prints calls/s, the
// gateway's CPU per call (from /proc) and the ratio, measured in interleaved rounds.
// Options: --calls 20000 --concurrency 50 --rounds 3. Only 127.0.0.1 is used; the processes
// started here are stopped by their pid.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';

const ROOT = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CALLS = opt('calls', 20000);
const CONCURRENCY = opt('concurrency', 50);
const ROUNDS = opt('rounds', 3);

const raw = (b) => b;
const SERVICE = {
  say: { path: '/test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};

const work = mkdtempSync(join(tmpdir(), 'gwgen-grpc-bench-'));
execFileSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'generate', join(ROOT, 'test/fixtures/gateway/grpc.ttl'), '-o', work, '-t', 'gateway'], { stdio: 'ignore' });
const dir = join(work, 'gateway');
const deps = join(ROOT, 'bench/.out/deps/node_modules');
if (!existsSync(join(deps, 'typescript'))) {
  console.error('run `node bench/proxy.mjs` once first: it installs the dependencies of the benchmarks into bench/.out/deps');
  process.exit(2);
}
symlinkSync(deps, join(dir, 'node_modules'), 'dir');
execFileSync(process.execPath, [join(deps, 'typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, stdio: 'inherit' });

const server = new grpc.Server();
const reply = Buffer.alloc(100, 97);
server.addService(SERVICE, { say: (_call, cb) => cb(null, reply) });
const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));

const gw = spawn(process.execPath, [...(process.env.GW_NODE_ARGS?.split(' ') ?? []), 'dist/src/main.js'], {
  cwd: dir,
  env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', GW_UPSTREAM_ECHO: `http://127.0.0.1:${port}`, GW_UPSTREAM_WEB: 'http://127.0.0.1:9', ALICE_KEY: 'k', GW_ACCESS_LOG: 'off' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const gwPort = await new Promise((resolve, reject) => {
  let err = '';
  gw.stderr.on('data', (d) => {
    err += d;
    const m = /"message":"listening".*?"port":(\d+)/.exec(err);
    if (m) resolve(Number(m[1]));
  });
  gw.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${err}`)));
});
const cpu = () => {
  const f = readFileSync(`/proc/${gw.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // ms (clock ticks of 10 ms)
};

const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
async function run(target) {
  const client = new Client(target, grpc.credentials.createInsecure());
  const body = Buffer.alloc(100, 98);
  let next = 0;
  let errors = 0;
  const worker = async () => {
    while (next < CALLS) {
      next++;
      await new Promise((resolve) => client.say(body, (err) => (err && errors++, resolve())));
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker)); // warm-up of the connection
  next = 0;
  const c0 = cpu();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - t0;
  const gwCpu = cpu() - c0;
  client.close();
  return { rate: (CALLS / ms) * 1000, cpuPerCall: (gwCpu * 1000) / CALLS, errors };
}

const results = { direct: [], gateway: [] };
try {
  for (let r = 1; r <= ROUNDS; r++) {
    const d = await run(`127.0.0.1:${port}`);
    const g = await run(`127.0.0.1:${gwPort}`);
    results.direct.push(d);
    results.gateway.push(g);
    console.log(`round ${r}: direct ${d.rate.toFixed(0)} calls/s; gateway ${g.rate.toFixed(0)} calls/s, ${g.cpuPerCall.toFixed(0)} µs gateway CPU per call; errors ${d.errors + g.errors}`);
  }
} finally {
  gw.kill('SIGTERM');
  server.forceShutdown();
  rmSync(work, { recursive: true, force: true });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const d = median(results.direct.map((x) => x.rate));
const g = median(results.gateway.map((x) => x.rate));
console.log(`\n${CALLS} unary calls, ${CONCURRENCY} in flight, ${ROUNDS} rounds (medians): direct ${d.toFixed(0)} calls/s, through the gateway ${g.toFixed(0)} calls/s (${(g / d).toFixed(2)}×), gateway CPU ${median(results.gateway.map((x) => x.cpuPerCall)).toFixed(0)} µs per call`);
