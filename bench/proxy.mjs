#!/usr/bin/env node
// Reverse-proxy benchmark of the generated gateway (`npm run build && node bench/proxy.mjs`).
//
// In one interleaved run (every target measured once per round, so ratios compare runs taken close
// together; see ../shared/research/perf-baseline.md for why), with wrk -t1 -c50 on loopback:
//   direct      wrk straight to the backend (nginx `return 200`, or a node:http backend without nginx)
//   nginx       nginx as reverse proxy (1 worker, upstream keepalive)
//   undici      a minimal node:http + undici `pool.dispatch` proxy (the reference)
//   fastify     fastify + @fastify/reply-from
//   fastgw      fast-gateway
//   gw-plain    the generated gateway, a route with routing only
//   gw-full     the generated gateway, a route with the full chain (JWT HS256 verify, rate limit never
//               hit, circuit breaker, retries armed, per-try and route timeouts, CORS; metrics and
//               the JSON access log are on, to /dev/null)
// then single-connection latency (-c1) for the hop cost. CPU per request comes from /proc.
// Bench dependencies are installed into bench/.out/deps (git-ignored), never into gwgen.
//   gw-*-nolog  the same with GW_ACCESS_LOG=off (the peers log nothing either)
// Options: --rounds 3 --duration 4 --conns 50 --targets a,b --cluster (adds gw-full with 2 workers)
//          --node-backend (node:http backend even when nginx exists)
// Only 127.0.0.1 is contacted; every process started here is stopped by its pid at the end.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const OUT = join(ROOT, 'bench/.out/proxy');
const DEPS = join(ROOT, 'bench/.out/deps');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const flag = (name) => args.includes(`--${name}`);

// --- child-process modes: the peer proxies and the node backend ---------------------------------
const mode = opt('serve', undefined);

async function serve(kind, port, upstream) {
  const { createRequire } = await import('node:module');
  const require = createRequire(join(DEPS, 'package.json'));
  if (kind === 'backend') {
    const body = JSON.stringify({ users: [{ id: 1, name: 'Ada Lovelace', email: 'ada@example.org' }], n: 1 }).padEnd(100, ' ');
    http
      .createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .listen(port, '127.0.0.1');
  } else if (kind === 'undici') {
    const { Pool } = require('undici');
    const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
    const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);
    http
      .createServer((req, res) => {
        const headers = {};
        for (const k in req.headers) if (!HOP.has(k) && k !== 'host') headers[k] = req.headers[k];
        pool.dispatch(
          { path: req.url, method: req.method, headers, body: req.headers['content-length'] || req.headers['transfer-encoding'] ? req : null },
          {
            onConnect() {},
            onHeaders(status, raw) {
              const h = [];
              for (let i = 0; i < raw.length; i += 2) {
                const k = raw[i].toString('latin1');
                if (!HOP.has(k.toLowerCase())) h.push(k, raw[i + 1].toString('latin1'));
              }
              res.writeHead(status, h);
              return true;
            },
            onData(chunk) {
              return res.write(chunk);
            },
            onComplete() {
              res.end();
            },
            onError() {
              if (!res.headersSent) res.writeHead(502);
              res.end();
            },
          },
        );
      })
      .listen(port, '127.0.0.1');
  } else if (kind === 'fastify') {
    const fastify = require('fastify')({ logger: false });
    await fastify.register(require('@fastify/reply-from'), { base: upstream, undici: { connections: 128, pipelining: 1 } });
    fastify.all('/*', (request, reply) => reply.from(request.url));
    await fastify.listen({ port, host: '127.0.0.1' });
  } else if (kind === 'fastgw') {
    const gateway = require('fast-gateway');
    // prefixRewrite keeps the path as it came (fast-gateway strips the prefix by default).
    await gateway({ routes: [{ prefix: '/api', prefixRewrite: '/api', target: upstream }] }).start(port, '127.0.0.1');
  }
}

// --- orchestration -----------------------------------------------------------------------------
function sh(cmd, argv, options = {}) {
  return execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || undefined;
}

