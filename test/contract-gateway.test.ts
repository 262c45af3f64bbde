import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend } from './gateway-helpers.js';
import { gwgen, ROOT, tempDir } from './helpers.js';

/**
 * "The generated gateway" of ../shared/interfaces.md, over real sockets on 127.0.0.1: the project
 * of test/fixtures/contract/gateway.ttl is installed with `npm install` and started with
 * `npm start`, once for the file, against local mock backends.
 */

const MODEL = join(ROOT, 'test/fixtures/contract/gateway.ttl');
const JWT_SECRET = 'contract-jwt-secret-of-32-bytes-at-least';
const ALICE_KEY = 'alice-key-0123456789';
const BOB_KEY = 'bob-key-0123456789';

/** A port nothing listens on (at the moment it is returned). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** `npm start` in dir (its prestart compiles), in its own process group; resolves once the gateway listens. */
async function npmStart(dir: string, env: Record<string, string>): Promise<Started> {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tempDir(), GW_ACCESS_LOG: 'off', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }, 15_000);
    await exited;
    clearTimeout(timer);
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen within 90 s: ${err}`)), 90_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"message":"listening".*?"port":(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}): ${err}`));
    });
  }).catch(async (e: Error) => {
    await stop();
    throw e;
  });
  return { child, port, url: `http://127.0.0.1:${port}`, stop };
}

/** Sends raw bytes and returns everything the server answers until it closes the connection. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer; so far: ${answer}`)));
  });
}

/** An HS256 JWT signed with `secret`. */
function jwt(claims: Record<string, unknown>, secret = JWT_SECRET): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
const claims = (scope: string) => ({ iss: 'https://auth.example.org', aud: 'orders-api', sub: 'user-1', exp: Math.floor(Date.now() / 1000) + 3600, scope });

