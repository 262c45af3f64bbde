import { execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, buildGateway, freePort, redisServer, startGateway, startRedis, stopRedis, type GatewayProcess } from './gateway-helpers.js';
import { tempDir } from './helpers.js';

/**
 * Rate limits at their edges, black-box over real sockets and processes: X-RateLimit-* on a route
 * whose requests cost more than one unit of the consumer's tier (the route's limit counts
 * requests, the tier's windows and monthly quota cost units, and the headers must name the budget
 * that will refuse the client first), and a wall clock stepped back an hour under a running
 * gateway (a preloaded module moves Date.now, as NTP or a resumed VM would).
 */

const MODEL = `
@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex:  <https://example.org/limits-edges#> .

ex:gw a agw:ApiGateway ;
    agw:gatewayName "limits-edges" ;
    agw:hasRoute ex:report , ex:tick , ex:shared , ex:batch , ex:per-client ;
    agw:hasConsumer ex:hana , ex:ivo , ex:kai , ex:lea .

ex:app a agw:BackendService ; agw:serviceName "app" .
ex:key a agw:ApiKey ; agw:keyHeader "X-Key" .

ex:report a agw:Route ; agw:routePath "/report" ; agw:hasBackendService ex:app ;
    agw:hasAuthentication ex:key ; agw:costMultiplier 3 ; agw:hasRateLimiter ex:report-limit .
ex:report-limit a agw:RateLimiter ; agw:requestsPerMinute 5 ; agw:limitBy "consumer" .

ex:tick a agw:Route ; agw:routePath "/tick" ; agw:hasBackendService ex:app ; agw:hasRateLimiter ex:tick-limit .
ex:tick-limit a agw:RateLimiter ; agw:requestsPerSecond 1 ; agw:limitBy "global" .
ex:shared a agw:Route ; agw:routePath "/shared" ; agw:hasBackendService ex:app ; agw:hasRateLimiter ex:shared-limit .
ex:shared-limit a agw:RateLimiter ; agw:requestsPerMinute 100 ; agw:limitBy "global" ; agw:policy "redis" .
ex:per-client a agw:Route ; agw:routePath "/per-client" ; agw:hasBackendService ex:app ; agw:hasRateLimiter ex:client-limit .
ex:client-limit a agw:RateLimiter ; agw:requestsPerHour 1 ; agw:limitBy "ip" .

ex:hourly a agw:QuotaTier ; agw:tierName "hourly" ; agw:requestsPerHour 10 .
ex:monthly a agw:QuotaTier ; agw:tierName "monthly" ; agw:requestsPerHour 1000 ; agw:monthlyQuota 10 .
ex:hana a agw:Consumer ; agw:consumerName "hana" ; agw:apiKeyEnv "HANA_KEY" ; agw:hasQuotaTier ex:hourly .
ex:ivo a agw:Consumer ; agw:consumerName "ivo" ; agw:apiKeyEnv "IVO_KEY" ; agw:hasQuotaTier ex:monthly .

# Budgets that let as many more requests through, at a cost of 2 (see "of two budgets ... as few").
ex:batch a agw:Route ; agw:routePath "/batch" ; agw:hasBackendService ex:app ;
    agw:hasAuthentication ex:key ; agw:costMultiplier 2 ; agw:hasRateLimiter ex:batch-limit .
ex:batch-limit a agw:RateLimiter ; agw:requestsPerMinute 2 ; agw:limitBy "consumer" .
ex:odd-hour a agw:QuotaTier ; agw:tierName "odd-hour" ; agw:requestsPerHour 5 .
ex:two-windows a agw:QuotaTier ; agw:tierName "two-windows" ; agw:requestsPerMinute 4 ; agw:requestsPerHour 5 .
ex:kai a agw:Consumer ; agw:consumerName "kai" ; agw:apiKeyEnv "KAI_KEY" ; agw:hasQuotaTier ex:odd-hour .
ex:lea a agw:Consumer ; agw:consumerName "lea" ; agw:apiKeyEnv "LEA_KEY" ; agw:hasQuotaTier ex:two-windows .
`;

