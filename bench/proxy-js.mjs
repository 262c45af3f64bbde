#!/usr/bin/env node
// The gateway's own JavaScript cost per request, without sockets (run bench/proxy.mjs once first:
// it builds bench/.out/proxy/gw). Fake request/response objects, and a fake undici dispatch that
// answers at once, so only the gateway's code is timed: router, chain, headers, metrics, log.
// Deterministic enough to compare two versions of a template: `node bench/proxy-js.mjs [/full/x]`.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const DIR = process.env.GW_DIR ?? join(ROOT, 'bench/.out/proxy/gw/gateway');
const { Gateway } = await import(join(DIR, 'dist/src/server.js'));
const { SignJWT } = await import(createRequire(join(DIR, 'package.json')).resolve('jose'));
const path = process.argv[2] ?? '/plain/api/v1/users';
const N = Number(process.argv[3] ?? 300000);
const gw = new Gateway({ env: { GW_UPSTREAM_BACKEND: 'http://127.0.0.1:1', BENCH_JWT_SECRET: 'bench-secret', GW_ACCESS_LOG: process.env.GW_ACCESS_LOG ?? 'stdout' }, defaultMetrics: false, accessLogWrite: () => {} });
// (GW_ACCESS_LOG=off measures the chain without the access log.)
const raw = ['Server', 'nginx', 'Date', 'Sun, 22 Nov 2026 07:00:00 GMT', 'Content-Type', 'application/json', 'Content-Length', '100', 'Connection', 'keep-alive'].map((s) => Buffer.from(s));
const body = Buffer.alloc(100, 32);
for (const u of gw.upstreams.values())
  for (const i of u.instances)
    i.pool.dispatch = (_opts, h) => {
      h.onConnect(() => {});
      h.onHeaders(200, raw, () => {});
      h.onData(body);
      h.onComplete([]);
      return true;
    };
const token = await new SignJWT({ scope: 'bench:read' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://bench.example.org').setAudience('bench').setSubject('u').setExpirationTime('2h').sign(new TextEncoder().encode('bench-secret'));
const socket = { remoteAddress: '127.0.0.1' };
const extra = path.startsWith('/full') ? { authorization: `Bearer ${token}`, origin: 'https://app.example.org' } : {};
const fakeReq = () => {
  const headers = { host: '127.0.0.1:19005', ...extra };
  // HTTP/1.1, as wrk sends: the head checks (one valid Host, the target's form) run for HTTP/1 only.
  return { url: path, method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, rawHeaders: Object.entries(headers).flat(), headers, socket };
};
const fakeRes = () => ({ headersSent: false, writeHead() {}, write: () => true, end() {}, setHeader() {}, once() {}, destroy() {} });
const handle = gw.handle.bind(gw);
// The first request of a new token is verified asynchronously; afterwards it is a cache hit.
await new Promise((resolve) => handle(fakeReq(), { ...fakeRes(), end: resolve }));
const res = fakeRes();
for (let i = 0; i < 50000; i++) handle(fakeReq(), res);
const t0 = process.cpuUsage();
for (let i = 0; i < N; i++) handle(fakeReq(), res);
const t = process.cpuUsage(t0);
console.log(`${path}: ${((t.user + t.system) / N).toFixed(2)} µs CPU per request (gateway code only)`);
process.exit(0);