function installDeps() {
  const pkg = {
    name: 'gwgen-bench-deps',
    private: true,
    dependencies: {
      '@opentelemetry/api': '1.9.1',
      '@opentelemetry/exporter-trace-otlp-http': '0.223.1',
      '@opentelemetry/resources': '2.12.1',
      '@opentelemetry/sdk-trace-base': '2.12.1',
      undici: '7.30.2',
      jose: '6.2.17',
      'prom-client': '15.1.3',
      ioredis: '5.9.2',
      typescript: '5.9.3',
      '@types/node': '20.19.43',
      fastify: '5.12.8',
      '@fastify/reply-from': '12.6.5',
      'fast-gateway': '5.0.1',
    },
    // fast-gateway 5 asks for fast-proxy-lite ^1.1.3, which the registry mirror may lack.
    overrides: { 'fast-proxy-lite': '1.1.2' },
  };
  mkdirSync(DEPS, { recursive: true });
  const file = join(DEPS, 'package.json');
  const text = JSON.stringify(pkg, null, 2) + '\n';
  if (existsSync(join(DEPS, 'node_modules/fast-gateway')) && existsSync(file) && readFileSync(file, 'utf8') === text) return;
  writeFileSync(file, text);
  console.error('installing bench dependencies into bench/.out/deps ...');
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: DEPS, stdio: 'inherit' });
}

function buildGateway() {
  rmSync(join(OUT, 'gw'), { recursive: true, force: true });
  sh(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'generate', join(ROOT, 'bench/proxy-model.ttl'), '-o', join(OUT, 'gw'), '-t', 'gateway']);
  const dir = join(OUT, 'gw/gateway');
  symlinkSync(join(DEPS, 'node_modules'), join(dir, 'node_modules'), 'dir');
  sh(join(DEPS, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir });
  return dir;
}

