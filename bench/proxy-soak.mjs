#!/usr/bin/env node
// Soak test of the generated gateway with faults injected (`npm run build && node bench/proxy-soak.mjs`):
// wrk -c20 for --seconds (default 60) against a route with timeout, retries, breaker and rate limit,
// in front of a node backend that answers 500 (4 %), resets the connection (2 %), hangs past the
// route timeout (0.5 %) and answers 200 otherwise. Every 5 s it samples the gateway's RSS and heap.
// Pass: the gateway answers only the intended statuses (200, 500, 502, 503, 504; 499 = wrk hung up at the end), is still healthy
// at the end, and its memory is flat (last RSS within 25 MB of the first sample after warm-up).
// Only 127.0.0.1 is used; the processes started here are stopped by pid.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const OUT = join(ROOT, 'bench/.out/soak');
const DEPS = join(ROOT, 'bench/.out/deps');
const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 60) || 60;

if (args[0] === '--serve-faulty') {
  let n = 0;
  http
    .createServer((req, res) => {
      const r = (n++ * 7919) % 1000; // deterministic mix
      if (r < 40) {
        res.writeHead(500);
        return res.end('injected failure');
      }
      if (r < 60) return req.socket.destroy();
      if (r < 65) return; // hang
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    })
    .listen(Number(args[1]), '127.0.0.1');
} else {
  if (!existsSync(join(DEPS, 'node_modules/undici'))) {
    console.error('run bench/proxy.mjs once first: it installs the dependencies into bench/.out/deps');
    process.exit(2);
  }
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  execFileSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'generate', join(ROOT, 'bench/proxy-soak-model.ttl'), '-o', OUT, '-t', 'gateway'], { stdio: 'pipe' });
  const dir = join(OUT, 'gateway');
  symlinkSync(join(DEPS, 'node_modules'), join(dir, 'node_modules'), 'dir');
  execFileSync(join(DEPS, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir, stdio: 'pipe' });
  const started = [];
  const stop = () => started.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
  process.on('exit', stop);
  started.push(spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve-faulty', '19100'], { stdio: 'ignore' }));
  const gw = spawn(process.execPath, ['dist/src/main.js'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PORT: '19101', HOST: '127.0.0.1', GW_UPSTREAM_FLAKY: 'http://127.0.0.1:19100', GW_ACCESS_LOG: 'stdout' } });
  started.push(gw);
  let stderr = '';
  gw.stderr.on('data', (d) => (stderr += d));
  const get = (path) =>
    new Promise((resolve) => {
      http
        .get({ host: '127.0.0.1', port: 19101, path }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        })
        .on('error', () => resolve({ status: 0, body: '' }));
    });
  for (let i = 0; i < 50 && (await get('/healthz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  const mem = () => {
    const s = readFileSync(`/proc/${gw.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024;
  };
  const wrk = spawn('wrk', ['-t1', '-c20', `-d${seconds}s`, '--timeout', '5s', 'http://127.0.0.1:19101/soak/x'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let wrkOut = '';
  wrk.stdout.on('data', (d) => (wrkOut += d));
  const samples = [];
  const timer = setInterval(() => samples.push(mem()), 5000);
  await new Promise((resolve) => wrk.on('exit', resolve));
  clearInterval(timer);
  const health = await get('/healthz');
  const metrics = (await get('/metrics')).body;
  const statuses = {};
  for (const m of metrics.matchAll(/gateway_requests_total\{route="soak",method="GET",status="(\d+)"\} (\d+)/g)) statuses[m[1]] = Number(m[2]);
  const retries = /gateway_upstream_retries_total\{route="soak"\} (\d+)/.exec(metrics)?.[1];
  const unexpected = Object.keys(statuses).filter((s) => !['200', '499', '500', '502', '503', '504'].includes(s));
  const afterWarmup = samples[1] ?? samples[0];
  const last = samples[samples.length - 1];
  console.log(`soak ${seconds} s: ${/(\d+) requests in/.exec(wrkOut)?.[1]} requests, ${/Requests\/sec:\s+([\d.]+)/.exec(wrkOut)?.[1]} req/s`);
  console.log(`statuses: ${JSON.stringify(statuses)}; retries: ${retries}; socket errors: ${/Socket errors:.*/.exec(wrkOut)?.[0] ?? 'none'}`);
  console.log(`RSS MB every 5 s: ${samples.map((x) => x.toFixed(0)).join(' ')}`);
  const ok = health.status === 200 && unexpected.length === 0 && last - afterWarmup < 25 && !/uncaught|unhandled/i.test(stderr);
  console.log(`healthz ${health.status}; unexpected statuses: ${unexpected.join(',') || 'none'}; RSS growth after warm-up ${(last - afterWarmup).toFixed(1)} MB; ${ok ? 'PASS' : 'FAIL'}`);
  stop();
  process.exitCode = ok ? 0 : 1;
}
