import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildGateway, failedStart, freePort, redisServer, startGateway, startRedis as startRedisServer, stopRedis, TestServer, type GatewayProcess } from './gateway-helpers.js';
import { tempDir } from './helpers.js';

/**
 * The generated gateway run as several replicas, black-box over real sockets and processes: two
 * gateway processes and node:cluster workers sharing one Redis (every window at its boundaries,
 * quota tiers at a route's cost, keys of two gateways apart), Redis that refuses the password,
 * hangs, dies and comes back, REDIS_URL values ioredis would misread, cluster metrics and worker
 * restarts, and SIGTERM: draining requests, streams and WebSocket tunnels, keep-alive
 * connections, and the hard deadline.
 */

const MODEL = `
@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex:  <https://example.org/replicas#> .

ex:gw a agw:ApiGateway ;
    agw:gatewayName "replicas" ;
    agw:hasRoute ex:sec , ex:min , ex:hour , ex:day , ex:metered , ex:double , ex:plain , ex:ws , ex:local ;
    agw:hasConsumer ex:ann , ex:ben .

ex:app a agw:BackendService ; agw:serviceName "app" .

ex:sec a agw:Route ; agw:routePath "/sec" ; agw:hasBackendService ex:app ; agw:hasRateLimiter ex:sec-limit .
ex:sec-limit a agw:RateLimiter ; agw:requestsPerSecond 3 ; agw:limitBy "global" ; agw:policy "redis" .
ex:min a agw:Route ; agw:routePath "/min" ; agw:hasBackendService ex:app ; agw:hasRateLimiter ex:min-limit .
ex:min-limit a agw:RateLimiter ; agw:requestsPerMinute 4 ; agw:limitBy "global" ; agw:policy "redis" .
ex:hour a agw:Route ; agw:routePath "/hour" ; agw:hasBackendService ex:app ; agw:hasRateLimiter ex:hour-limit .
ex:hour-limit a agw:RateLimiter ; agw:requestsPerHour 4 ; agw:limitBy "global" ; agw:policy "redis" .
ex:day a agw:Route ; agw:routePath "/day" ; agw:hasBackendService ex:app ; agw:hasRateLimiter ex:day-limit .
ex:day-limit a agw:RateLimiter ; agw:requestsPerDay 4 ; agw:limitBy "global" ; agw:policy "redis" .

ex:key a agw:ApiKey ; agw:keyHeader "X-Key" .
ex:metered a agw:Route ; agw:routePath "/metered" ; agw:hasBackendService ex:app ; agw:hasAuthentication ex:key .
ex:double a agw:Route ; agw:routePath "/double" ; agw:hasBackendService ex:app ; agw:hasAuthentication ex:key ; agw:costMultiplier 2 .
ex:plan a agw:QuotaTier ; agw:tierName "plan" ; agw:requestsPerMinute 1000 ; agw:monthlyQuota 7 .
ex:ann a agw:Consumer ; agw:consumerName "ann" ; agw:apiKeyEnv "ANN_KEY" ; agw:hasQuotaTier ex:plan .
ex:ben a agw:Consumer ; agw:consumerName "ben" ; agw:apiKeyEnv "BEN_KEY" ; agw:hasQuotaTier ex:plan .

ex:plain a agw:Route ; agw:routePath "/plain" ; agw:hasBackendService ex:app .
ex:ws a agw:Route ; agw:routePath "/ws" ; agw:hasBackendService ex:app ; agw:websocket true .
ex:local a agw:Route ; agw:routePath "/local" ; agw:hasBackendService ex:app ;
    agw:hasRateLimiter [ a agw:RateLimiter ; agw:requestsPerMinute 2 ; agw:limitBy "global" ] .
`;

/**
 * The backend: /plain/slow/<ms> answers after <ms>, /plain/stream sends 20 chunks 50 ms apart,
 * anything else at once; a WebSocket upgrade is switched and echoed, one to a path with "hang"
 * is never answered.
 */