async function token(secret) {
  const { createRequire } = await import('node:module');
  const req = createRequire(join(DEPS, 'package.json'));
  const { SignJWT } = await import(req.resolve('jose'));
  return new SignJWT({ scope: 'bench:read' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://bench.example.org')
    .setAudience('bench')
    .setSubject('bench-user')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

const started = [];
function start(cmd, argv, options = {}) {
  const child = spawn(cmd, argv, { stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'], ...options });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
  child.lastError = () => err;
  started.push(child);
  return child;
}

function stopAll() {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

async function waitFor(port, path = '/', headers = {}) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const r = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
        res.resume();
        resolve(res.statusCode < 500);
      });
      r.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers on 127.0.0.1:${port}${path}`);
}

const TICK = 100; // CLK_TCK
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}
function treeCpu(pids) {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}
function memMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(/(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(name)) ?? '0 kB')[1]);
  return { rss: kb('VmRSS:') / 1024, hwm: kb('VmHWM:') / 1024 };
}
function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function wrk(url, { conns, seconds, headers = [] }) {
  const argv = ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency'];
  for (const h of headers) argv.push('-H', h);
  argv.push(url);
  const out = sh('wrk', argv);
  const num = (re) => Number((re.exec(out) ?? [])[1] ?? NaN);
  const lat = (p) => {
    const m = new RegExp(`${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    p50: lat(50),
    p99: lat(99),
  };
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function main() {
  if (!which('wrk')) {
    console.error('wrk is not installed (apt-get install -y wrk); this benchmark needs it.');
    process.exit(2);
  }
  if (!existsSync(join(ROOT, 'dist/cli/bin.js'))) {
    console.error('build gwgen first: npm run build');
    process.exit(2);
  }
  const rounds = Number(opt('rounds', '3'));
  const seconds = Number(opt('duration', '4'));
  const conns = Number(opt('conns', '50'));
  mkdirSync(OUT, { recursive: true });
  installDeps();
  const gwDir = buildGateway();
  const secret = 'bench-secret-of-at-least-32-bytes-0123456789';
  const jwt = await token(secret);

  // Backend: nginx `return 200` like the baseline's table 1, else node:http.
  const nginx = which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
  const useNginx = nginx !== undefined && !flag('node-backend');
  const body = JSON.stringify({ users: [{ id: 1, name: 'Ada Lovelace', email: 'ada@example.org' }], n: 1 }).padEnd(100, ' ');
  const ports = { direct: 19000, nginx: 19001, undici: 19002, fastify: 19003, fastgw: 19004, gw: 19005, gwcluster: 19006, gwquiet: 19007 };
  // A stray process on one of these ports would be measured in place of a target: refuse to run.
  const net = await import('node:net');
  for (const port of Object.values(ports)) {
    const busy = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (busy) {
      console.error(`port ${port} on 127.0.0.1 is in use; stop what listens there first`);
      process.exit(2);
    }
  }
  if (useNginx) {
    const prefix = join(OUT, 'nginx');
    mkdirSync(join(prefix, 'logs'), { recursive: true });
    const conf = (name, server) =>
      writeFileSync(
        join(prefix, `${name}.conf`),
        `worker_processes 1;\npid ${prefix}/${name}.pid;\nerror_log ${prefix}/logs/${name}.err warn;\nevents { worker_connections 4096; }\nhttp {\n access_log off;\n ${server}\n}\n`,
      );
    conf('backend', `server { listen 127.0.0.1:${ports.direct}; keepalive_requests 1000000; location / { default_type application/json; return 200 '${body}'; } }`);
    conf(
      'proxy',
      `upstream backend { server 127.0.0.1:${ports.direct}; keepalive 128; } server { listen 127.0.0.1:${ports.nginx}; keepalive_requests 1000000; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    );
    start(nginx, ['-p', prefix, '-c', join(prefix, 'backend.conf'), '-g', 'daemon off;']);
  } else {
    start(process.execPath, [new URL(import.meta.url).pathname, '--serve', 'backend', '--port', String(ports.direct)]);
  }
  const upstream = `http://127.0.0.1:${ports.direct}`;
  await waitFor(ports.direct);

  const targets = new Map();
  const self = new URL(import.meta.url).pathname;
  const add = (name, child, url, headers = [], pids = () => [child.pid]) => targets.set(name, { name, child, url, headers, pids });
  add('direct', undefined, `${upstream}/api/v1/users`, [], () => []);
  if (useNginx) add('nginx', start(nginx, ['-p', join(OUT, 'nginx'), '-c', join(OUT, 'nginx/proxy.conf'), '-g', 'daemon off;']), `http://127.0.0.1:${ports.nginx}/api/v1/users`, [], function () {
    return [this.child.pid, ...childPids(this.child.pid)];
  });
  for (const peer of ['undici', 'fastify', 'fastgw']) add(peer, start(process.execPath, [self, '--serve', peer, '--port', String(ports[peer]), '--upstream', upstream]), `http://127.0.0.1:${ports[peer]}/api/v1/users`);
  const gwEnv = { ...process.env, PORT: String(ports.gw), HOST: '127.0.0.1', GW_UPSTREAM_BACKEND: upstream, BENCH_JWT_SECRET: secret, GW_ACCESS_LOG: 'stdout' };
  const gw = start(process.execPath, ['dist/src/main.js'], { cwd: gwDir, env: gwEnv });
  const fullHeaders = [`Authorization: Bearer ${jwt}`, 'Origin: https://app.example.org'];
  add('gw-plain', gw, `http://127.0.0.1:${ports.gw}/plain/api/v1/users`);
  add('gw-full', gw, `http://127.0.0.1:${ports.gw}/full/api/v1/users`, fullHeaders);
  // The issue's chain (b) names JWT, rate limit, breaker, retries, CORS and metrics, not the access
  // log, and the peers log nothing: the same gateway without its access log, measured alongside.
  const quiet = start(process.execPath, ['dist/src/main.js'], { cwd: gwDir, env: { ...gwEnv, PORT: String(ports.gwquiet), GW_ACCESS_LOG: 'off' } });
  add('gw-plain-nolog', quiet, `http://127.0.0.1:${ports.gwquiet}/plain/api/v1/users`);
  add('gw-full-nolog', quiet, `http://127.0.0.1:${ports.gwquiet}/full/api/v1/users`, fullHeaders);
  if (flag('cluster')) {
    const cl = start(process.execPath, ['dist/src/main.js'], { cwd: gwDir, env: { ...gwEnv, PORT: String(ports.gwcluster), GW_WORKERS: '2' } });
    add('gw-full-cluster2', cl, `http://127.0.0.1:${ports.gwcluster}/full/api/v1/users`, fullHeaders, function () {
      return [this.child.pid, ...childPids(this.child.pid)];
    });
  }
  const only = opt('targets', undefined)?.split(',');
  const chosen = [...targets.values()].filter((t) => !only || only.includes(t.name) || t.name === 'direct');
  for (const t of chosen) if (t.child) await waitFor(Number(new URL(t.url).port), new URL(t.url).pathname, Object.fromEntries(t.headers.map((h) => h.split(': '))));
  for (const t of chosen) t.idle = t.child ? t.pids().reduce((s, pid) => s + memMb(pid).rss, 0) : NaN;

  // Warm-up: every Node target gets 1 s of load (JIT) before the first round.
  for (const t of chosen) if (t.child) wrk(t.url, { conns, seconds: 1, headers: t.headers });

  const results = new Map(chosen.map((t) => [t.name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const t of chosen) {
      const pids = t.pids();
      const before = pids.length ? treeCpu(pids) : 0;
      const r = wrk(t.url, { conns, seconds, headers: t.headers });
      r.cpu = pids.length ? treeCpu(pids) - before : NaN;
      r.usPerReq = (r.cpu / r.requests) * 1e6;
      results.get(t.name).push(r);
      console.error(`round ${round} ${t.name.padEnd(16)} ${fmt(r.rps)} req/s  p50 ${fmt(r.p50, 2)} ms  cpu ${fmt(r.usPerReq)} µs/req  non-2xx ${r.non2xx}  errors ${r.errors}`);
    }
  }
  // Hop latency at one connection.
  const c1 = new Map();
  for (const t of chosen) c1.set(t.name, wrk(t.url, { conns: 1, seconds: 3, headers: t.headers }).p50);
  for (const t of chosen) {
    if (!t.child) continue;
    const mem = t.pids().map(memMb);
    t.rss = mem.reduce((s, m) => s + m.rss, 0);
    t.hwm = mem.reduce((s, m) => s + m.hwm, 0);
  }

  const summary = chosen.map((t) => {
    const rs = results.get(t.name);
    return {
      name: t.name,
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      us: median(rs.map((r) => r.usPerReq)),
      cores: median(rs.map((r) => r.cpu / seconds)),
      bad: rs.reduce((s, r) => s + r.non2xx + r.errors, 0),
      c1: c1.get(t.name),
      idle: t.idle,
      rss: t.rss,
      hwm: t.hwm,
    };
  });
  const by = Object.fromEntries(summary.map((s) => [s.name, s]));
  const ref = by.undici;
  console.log(`\nwrk -t1 -c${conns} -d${seconds}s, ${rounds} interleaved rounds (medians); backend: ${useNginx ? 'nginx return 200' : 'node:http'}; node ${process.version}`);
  console.log('| target | req/s | ×undici | ×fastify | ×nginx | p50 / p99 ms | proxy cores | CPU µs/req | p50 -c1 ms | +p50 vs direct -c1 | RSS MB idle→after (peak) | non-2xx+errors |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of summary) {
    const ratio = (other) => (other && Number.isFinite(other.rps) ? fmt(s.rps / other.rps, 2) : '-');
    console.log(
      `| ${s.name} | ${fmt(s.rps)} | ${ratio(ref)} | ${ratio(by.fastify)} | ${ratio(by.nginx)} | ${fmt(s.p50, 2)} / ${fmt(s.p99, 2)} | ${fmt(s.cores, 2)} | ${fmt(s.us)} | ${fmt(s.c1, 3)} | ${s.name === 'direct' ? '-' : fmt(s.c1 - by.direct.c1, 3)} | ${Number.isFinite(s.idle) ? `${fmt(s.idle)}→${fmt(s.rss)} (${fmt(s.hwm)})` : '-'} | ${s.bad} |`,
    );
  }
  const goals = [];
  for (const suffix of ['', '-nolog']) {
    const plain = by[`gw-plain${suffix}`];
    const full = by[`gw-full${suffix}`];
    const log = suffix ? ' (access log off)' : ' (access log on)';
    if (ref && plain) goals.push([`(a) routing only ≥ 0.9× undici${log}`, plain.rps / ref.rps, 0.9]);
    if (ref && full) goals.push([`(b) full chain ≥ 0.8× undici${log}`, full.rps / ref.rps, 0.8]);
    if (by.fastify && full) goals.push([`(b) ≥ 1.2× fastify+reply-from${log}`, full.rps / by.fastify.rps, 1.2]);
    if (by.fastgw && full) goals.push([`(b) ahead of fast-gateway${log}`, full.rps / by.fastgw.rps, 1.0]);
  }
  console.log('\n| goal | measured | met |\n| --- | --- | --- |');
  for (const [name, value, min] of goals) console.log(`| ${name} | ${fmt(value, 2)} | ${value >= min ? 'yes' : 'no'} |`);
  for (const name of ['gw-plain', 'gw-full']) {
    if (!by[name]) continue;
    const added = by[name].c1 - by.direct.c1;
    console.log(`| ${name}: added p50 at -c1 ≤ 0.25 ms | ${fmt(added, 3)} ms | ${added <= 0.25 ? 'yes' : 'no'} |`);
  }
  if (by['gw-full']) console.log(`| gateway RSS after the run ≤ 130 MB | ${fmt(by['gw-full'].rss)} MB | ${by['gw-full'].rss <= 130 ? 'yes' : 'no'} |`);
  const errors = summary.filter((s) => s.name.startsWith('gw')).reduce((n, s) => n + s.bad, 0);
  console.log(`| zero errors (gateway) | ${errors} | ${errors === 0 ? 'yes' : 'no'} |`);
  stopAll();
  setTimeout(() => process.exit(0), 200);
}

if (mode) await serve(mode, Number(opt('port', '0')), opt('upstream', 'http://127.0.0.1:9000'));
else await main();