describe('interfaces.md: the generated gateway, as npm install && npm start runs it', () => {
  let out = '';
  let dir = '';
  let port = 0;
  let gw: Started;
  const catalog = [new Backend('catalog-1'), new Backend('catalog-2')];
  const stuck = new Backend('stuck');
  const flaky = new Backend('flaky');
  const sick = [new Backend('sick-1'), new Backend('sick-2')];
  let env: Record<string, string> = {};

  beforeAll(async () => {
    out = tempDir('gwgen-contract-');
    const r = await gwgen(['generate', MODEL, '-o', out, '-t', 'gateway']);
    expect(r.exitCode, r.stderr).toBe(0);
    dir = join(out, 'gateway');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: dir, stdio: 'pipe', timeout: 240_000 });
    for (const b of [...catalog, stuck, flaky, ...sick]) await b.listen();
    stuck.behaviour = 'hang';
    flaky.behaviour = 'fail';
    for (const b of sick) b.healthy = false;
    port = await freePort();
    env = {
      PORT: String(port),
      GW_UPSTREAM_CATALOG_API: catalog.map((b) => b.url).join(','),
      GW_UPSTREAM_NOWHERE: `http://127.0.0.1:${await freePort()}`,
      GW_UPSTREAM_STUCK: stuck.url,
      GW_UPSTREAM_FLAKY: flaky.url,
      GW_UPSTREAM_SICK: sick.map((b) => b.url).join(','),
      CONTRACT_JWT_SECRET: JWT_SECRET,
      CONTRACT_ALICE_KEY: ALICE_KEY,
      CONTRACT_BOB_KEY: BOB_KEY,
      GW_EJECT_AFTER_FAILURES: '0',
    };
    gw = await npmStart(dir, env);
  }, 300_000);

  afterAll(async () => {
    await gw?.stop();
    for (const b of [...catalog, stuck, flaky, ...sick]) await b.stop().catch(() => undefined);
  });

  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(gw.url + path, init);
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  it('npm install compiles it, and npm start serves the model routes on PORT', async () => {
    expect(existsSync(join(dir, 'node_modules/.bin/tsc'))).toBe(true);
    expect(existsSync(join(dir, 'dist/src/main.js'))).toBe(true);
    expect(gw.port).toBe(port);
    const r = await call('/items/42?x=1');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ backend: expect.stringMatching(/^catalog-/), url: '/items/42?x=1' });
  });

  it('PORT defaults to agw:listenPort', async () => {
    const listenPort = await freePort();
    const model = join(tempDir(), 'model.ttl');
    writeFileSync(model, readFileSync(MODEL, 'utf8').replace('agw:listenPort 8080 ;', `agw:listenPort ${listenPort} ;`));
    const other = join(tempDir(), 'out');
    const r = await gwgen(['generate', model, '-o', other, '-t', 'gateway']);
    expect(r.exitCode, r.stderr).toBe(0);
    symlinkSync(join(dir, 'node_modules'), join(other, 'gateway/node_modules'), 'dir');
    const { PORT: _port, ...withoutPort } = env;
    const started = await npmStart(join(other, 'gateway'), withoutPort);
    try {
      expect(started.port).toBe(listenPort);
      expect((await fetch(`http://127.0.0.1:${listenPort}/items/1`)).status).toBe(200);
    } finally {
      await started.stop();
    }
  });

  it('GW_UPSTREAM_<SERVICE> (serviceName upper-cased, non-alphanumerics as _) overrides the addresses, as a comma list', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(JSON.parse((await call(`/items/${i}`)).text).backend);
    expect([...seen].sort()).toEqual(['catalog-1', 'catalog-2']);
  });

  it('GET /healthz answers 200 with JSON', async () => {
    const r = await call('/healthz');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(typeof JSON.parse(r.text)).toBe('object');
  });

  const token = (scope: string, secret?: string) => ({ authorization: `Bearer ${jwt(claims(scope), secret)}` });

  // [what, method, path, request headers, status, response headers that must match]
  it.each([
    ['404: no route matches', 'GET', '/nowhere/at/all', {}, 404, {}],
    ['405: the path matches, the method does not', 'POST', '/items/7', {}, 405, { allow: /GET.*PUT/ }],
    ['401: no token', 'GET', '/orders', {}, 401, { 'www-authenticate': /^Bearer / }],
    ['401: a token signed with another secret', 'GET', '/orders', token('orders:write', 'another-secret-of-enough-length'), 401, { 'www-authenticate': /^Bearer / }],
    ['401: no API key', 'GET', '/keyed', {}, 401, { 'www-authenticate': /\S/ }],
    ['401: a wrong API key', 'GET', '/keyed', { 'x-api-key': 'not-a-key' }, 401, { 'www-authenticate': /\S/ }],
    ['403: the token lacks the required scope', 'GET', '/orders', token('orders:read'), 403, {}],
    ['403: a scope no header can name is missing', 'GET', '/translated', token('orders:write'), 403, { 'www-authenticate': /^Bearer realm="[^"]*", error="insufficient_scope", scope="orders:write"$/ }],
    ['403: the client IP is not allowed', 'GET', '/private', {}, 403, {}],
    ['502: the upstream is unreachable', 'GET', '/gone', {}, 502, {}],
    ['504: the upstream does not answer within the route timeout', 'GET', '/slow', {}, 504, {}],
  ] as const)('%s → the JSON error body { "error": "...", "status": N }', async (_what, method, path, headers, status, expected) => {
    const r = await call(path, { method, headers });
    expect(r.status, r.text).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(r.text);
    expect(Object.keys(body).sort()).toEqual(['error', 'status']);
    expect(body).toEqual({ error: expect.stringMatching(/\S/), status });
    for (const [name, pattern] of Object.entries(expected)) expect(r.headers.get(name), name).toMatch(pattern);
  });

  // Node's HTTP parser rejects these before a request exists; the gateway's clientError handler
  // answers them with the same JSON body as its other errors.
  it('a request that does not parse (400) and headers too large (431) get the JSON error body too', async () => {
    const cases = [
      ['GET /items/1 HTTP/1.1\r\nHost: gateway\r\nthis is not a header\r\n\r\n', 400],
      [`GET /items/1 HTTP/1.1\r\nHost: gateway\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 431],
    ] as const;
    for (const [bytes, status] of cases) {
      const answer = await rawRequest(gw.port, bytes);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(head).toMatch(/^content-type: application\/json/im);
      expect(JSON.parse(body)).toEqual({ error: expect.stringMatching(/\S/), status });
    }
  });

  it('the variables named by agw:secretEnv and agw:apiKeyEnv hold the JWT secret and the API keys', async () => {
    const ok = await call('/orders', { headers: token('orders:write orders:read') });
    expect(ok.status, ok.text).toBe(200);
    const translated = await call('/translated', { headers: token('orders:write 写入') });
    expect(translated.status, translated.text).toBe(200);
    const keyed = await call('/keyed', { headers: { 'x-api-key': ALICE_KEY } });
    expect(keyed.status, keyed.text).toBe(200);
    expect(JSON.parse(keyed.text).headers['x-api-key']).toBeUndefined();
  });

  it('429 with Retry-After and X-RateLimit-Limit/-Remaining/-Reset; the successful answers of the route carry X-RateLimit-* too', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call('/limited'));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    for (const a of answers) {
      expect(a.headers.get('x-ratelimit-limit')).toBe('3');
      expect(a.headers.get('x-ratelimit-reset')).toMatch(/^\d+$/);
    }
    const limited = answers[3]!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(limited.text)).toEqual({ error: expect.stringMatching(/\S/), status: 429 });
    // A route without a limiter has no such headers.
    expect((await call('/items/1')).headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('429 for a spent monthly quota carries Retry-After and X-RateLimit-* as well', async () => {
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await call('/metered', { headers: { 'x-api-key': BOB_KEY } }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    for (const a of answers) for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) expect(a.headers.get(h), h).toMatch(/^\d+$/);
    // The monthly quota (2) has less left than the daily window (1000): it is the one shown.
    expect(answers.map((a) => [a.headers.get('x-ratelimit-limit'), a.headers.get('x-ratelimit-remaining')])).toEqual([['2', '1'], ['2', '0'], ['2', '0']]);
    const spent = answers[2]!;
    expect(Number(spent.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(spent.text)).toEqual({ error: expect.stringMatching(/\S/), status: 429 });
  });

  it('X-RateLimit-* describe the budget that refused, else the one with the least left (here the monthly quota of 2)', async () => {
    // bob's tier: 1000 a day and 2 a month; the quota is spent by the test above.
    const spent = await call('/metered', { headers: { 'x-api-key': BOB_KEY } });
    expect(spent.status).toBe(429);
    expect([spent.headers.get('x-ratelimit-limit'), spent.headers.get('x-ratelimit-remaining')]).toEqual(['2', '0']);
    expect(Number(spent.headers.get('x-ratelimit-reset'))).toBe(Number(spent.headers.get('retry-after')));
  });

  it('a second Authorization header is refused with the first, not passed upstream unverified', async () => {
    const good = jwt(claims('orders:write orders:read'));
    const forged = jwt({ ...claims('orders:write orders:read'), sub: 'admin' }, 'not-the-secret');
    const answer = await rawRequest(port, `GET /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${good}\r\nAuthorization: Bearer ${forged}\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('www-authenticate: bearer');
  });

  it('503 with Retry-After when the circuit is open', async () => {
    const first = await call('/guarded');
    expect(first.status).toBe(500);
    const calls = flaky.calls;
    const open = await call('/guarded');
    expect(open.status).toBe(503);
    expect(flaky.calls).toBe(calls);
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(open.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(open.text)).toEqual({ error: expect.stringMatching(/\S/), status: 503 });
  });

  it('503 with Retry-After when no instance is healthy', async () => {
    // Health checks run every second; wait (at most 20 s) until both instances have failed theirs.
    let r = await call('/checked');
    for (let waited = 0; r.status !== 503 && waited < 20_000; waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      r = await call('/checked');
    }
    expect(r.status).toBe(503);
    expect(sick.every((b) => b.calls === 0)).toBe(true);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(r.text)).toEqual({ error: expect.stringMatching(/\S/), status: 503 });
  });

  it('GET /metrics is Prometheus text: requests, latency histogram, rate-limit rejections, breaker state per route, upstream health', async () => {
    await call('/items/1');
    for (let i = 0; i < 4; i++) await call('/limited');
    const r = await call('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const family = (name: string, type: string, sample: RegExp) => {
      expect(r.text, name).toContain(`# TYPE ${name} ${type}\n`);
      expect(r.text, name).toMatch(sample);
    };
    family('gateway_requests_total', 'counter', /^gateway_requests_total\{[^}]*route="items"[^}]*status="200"[^}]*\} [1-9]\d*$/m);
    family('gateway_request_duration_seconds', 'histogram', /^gateway_request_duration_seconds_bucket\{[^}]*route="items"[^}]*\} [1-9]\d*$/m);
    family('gateway_rate_limit_rejections_total', 'counter', /^gateway_rate_limit_rejections_total\{[^}]*route="limited"[^}]*\} [1-9]\d*$/m);
    family('gateway_circuit_breaker_state', 'gauge', /^gateway_circuit_breaker_state\{route="guarded",service="flaky"\} [012]$/m);
    family('gateway_upstream_healthy', 'gauge', new RegExp(`^gateway_upstream_healthy\\{service="catalog-api",instance="${catalog[0]!.url}"\\} 1$`, 'm'));
    expect(r.text).toMatch(new RegExp(`^gateway_upstream_healthy\\{service="sick",instance="${sick[0]!.url}"\\} 0$`, 'm'));
  });

  it('npm test runs its own generated tests, and they pass', () => {
    const r = spawnSync('npm', ['test'], { cwd: dir, encoding: 'utf8', timeout: 240_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tempDir() } });
    expect(r.status, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect(r.stdout).toMatch(/^# fail 0$/m);
    expect(Number(/^# pass (\d+)$/m.exec(r.stdout)?.[1])).toBeGreaterThan(10);
  });
});