class App extends TestServer {
  protected createServer(): Server {
    const server = createServer((req, res) => {
      const url = req.url ?? '/';
      const slow = /^\/plain\/slow\/(\d+)/.exec(url);
      if (slow) return void setTimeout(() => res.end('slow done'), Number(slow[1]));
      if (url.startsWith('/plain/stream')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        let i = 0;
        const timer = setInterval(() => {
          res.write(`chunk ${i}\n`);
          if (++i === 20) {
            clearInterval(timer);
            res.end('end\n');
          }
        }, 50);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url }));
    });
    server.on('upgrade', (req, socket: Socket) => {
      socket.on('error', () => socket.destroy());
      if (req.url?.includes('hang')) return;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    });
    return server;
  }
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request on a connection of its own (so that node:cluster hands each to the next worker). */
function get(base: string, path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { agent: false, headers, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A raw TCP connection: what it received, and whether it is closed. */
function rawConnection(port: number): { socket: Socket; text: () => string; closed: () => boolean; ended: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.setEncoding('utf8').on('data', (d: string) => (text += d));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  return { socket, text: () => text, closed: () => closed, ended };
}

const UPGRADE = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  for (let i = 0; i < ms / 25 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(condition()).toBe(true);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the exit code of a process, or 'still running' after `ms`. */
function exitOf(child: ChildProcess, ms: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const lines = (gw: GatewayProcess, text: string) => gw.stderr().split('\n').filter((l) => l.includes(text)).length;

describe('generated gateway as replicas: shared limits, Redis failures, cluster mode and graceful shutdown', () => {
  let dir = '';
  let out = '';
  const app = new App();
  let env: Record<string, string> = {};
  const started: GatewayProcess[] = [];
  const redisProcs: ChildProcess[] = [];
  const redisBin = redisServer();

  const start = async (extra: Record<string, string> = {}) => {
    const gw = await startGateway(dir, { ...env, ...extra });
    started.push(gw);
    return gw;
  };
  const cli = (port: number, ...args: string[]) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 }).trim();
  const startRedis = async (port: number, args: string[] = []) => {
    const p = await startRedisServer(port, args);
    redisProcs.push(p);
    return p;
  };

  beforeAll(async () => {
    const models = tempDir('gwgen-replicas-');
    writeFileSync(join(models, 'replicas.ttl'), MODEL);
    ({ dir, out } = await buildGateway(join(models, 'replicas.ttl')));
    await app.listen();
    env = { GW_UPSTREAM_APP: app.url, ANN_KEY: 'ann-key', BEN_KEY: 'ben-key' };
  });
  afterAll(async () => {
    for (const gw of started) await gw.stop('SIGKILL');
    for (const p of redisProcs) await stopRedis(p);
    await app.stop();
  });

  describe.skipIf(!redisBin && !process.env.CI)('with Redis', () => {
    let port = 0;
    let url = '';
    beforeAll(async () => {
      port = await freePort();
      url = `redis://127.0.0.1:${port}`;
      await startRedis(port);
    });
    beforeEach(() => void cli(port, 'FLUSHALL'));

    /** Moves a bucket's last refill back by `ms`, as if that much time had passed (Redis's clock decides). */
    const age = (route: string, ms: number) => {
      const key = `gw:replicas:rl:${route}:*`;
      const ts = Number(cli(port, 'HGET', key, 'ts'));
      expect(ts).toBeGreaterThan(0);
      cli(port, 'HSET', key, 'ts', String(ts - ms));
    };

    it('admits exactly N per window across two processes, for every window, with the same headers, and refills at the window boundary', async () => {
      const a = await start({ REDIS_URL: url });
      const b = await start({ REDIS_URL: url });
      await until(() => lines(a, 'redis reachable') === 1 && lines(b, 'redis reachable') === 1);
      // [route, seconds per token (limit 4 or 3 per window), window in seconds, capacity]
      const windows = [
        ['min', 15, 60, 4],
        ['hour', 900, 3600, 4],
        ['day', 21_600, 86_400, 4],
        ['sec', 1 / 3, 1, 3],
      ] as const;
      for (const [route, perToken, window, capacity] of windows) {
        // Concurrent, half through each replica: exactly `capacity` get through, not twice that.
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => get(i % 2 ? b.url : a.url, `/${route}`)));
        const ok = answers.filter((x) => x.status === 200);
        expect(ok, route).toHaveLength(capacity);
        expect(ok.map((x) => x.headers['x-ratelimit-remaining']).sort(), route).toEqual(Array.from({ length: capacity }, (_, i) => String(i)));
        for (const x of answers) expect(x.headers['x-ratelimit-limit'], route).toBe(String(capacity));
        const refused = answers.filter((x) => x.status === 429);
        expect(refused, route).toHaveLength(10 - capacity);
        for (const x of refused) {
          expect(x.headers['x-ratelimit-remaining'], route).toBe('0');
          // Retry-After: one token's time; Reset: the whole window's (a second off at most).
          const retryAfter = Number(x.headers['retry-after']);
          expect(retryAfter, route).toBeLessThanOrEqual(Math.max(1, Math.ceil(perToken)));
          expect(retryAfter, route).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(perToken) - 1));
          expect(Number(x.headers['x-ratelimit-reset']), route).toBeGreaterThanOrEqual(window - 1);
          expect(Number(x.headers['x-ratelimit-reset']), route).toBeLessThanOrEqual(window);
        }
        if (route === 'sec') {
          // A real second: a third of it brings one token back, shared by both replicas.
          await sleep(400);
          expect((await get(a.url, '/sec')).status).toBe(200);
          expect((await get(b.url, '/sec')).status).toBe(429);
          continue;
        }
        // A second short of one token: still refused, for one more second.
        age(route, perToken * 1000 - 1000);
        const early = await get(b.url, `/${route}`);
        expect(early.status, route).toBe(429);
        expect(early.headers['retry-after'], route).toBe('1');
        // At the boundary: one request, through either replica, and no more.
        age(route, 1000);
        expect((await get(a.url, `/${route}`)).status, route).toBe(200);
        expect((await get(b.url, `/${route}`)).status, route).toBe(429);
        // Ten windows later the bucket is full, and holds no more than full.
        age(route, 10 * window * 1000);
        const statuses: number[] = [];
        for (let i = 0; i < capacity + 2; i++) statuses.push((await get(i % 2 ? a.url : b.url, `/${route}`)).status);
        expect(statuses, route).toEqual([...Array(capacity).fill(200), 429, 429]);
        // The key lives at least as long as the bucket takes to fill up again.
        expect(Number(cli(port, 'PTTL', `gw:replicas:rl:${route}:*`)), route).toBeGreaterThanOrEqual(window * 1000);
      }
    }, 60_000);

    it('shares quota tiers at the route cost across replicas, per consumer, and keeps two gateways apart', async () => {
      const other = join(out, 'other-gateway.json');
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { gateway: { name: string } };
      config.gateway.name = 'other-replicas';
      writeFileSync(other, JSON.stringify(config));
      const a = await start({ REDIS_URL: url });
      const b = await start({ REDIS_URL: url });
      const c = await start({ REDIS_URL: url, GWGEN_CONFIG: other });
      await until(() => [a, b, c].every((g) => lines(g, 'redis reachable') === 1));
      const ann = { 'x-key': 'ann-key' };
      // A monthly quota of 7 at 2 a request: 3 requests, whichever replica, then 1 left.
      const doubles: Answer[] = [];
      for (let i = 0; i < 4; i++) doubles.push(await get(i % 2 ? b.url : a.url, '/double', ann));
      expect(doubles.map((x) => x.status)).toEqual([200, 200, 200, 429]);
      expect(doubles.map((x) => x.headers['x-quota-remaining'])).toEqual(['5', '3', '1', '1']);
      const refused = doubles[3]!;
      expect(refused.headers['x-ratelimit-limit']).toBe('7');
      expect(refused.headers['retry-after']).toBe(refused.headers['x-ratelimit-reset']);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // The last unit at cost 1, then nothing.
      expect((await get(b.url, '/metered', ann)).headers['x-quota-remaining']).toBe('0');
      expect((await get(a.url, '/metered', ann)).status).toBe(429);
      // Another consumer of the same tier has a quota of its own; another gateway, its own budgets.
      expect((await get(a.url, '/double', { 'x-key': 'ben-key' })).headers['x-quota-remaining']).toBe('5');
      const elsewhere = await get(c.url, '/double', ann);
      expect(elsewhere.status).toBe(200);
      expect(elsewhere.headers['x-quota-remaining']).toBe('5');
      const keys = cli(port, '--scan').split('\n').sort();
      const month = new Date().toISOString().slice(0, 7);
      expect(keys).toEqual([`gw:other-replicas:quota:ann:${month}`, 'gw:other-replicas:tier:ann', `gw:replicas:quota:ann:${month}`, `gw:replicas:quota:ben:${month}`, 'gw:replicas:tier:ann', 'gw:replicas:tier:ben']);
    }, 60_000);

    it('counts locally, promptly and without 5xx, while Redis refuses the password, hangs or dies, says so once each time, and counts in Redis again when it is back', async () => {
      const securePort = await freePort();
      let redis = await startRedis(securePort, ['--requirepass', 's3cret']);
      const wrong = await start({ REDIS_URL: `redis://:not-it@127.0.0.1:${securePort}` });
      const none = await start({ REDIS_URL: `redis://127.0.0.1:${securePort}` });
      const good = await start({ REDIS_URL: `redis://:s3cret@127.0.0.1:${securePort}/2` });
      await until(() => lines(good, 'redis reachable') === 1 && lines(wrong, 'WRONGPASS') === 1 && lines(none, 'NOAUTH') === 1);
      // Several reconnections later: still one line each, and each refused replica counts alone.
      await sleep(2500);
      for (const [gw, why] of [[wrong, 'WRONGPASS'], [none, 'NOAUTH']] as const) {
        expect(lines(gw, 'redis unreachable'), why).toBe(1);
        expect(lines(gw, 'redis reachable'), why).toBe(0);
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) statuses.push((await get(gw.url, '/min')).status);
        expect(statuses, why).toEqual([200, 200, 200, 200, 429]);
      }
      expect(wrong.stderr() + none.stderr()).not.toContain('not-it');
      for (let i = 0; i < 2; i++) expect((await get(good.url, '/min')).status).toBe(200);
      expect(cli(securePort, '-a', 's3cret', '--no-auth-warning', '-n', '2', '--scan')).toBe('gw:replicas:rl:min:*');

      // Redis stops answering (SIGSTOP): a request waits for the 250 ms command timeout at most,
      // then the replica counts locally for a while, answering at once.
      redis.kill('SIGSTOP');
      const t0 = performance.now();
      const during = await Promise.all(Array.from({ length: 6 }, () => get(good.url, '/min', {}, 3000)));
      expect(performance.now() - t0).toBeLessThan(1500);
      for (const x of during) expect([200, 429]).toContain(x.status);
      // None of them waits for the 250 ms command timeout (each under 240 ms, leeway for a loaded machine).
      for (let i = 0; i < 5; i++) {
        const t1 = performance.now();
        expect([200, 429]).toContain((await get(good.url, '/min')).status);
        expect(performance.now() - t1).toBeLessThan(240);
      }
      expect(lines(good, 'redis unreachable')).toBe(1);
      expect(good.stderr()).toContain('Command timed out');
      // Answering again: tried again within 5 s, said once, counted in Redis again. (The commands
      // that timed out reach it now and count too: the replicas' shared budget errs on the safe side.)
      redis.kill('SIGCONT');
      await sleep(5200);
      expect((await get(good.url, '/hour')).headers['x-ratelimit-remaining']).toBe('3');
      await until(() => lines(good, 'redis reachable') === 2);
      expect(cli(securePort, '-a', 's3cret', '--no-auth-warning', '-n', '2', '--scan')).toContain('gw:replicas:rl:hour:*');

      // Redis dies: answered at once, locally, under load; said once; back when Redis is.
      await stopRedis(redis);
      const t2 = performance.now();
      const dead = await Promise.all(Array.from({ length: 12 }, () => get(good.url, '/day', {}, 3000)));
      expect(performance.now() - t2).toBeLessThan(1500);
      expect(dead.filter((x) => x.status === 200)).toHaveLength(4);
      expect(dead.filter((x) => x.status === 429)).toHaveLength(8);
      expect(lines(good, 'redis unreachable')).toBe(2);
      redis = await startRedis(securePort, ['--requirepass', 's3cret']);
      await until(() => lines(good, 'redis reachable') === 3);
      expect((await get(good.url, '/sec')).status).toBe(200);
      expect(cli(securePort, '-a', 's3cret', '--no-auth-warning', '-n', '2', '--scan')).toBe('gw:replicas:rl:sec:*');
      for (const gw of [wrong, none, good]) expect(gw.stderr()).not.toMatch(/uncaught|unhandled/i);
    }, 60_000);

    it('runs GW_WORKERS workers that share Redis limits, one /metrics for all at once also while a dead worker is replaced, and drain on SIGTERM', async () => {
      const gw = await start({ REDIS_URL: url, GW_WORKERS: '2' });
      await until(() => lines(gw, '"listening"') === 2 && lines(gw, 'redis reachable') === 2);
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await get(gw.url, '/min')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
      const served = async () => {
        const t0 = performance.now();
        const m = await get(gw.url, '/metrics', {}, 8000);
        return { status: m.status, ms: performance.now() - t0, text: m.body };
      };
      const count = (text: string, status: number) => Number(new RegExp(`^gateway_requests_total\\{route="min",method="GET",status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      for (let i = 0; i < 2; i++) {
        const m = await served();
        expect(m.status).toBe(200);
        expect([count(m.text, 200), count(m.text, 429)]).toEqual([4, 4]);
      }
      // A worker dies: it is replaced, and /metrics answers at once meanwhile (the replacement,
      // still starting, is not waited for), with the survivor's counts.
      const pids = [...gw.stderr().matchAll(/"message":"listening".*?"pid":(\d+)/g)].map((m) => Number(m[1]));
      process.kill(pids[0]!, 'SIGKILL');
      await until(() => lines(gw, 'worker exited, starting another') === 1);
      // (Node's round-robin loses a connection it hands to a worker that is dead but not yet
      // forgotten: the primary's 'disconnect' of it comes with or right after its 'exit'.)
      await sleep(100);
      const meanwhile = await served();
      expect(meanwhile.status).toBe(200);
      expect(meanwhile.ms).toBeLessThan(2000);
      await until(() => lines(gw, '"listening"') === 3);
      for (let i = 0; i < 4; i++) expect((await get(gw.url, '/plain/after')).status).toBe(200);
      const after = await served();
      expect(after.status).toBe(200);
      expect(Number(/^gateway_requests_total\{route="plain",method="GET",status="200"\} (\d+)$/m.exec(after.text)?.[1])).toBe(4);
      // SIGTERM: the request in flight in a worker is answered, the primary exits 0.
      const pending = get(gw.url, '/plain/slow/800');
      await sleep(200);
      gw.child.kill('SIGTERM');
      const answer = await pending;
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('slow done');
      expect(answer.headers.connection).toBe('close');
      expect(await exitOf(gw.child, 5000)).toBe(0);
      expect(gw.stderr()).not.toMatch(/uncaught|unhandled|did not send/i);
    }, 60_000);

    it("counts locally, and says so, when REDIS_URL names a database Redis does not have, not in database 0", async () => {
      // Redis has 16 databases unless told otherwise; ioredis would report 'ready' on database 0.
      const gw = await start({ REDIS_URL: `${url}/99` });
      await until(() => lines(gw, 'redis unreachable') === 1 && lines(gw, 'DB index is out of range') === 1);
      // Requests spread over a while, so that a connection that went on to database 0 would have
      // been used by the later ones.
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        statuses.push((await get(gw.url, '/min')).status);
        await sleep(100);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
      expect(cli(port, 'DBSIZE')).toBe('0');
      expect(lines(gw, 'redis reachable')).toBe(0);
      await gw.stop();
    }, 60_000);

    it('says at start, naming their routes, that workers sharing Redis still count limiters of policy "local" each on its own', async () => {
      // (The log is JSON lines: the quotes come escaped.)
      const warning = 'every worker counts the rate limiters with policy \\"local\\" on its own (route local)';
      const gw = await start({ REDIS_URL: url, GW_WORKERS: '2' });
      await until(() => lines(gw, '"listening"') === 2 && lines(gw, 'redis reachable') === 2);
      expect(lines(gw, warning)).toBe(2);
      // What it says: each worker admits the route's 2 a minute (node:cluster hands the
      // connections round-robin, so both get some of them).
      const local: number[] = [];
      for (let i = 0; i < 8; i++) local.push((await get(gw.url, '/local')).status);
      expect(local.filter((s) => s === 200).length).toBeGreaterThan(2);
      // One process counts the model's budget itself: nothing to say.
      const single = await start({ REDIS_URL: url });
      await until(() => lines(single, 'redis reachable') === 1);
      expect(single.stderr()).not.toContain('on its own');
      await gw.stop();
      await single.stop();
    }, 60_000);
  });

  it('refuses at start a REDIS_URL that ioredis would misread, without repeating its password; GW_WORKERS takes a whole number or "auto"', async () => {
    for (const [value, message] of [
      ['http://:hunter2@127.0.0.1:6379', 'the scheme http (not redis or rediss)'],
      ['redis://:hunter2@127.0.0.1:63x79', 'is not a URL'],
      ['127.0.0.1:6379', 'is not a URL'],
      ['redis://:hunter2@127.0.0.1:6379/zero', 'the database must be a number'],
      ['redis:///0', 'names no host'],
    ] as const) {
      const r = failedStart(dir, { ...env, REDIS_URL: value });
      expect(r.status, value).toBe(1);
      expect(r.stderr, value).toContain('failed to start');
      expect(r.stderr, value).toContain(message);
      expect(r.stderr, value).not.toContain('hunter2');
      expect(r.stderr, value).not.toMatch(/\n\s+at /);
    }
    const r = failedStart(dir, { ...env, GW_WORKERS: '1.5' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('GW_WORKERS must be a whole number or \\"auto\\"');
    const { readSettings } = (await import(join(dir, 'dist/src/env.js'))) as { readSettings: (env: NodeJS.ProcessEnv) => { workers: number; redisUrl?: string } };
    expect(readSettings({ GW_WORKERS: 'auto' }).workers).toBe(availableParallelism());
    expect(readSettings({ GW_WORKERS: '3' }).workers).toBe(3);
    expect(readSettings({ REDIS_URL: 'rediss://u:p@cache.example:6380/1' }).redisUrl).toBe('rediss://u:p@cache.example:6380/1');
    expect(readSettings({ REDIS_URL: 'unix:///run/redis.sock' }).redisUrl).toBe('unix:///run/redis.sock');
  });

  it('SIGTERM: refuses new connections, closes idle keep-alive ones, answers in-flight requests and streams with Connection: close, and waits for an open WebSocket tunnel', async () => {
    const gw = await start({ GW_SHUTDOWN_TIMEOUT_MS: '8000', GW_ACCESS_LOG: 'stdout' });
    const port = Number(new URL(gw.url).port);
    const inFlight = rawConnection(port);
    inFlight.socket.write('GET /plain/slow/800 HTTP/1.1\r\nHost: x\r\n\r\n');
    const idle = rawConnection(port);
    idle.socket.write('GET /plain/idle HTTP/1.1\r\nHost: x\r\n\r\n');
    const tunnel = rawConnection(port);
    tunnel.socket.write(UPGRADE('/ws/echo'));
    await until(() => idle.text().includes('"url":"/plain/idle"') && tunnel.text().startsWith('HTTP/1.1 101'));
    const stream = get(gw.url, '/plain/stream');
    await sleep(150);
    const t0 = performance.now();
    gw.child.kill('SIGTERM');
    await until(() => idle.closed(), 1000);
    await sleep(100);
    const refused = await get(gw.url, '/plain/late').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(refused).toBe('ECONNREFUSED');
    // The request in flight is answered, says so, and its connection closes after it.
    await inFlight.ended;
    expect(inFlight.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(inFlight.text()).toContain('\r\nConnection: close\r\n');
    expect(inFlight.text().endsWith('slow done')).toBe(true);
    const streamed = await stream;
    expect(streamed.status).toBe(200);
    expect(streamed.body.endsWith('chunk 19\nend\n')).toBe(true);
    // Every request is done, but the WebSocket tunnel is still open and carries data both ways.
    await sleep(200);
    expect(tunnel.closed()).toBe(false);
    tunnel.socket.write('still there?');
    await until(() => tunnel.text().endsWith('still there?'), 2000);
    // The client closes it: the gateway exits then, well before its timeout, with 0.
    tunnel.socket.end();
    expect(await exitOf(gw.child, 3000)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
    const log = gw.stdout().trim().split('\n').map((l) => JSON.parse(l) as { path: string; status: number });
    expect(log.find((e) => e.path === '/plain/slow/800')?.status).toBe(200);
    expect(log.find((e) => e.path === '/plain/stream')?.status).toBe(200);
  }, 30_000);

  it('SIGTERM: at the timeout an upgrade still waiting for its backend gets 503, an open tunnel is cut, and the gateway exits 0', async () => {
    const gw = await start({ GW_SHUTDOWN_TIMEOUT_MS: '600' });
    const port = Number(new URL(gw.url).port);
    const waiting = rawConnection(port);
    waiting.socket.write(UPGRADE('/ws/hang'));
    const tunnel = rawConnection(port);
    tunnel.socket.write(UPGRADE('/ws/echo'));
    await until(() => tunnel.text().startsWith('HTTP/1.1 101'));
    await sleep(100);
    const t0 = performance.now();
    gw.child.kill('SIGTERM');
    expect(await exitOf(gw.child, 5000)).toBe(0);
    // By the timeout, not by the hard deadline (2 s later).
    expect(performance.now() - t0).toBeLessThan(2000);
    await waiting.ended;
    expect(waiting.text()).toMatch(/^HTTP\/1\.1 503 /);
    expect(waiting.text()).toContain('gateway is shutting down');
    await tunnel.ended;
    expect(gw.stderr()).not.toContain('shutdown deadline passed');
  }, 30_000);

  it('SIGTERM: exits by the hard deadline (timeout + 2 s) when a span collector does not answer, and says so', async () => {
    // A collector that takes the connection and never answers: the exporter would wait 5 s.
    const silent: Socket[] = [];
    const collector = createNetServer((s) => silent.push(s));
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const gw = await start({ GW_SHUTDOWN_TIMEOUT_MS: '300', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}` });
      // A sampled request (the caller's traceparent flag) leaves a span to export at shutdown.
      expect((await get(gw.url, '/plain/traced', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })).status).toBe(200);
      const t0 = performance.now();
      gw.child.kill('SIGTERM');
      expect(await exitOf(gw.child, 8000)).toBe(0);
      const took = performance.now() - t0;
      expect(took).toBeGreaterThan(2000);
      expect(took).toBeLessThan(4000);
      expect(gw.stderr()).toContain('shutdown deadline passed');
    } finally {
      for (const s of silent) s.destroy();
      await new Promise((resolve) => collector.close(resolve));
    }
  }, 30_000);
});