interface Limits {
  status: number;
  limit: string | null;
  remaining: string | null;
}

describe('generated gateway: X-RateLimit-* across budgets counted in different units', () => {
  let dir = '';
  let gw: GatewayProcess | undefined;
  const app = new Backend('app');
  const started: GatewayProcess[] = [];
  const redisProcs: ChildProcess[] = [];

  const call = async (key: string, path = '/report'): Promise<Limits> => {
    const res = await fetch(`${gw!.url}${path}`, { headers: { 'x-key': key } });
    await res.text();
    return { status: res.status, limit: res.headers.get('x-ratelimit-limit'), remaining: res.headers.get('x-ratelimit-remaining') };
  };

  beforeAll(async () => {
    const models = tempDir('gwgen-limits-edges-');
    writeFileSync(join(models, 'units.ttl'), MODEL);
    ({ dir } = await buildGateway(join(models, 'units.ttl')));
    await app.listen();
    gw = await startGateway(dir, { GW_UPSTREAM_APP: app.url, HANA_KEY: 'hana-key', IVO_KEY: 'ivo-key', KAI_KEY: 'kai-key', LEA_KEY: 'lea-key' });
    started.push(gw);
  });
  afterAll(async () => {
    for (const g of started) await g.stop('SIGKILL');
    for (const p of redisProcs) await stopRedis(p);
    await app.stop();
  });

  /**
   * A gateway whose Date.now is the real one plus the milliseconds written in the returned file
   * (read on every call), so a test can step its wall clock.
   */
  const startWithClock = async (env: Record<string, string> = {}) => {
    const folder = tempDir('gwgen-limits-clock-');
    const offset = join(folder, 'offset');
    writeFileSync(offset, '0');
    const preload = join(folder, 'clock.mjs');
    writeFileSync(
      preload,
      `import { readFileSync } from 'node:fs';
const real = Date.now;
Date.now = () => real() + Number(readFileSync(${JSON.stringify(offset)}, 'utf8'));
`,
    );
    const g = await startGateway(dir, { GW_UPSTREAM_APP: app.url, NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`, ...env });
    started.push(g);
    return { gw: g, step: (ms: number) => writeFileSync(offset, String(ms)) };
  };
  const status = async (g: GatewayProcess, path: string) => {
    const res = await fetch(g.url + path);
    await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('keeps at most GW_RATE_LIMIT_MAX_KEYS buckets, forgetting the oldest client first and saying so once', async () => {
    // Clients that rotate addresses must not grow the heap without end: with room for two
    // buckets, a third client's bucket pushes out the first's, which then starts afresh.
    const g = await startGateway(dir, { GW_UPSTREAM_APP: app.url, GW_TRUSTED_PROXIES: '127.0.0.1/32,::1/128', GW_RATE_LIMIT_MAX_KEYS: '2' });
    started.push(g);
    const from = async (client: string) => {
      const res = await fetch(`${g.url}/per-client`, { headers: { 'x-forwarded-for': client } });
      await res.text();
      return res.status;
    };
    expect([await from('203.0.113.1'), await from('203.0.113.1'), await from('203.0.113.2'), await from('203.0.113.2')]).toEqual([200, 429, 200, 429]);
    expect(g.stderr()).not.toContain('GW_RATE_LIMIT_MAX_KEYS');
    expect(await from('203.0.113.3')).toBe(200);
    // 203.0.113.1's bucket was the oldest; 203.0.113.3's and .2's are kept.
    expect([await from('203.0.113.1'), await from('203.0.113.3')]).toEqual([200, 429]);
    expect(g.stderr().match(/GW_RATE_LIMIT_MAX_KEYS/g)).toHaveLength(1);
    expect(g.stderr()).toMatch(/"level":"warn".*2 clients hold rate-limit buckets/);
  });

  it("names the tier window when, at the route's cost, it lets fewer requests through than the route's limit", async () => {
    // Route: 5 a minute. Tier: 10 units an hour, 3 a request, so 3 requests.
    const answers: Limits[] = [];
    for (let i = 0; i < 4; i++) answers.push(await call('hana-key'));
    expect(answers).toEqual([
      // 7 units left are 2 requests, fewer than the route's 4.
      { status: 200, limit: '10', remaining: '7' },
      { status: 200, limit: '10', remaining: '4' },
      { status: 200, limit: '10', remaining: '1' },
      { status: 429, limit: '10', remaining: '1' },
    ]);
  });

  it("names the monthly quota when, at the route's cost, it lets fewer requests through than the route's limit", async () => {
    // Route: 5 a minute. Quota: 10 units a month, 3 a request, so 3 requests; the tier's window
    // (1000 an hour) is never the tightest.
    const answers: Limits[] = [];
    for (let i = 0; i < 4; i++) answers.push(await call('ivo-key'));
    expect(answers).toEqual([
      { status: 200, limit: '10', remaining: '7' },
      { status: 200, limit: '10', remaining: '4' },
      { status: 200, limit: '10', remaining: '1' },
      { status: 429, limit: '10', remaining: '1' },
    ]);
  });

  it('of budgets that let as many more requests through, names the one that takes longer to refill, counting whole requests', async () => {
    // Route: 2 a minute. Tier: 5 units an hour at 2 a request. After the first request the tier's
    // 3 units are 1 request, as many as the route's 1 left; after the second both let none
    // through, and the tier refills in 48 minutes, the route in one: the tier holds the client
    // back, and a client told the route's minute would be refused by the tier after it.
    const answers: Limits[] = [];
    for (let i = 0; i < 2; i++) answers.push(await call('kai-key', '/batch'));
    expect(answers).toEqual([
      { status: 200, limit: '5', remaining: '3' },
      { status: 200, limit: '5', remaining: '1' },
    ]);
  });

  it('of two windows of one tier that let as many more requests through, names the one that takes longer to refill', async () => {
    // Tier: 4 units a minute and 5 an hour, 2 a request; the route's limit (2 a minute) lets
    // through as many. After one request the minute's 2 units and the hour's 3 are 1 request
    // each; after two, none: the hour refills last.
    const answers: Limits[] = [];
    for (let i = 0; i < 2; i++) answers.push(await call('lea-key', '/batch'));
    expect(answers).toEqual([
      { status: 200, limit: '5', remaining: '3' },
      { status: 200, limit: '5', remaining: '1' },
    ]);
  });

  it('refills a local bucket at its rate when the wall clock is stepped back an hour, as its Retry-After says', async () => {
    const { gw: clocked, step } = await startWithClock();
    expect((await status(clocked, '/tick')).status).toBe(200);
    const refused = await status(clocked, '/tick');
    expect(refused).toEqual({ status: 429, retryAfter: '1' });
    step(-3_600_000);
    await sleep(1100);
    expect((await status(clocked, '/tick')).status).toBe(200);
  });

  describe.skipIf(!redisServer() && !process.env.CI)('with Redis', () => {
    it('counts in Redis again 5 s after a command timed out, also when the wall clock was stepped back an hour in between', async () => {
      const port = await freePort();
      const redis = await startRedis(port);
      redisProcs.push(redis);
      const { gw: clocked, step } = await startWithClock({ REDIS_URL: `redis://127.0.0.1:${port}` });
      const lines = (text: string) => clocked.stderr().split('\n').filter((l) => l.includes(text)).length;
      for (let i = 0; i < 400 && lines('redis reachable') === 0; i++) await sleep(50);
      expect(lines('redis reachable')).toBe(1);
      // A Redis that does not answer: one request waits for the command's timeout, then the
      // gateway counts locally for 5 s.
      redis.kill('SIGSTOP');
      expect((await status(clocked, '/shared')).status).toBe(200);
      expect(lines('Command timed out')).toBe(1);
      step(-3_600_000);
      redis.kill('SIGCONT');
      // The timed-out command ran once Redis went on: start from an empty Redis.
      execFileSync('redis-cli', ['-p', String(port), 'FLUSHALL'], { timeout: 5000 });
      await sleep(5500);
      expect((await status(clocked, '/shared')).status).toBe(200);
      expect(lines('answering again')).toBe(1);
      expect(execFileSync('redis-cli', ['-p', String(port), 'EXISTS', 'gw:limits-edges:rl:shared:*'], { encoding: 'utf8', timeout: 5000 }).trim()).toBe('1');
    });

    it('after the pause, tries a Redis that still hangs with one request, the others counted locally meanwhile', async () => {
      const port = await freePort();
      const redis = await startRedis(port);
      redisProcs.push(redis);
      const g = await startGateway(dir, { GW_UPSTREAM_APP: app.url, REDIS_URL: `redis://127.0.0.1:${port}` });
      started.push(g);
      // Scripts Redis has run (EVALSHA, or EVAL after NOSCRIPT): a stopped Redis runs the commands
      // sent to it meanwhile once it goes on, so the count tells how many requests tried it.
      const scripts = () =>
        [...execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8', timeout: 5000 }).matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect((await status(g, '/shared')).status).toBe(200);
      const before = scripts();
      redis.kill('SIGSTOP');
      // One request waits out the command's timeout; the gateway then counts locally for 5 s.
      expect((await status(g, '/shared')).status).toBe(200);
      await sleep(5500);
      // Redis still hangs: of ten requests at once, one tries it, the others do not wait for it.
      const answers = await Promise.all(Array.from({ length: 10 }, () => status(g, '/shared')));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      redis.kill('SIGCONT');
      let ran = 0;
      for (let i = 0; i < 100; i++) {
        await sleep(100);
        const now = scripts() - before;
        if (now === ran && now > 0 && i > 10) break;
        ran = now;
      }
      expect(ran).toBe(2);
    });

    it("counts a monthly quota in Redis's month: two replicas whose clocks disagree about the month share one quota and one Reset", async () => {
      const port = await freePort();
      redisProcs.push(await startRedis(port));
      const env = { REDIS_URL: `redis://127.0.0.1:${port}`, IVO_KEY: 'ivo-key' };
      const { gw: a } = await startWithClock(env);
      const { gw: b, step } = await startWithClock(env);
      // A replica listens only once it has reached Redis: counted locally, its first requests
      // would use a quota of its own.
      for (const gw of [a, b]) expect(gw.stderr()).toContain('redis reachable');
      // 40 days behind: another month whatever the day.
      step(-40 * 86_400_000);
      // 10 units a month, 3 a request: 3 requests, through either replica.
      const answers: { status: number; reset: number }[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await fetch(`${(i % 2 ? b : a).url}/report`, { headers: { 'x-key': 'ivo-key' } });
        await res.text();
        answers.push({ status: res.status, reset: Number(res.headers.get('x-ratelimit-reset')) });
        if (res.status === 429) expect(res.headers.get('retry-after')).toBe(res.headers.get('x-ratelimit-reset'));
      }
      expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
      // Seconds to the next month on Redis's clock, as both replicas say (a second apart at most).
      const now = new Date();
      const toNextMonth = (Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime()) / 1000;
      for (const x of answers) expect(Math.abs(x.reset - toNextMonth)).toBeLessThanOrEqual(5);
      const month = now.toISOString().slice(0, 7);
      expect(execFileSync('redis-cli', ['-p', String(port), 'GET', `gw:limits-edges:quota:ivo:${month}`], { encoding: 'utf8', timeout: 5000 }).trim()).toBe('9000000');
    });
  });
});
