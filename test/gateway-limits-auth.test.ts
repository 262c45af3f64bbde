import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, buildGateway, freePort, JwksServer, redisServer, startGateway, startRedis as startRedisServer, stopRedis, type GatewayProcess } from './gateway-helpers.js';

/**
 * The generated gateway's rate limits, quota tiers and authentication, black-box over real
 * sockets and real processes: token buckets and their headers, fractional quota costs, Redis
 * shared by two gateway processes (atomic under concurrency, password and database in REDIS_URL,
 * down at start, lost and back, keys of two gateways apart), JWT against a real JWKS server
 * (algorithm allow-list, alg confusion, claims, scopes, RFC 6750 challenges, a JWKS that is down).
 * Tokens are signed with node:crypto, so no JWT library vouches for itself.
 */

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const SECRET = 'limits-auth-hs256-secret-of-32-bytes!';
const ISS = 'https://issuer.example';

function jwt(alg: string, key: KeyObject | string | undefined, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64({ alg, typ: 'JWT', ...header })}.${b64({ iss: ISS, aud: 'api', exp: now + 300, ...claims })}`;
  let sig = '';
  if (alg === 'HS256') sig = createHmac('sha256', key as string | KeyObject).update(unsigned).digest('base64url');
  else if (alg === 'RS256') sig = cryptoSign('sha256', Buffer.from(unsigned), key as KeyObject).toString('base64url');
  else if (alg === 'ES256') sig = cryptoSign('sha256', Buffer.from(unsigned), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${unsigned}.${sig}`;
}


const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwkOf = (k: KeyObject, kid: string, alg: string) => ({ ...k.export({ format: 'jwk' }), kid, alg, use: 'sig' });

async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  for (let i = 0; i < ms / 50 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(condition()).toBe(true);
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}
async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(base + path, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('generated gateway: rate limits, quota tiers and authentication, over real sockets', () => {
  let dir = '';
  let out = '';
  let configFile = '';
  const app = new Backend('app');
  const jwks = new JwksServer();
  let env: Record<string, string> = {};
  const started: GatewayProcess[] = [];
  const redisProcs: ChildProcess[] = [];

  /** config.json with the JWKS URL of this test (and what else `edit` changes), as GWGEN_CONFIG. */
  const config = (name: string, edit: (c: { gateway: { name: string }; routes: { auth?: { jwksUri?: string } }[] }) => void = () => undefined) => {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Parameters<typeof edit>[0];
    edit(c);
    const file = join(out, `${name}.json`);
    writeFileSync(file, JSON.stringify(c));
    return file;
  };
  const start = async (extra: Record<string, string> = {}) => {
    const gw = await startGateway(dir, { ...env, ...extra });
    started.push(gw);
    return gw;
  };
  const redisBin = redisServer();
  const startRedis = async (port: number, args: string[] = []) => {
    const p = await startRedisServer(port, args);
    redisProcs.push(p);
    return p;
  };

  beforeAll(async () => {
    ({ dir, out } = await buildGateway('test/fixtures/gateway/limits-auth.ttl'));
    await app.listen();
    const jwksUrl = await jwks.listen();
    jwks.keys = [jwkOf(rsa.publicKey, 'r1', 'RS256'), jwkOf(ec.publicKey, 'e1', 'ES256')];
    env = {
      GW_UPSTREAM_APP: app.url,
      ALICE_KEY: 'alice-key',
      BOB_KEY: 'bob-key',
      CAROL_KEY: 'carol-key',
      DAVE_KEY: 'dave-key',
      JWT_SECRET: SECRET,
    };
    configFile = config('jwks', (c) => {
      for (const r of c.routes) if (r.auth?.jwksUri) r.auth.jwksUri = jwksUrl;
    });
    env.GWGEN_CONFIG = configFile;
  });
  afterAll(async () => {
    for (const gw of started) await gw.stop('SIGKILL');
    for (const p of redisProcs) await stopRedis(p);
    await app.stop().catch(() => undefined);
    await jwks.close();
  });

  it('takes a burst on the shortest window, then refuses with 429 and headers that agree with each other', async () => {
    const gw = await start();
    // At once, so that no token comes back in between (2 a second).
    const sent = Date.now();
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(gw.url, '/burst')));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers.map((a) => a.headers.get('x-ratelimit-limit'))).toEqual(['5', '5', '5', '5', '5', '5']);
    expect(answers.map((a) => a.headers.get('x-ratelimit-remaining')).sort()).toEqual(['0', '0', '1', '2', '3', '4']);
    const refused = answers.find((a) => a.status === 429)!;
    expect(JSON.parse(refused.body)).toEqual({ error: 'rate limit exceeded', status: 429 });
    // 2 a second: one token back in 0.5 s (Retry-After, rounded up), the whole burst in 2.5 s (Reset).
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('x-ratelimit-reset')).toBe('3');
    // Tokens come back at 2 a second, no faster. The refusal left less than one token, at a
    // moment after `sent`; 1.1 s later at least two are back, and by the end of the next batch
    // at most 1 + 2 × (time since `sent`): bounds that hold however slow the machine is.
    await new Promise((r) => setTimeout(r, 1100));
    const again = await Promise.all(Array.from({ length: 6 }, () => get(gw.url, '/burst')));
    const ok = again.filter((a) => a.status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(2);
    expect(ok).toBeLessThanOrEqual(Math.floor(1 + (2 * (Date.now() - sent)) / 1000));
    for (const a of again) expect([200, 429]).toContain(a.status);
  });

  it('charges consumers of different tiers on one route at its cost (2.5), refuses a cost larger than what is left, and lets a consumer without a tier through', async () => {
    const gw = await start();
    const alice: Answer[] = [];
    for (let i = 0; i < 3; i++) alice.push(await get(gw.url, '/keyed', { 'x-key': 'alice-key' }));
    // 6 a minute: 3.5 left, then 1; 1 < 2.5 is refused, and 1.5 tokens come back in 15 s.
    expect(alice.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(alice.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['3', '1', '1']);
    expect(alice[2]!.headers.get('retry-after')).toBe('15');
    // bob's monthly quota of 3 holds one request at 2.5, not two; Retry-After is the next month (UTC).
    const bob = [await get(gw.url, '/keyed', { 'x-key': 'bob-key' }), await get(gw.url, '/keyed', { 'x-key': 'bob-key' })];
    expect(bob.map((a) => a.status)).toEqual([200, 429]);
    expect(JSON.parse(bob[1]!.body).error).toBe('monthly quota exceeded');
    const now = new Date();
    const nextMonth = (Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime()) / 1000;
    expect(Math.abs(Number(bob[1]!.headers.get('retry-after')) - nextMonth)).toBeLessThan(5);
    for (let i = 0; i < 8; i++) expect((await get(gw.url, '/keyed', { 'x-key': 'carol-key' })).status).toBe(200);
  });

  /**
   * alice's tier admits 6 a minute, bob's monthly quota 3 requests: the requests these refuse must
   * leave /pooled's global 10 a minute alone, so that carol (no tier) gets the 1 left.
   */
  async function pooledBudget(gw: GatewayProcess): Promise<void> {
    const statuses = async (key: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await get(gw.url, '/pooled', { 'x-key': key })).status);
      return out;
    };
    expect(await statuses('alice-key', 12)).toEqual([...Array(6).fill(200), ...Array(6).fill(429)]);
    expect(await statuses('bob-key', 6)).toEqual([200, 200, 200, 429, 429, 429]);
    const carol = [await get(gw.url, '/pooled', { 'x-key': 'carol-key' }), await get(gw.url, '/pooled', { 'x-key': 'carol-key' })];
    expect(carol.map((a) => a.status)).toEqual([200, 429]);
    expect(carol.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['0', '0']);
  }

  it("charges a route's shared budget only for requests the consumer's own budgets admit: a consumer over its tier or monthly quota cannot use up a global limit the others share", async () => {
    await pooledBudget(await start());
  });

  /** Requests at a cost of 0.1 against dave's monthly quota of 2: exactly 20 go through. */
  async function tenths(base: string): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await get(base, '/tenth', { 'x-key': 'dave-key' })).status);
    return statuses;
  }

  it('adds fractional costs up exactly: 20 requests at 0.1 use a monthly quota of 2, not 19', async () => {
    const gw = await start();
    const statuses = await tenths(gw.url);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429]);
  });

  it('answers a request without credentials with the bare Bearer challenge (RFC 6750 §3.1), a bad token with invalid_token, a missing scope with 403 insufficient_scope', async () => {
    const gw = await start();
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer ' }] as Record<string, string>[]) {
      const a = await get(gw.url, '/hs', headers);
      expect(a.status).toBe(401);
      expect(a.headers.get('www-authenticate')).toBe('Bearer realm="limits-auth"');
    }
    const bad = await get(gw.url, '/hs', { authorization: 'Bearer abc.def.ghi' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm="limits-auth", error="invalid_token", error_description="[^"]+"$/);
    const expired = await get(gw.url, '/hs', { authorization: `Bearer ${jwt('HS256', SECRET, { scope: 'read', exp: Math.floor(Date.now() / 1000) - 5 })}` });
    expect(expired.headers.get('www-authenticate')).toContain('error_description="token expired"');
    const scope = await get(gw.url, '/hs', { authorization: `Bearer ${jwt('HS256', SECRET, { scope: 'write' })}` });
    expect(scope.status).toBe(403);
    expect(scope.headers.get('www-authenticate')).toBe('Bearer realm="limits-auth", error="insufficient_scope", scope="read"');
  });

  it('verifies HS256 and JWKS tokens strictly: allow-list (none, alg confusion, ES256 for RS256), iss, aud, exp, nbf with tolerance, scope and scp', async () => {
    const gw = await start({ GW_JWT_CLOCK_TOLERANCE_SECONDS: '30' });
    const status = async (path: string, token: string, scheme = 'Bearer') => (await get(gw.url, path, { authorization: `${scheme} ${token}` })).status;
    const now = Math.floor(Date.now() / 1000);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read write' }))).toBe(200);
    expect(await status('/hs', jwt('HS256', SECRET, { scp: ['read'] }), 'bEaReR')).toBe(200);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', aud: ['other', 'api'] }))).toBe(200);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', exp: now - 10 }))).toBe(200); // within 30 s
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', exp: now - 60 }))).toBe(401);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', nbf: now + 10 }))).toBe(200);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', nbf: now + 120 }))).toBe(401);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', iss: 'https://evil.example' }))).toBe(401);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', aud: 'other' }))).toBe(401);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read', exp: undefined }))).toBe(401);
    expect(await status('/hs', jwt('HS256', 'another secret', { scope: 'read' }))).toBe(401);
    expect(await status('/hs', jwt('none', undefined, { scope: 'read' }))).toBe(401);
    expect(await status('/hs', jwt('HS256', SECRET, { scope: 'read' }).slice(0, -3) + 'AAA')).toBe(401);

    expect(await status('/rs', jwt('RS256', rsa.privateKey, {}, { kid: 'r1' }))).toBe(200);
    expect(await status('/rs', jwt('ES256', ec.privateKey, {}, { kid: 'e1' }))).toBe(401);
    expect(await status('/es', jwt('ES256', ec.privateKey, { scope: 'read write' }, { kid: 'e1' }))).toBe(200);
    expect(await status('/es', jwt('ES256', ec.privateKey, { scope: 'read' }, { kid: 'e1' }))).toBe(403);
    expect(await status('/es', jwt('RS256', rsa.privateKey, { scope: 'read write' }, { kid: 'r1' }))).toBe(401);
    // The classic confusion: HS256 "signed" with the RSA public key, on an RS256 route and on one that takes both.
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(await status('/rs', jwt('HS256', pem, {}, { kid: 'r1' }))).toBe(401);
    expect(await status('/mixed', jwt('HS256', pem, {}, { kid: 'r1' }))).toBe(401);
    expect(await status('/mixed', jwt('HS256', SECRET, {}))).toBe(200);
    expect(await status('/mixed', jwt('RS256', rsa.privateKey, {}, { kid: 'r1' }))).toBe(200);
    // Three routes name one JWKS: fetched once.
    expect(jwks.fetches).toBe(1);
  });

  it('fetches a JWKS that is down once per retry period (not once per token), takes it when it is back, and keeps its keys while it is down again', async () => {
    const before = jwks.fetches;
    jwks.behaviour = 'down';
    const gw = await start({ GW_JWKS_CACHE_SECONDS: '1' });
    const token = jwt('RS256', rsa.privateKey, {}, { kid: 'r1' });
    const refused = await Promise.all(Array.from({ length: 5 }, () => get(gw.url, '/rs', { authorization: `Bearer ${token}` })));
    for (let i = 0; i < 5; i++) refused.push(await get(gw.url, '/rs', { authorization: `Bearer ${token}` }));
    expect(refused.map((a) => a.status)).toEqual(Array(10).fill(401));
    expect(refused[9]!.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(jwks.fetches - before).toBe(1);
    await until(() => gw.stderr().includes('could not be fetched'));
    jwks.behaviour = 'ok';
    await new Promise((r) => setTimeout(r, 5100));
    expect((await get(gw.url, '/rs', { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(gw.stderr()).toContain('fetched again');
    // Down again, and the keys are past GW_JWKS_CACHE_SECONDS: new tokens still verify with them.
    jwks.behaviour = 'down';
    await new Promise((r) => setTimeout(r, 1100));
    for (let i = 0; i < 3; i++) expect((await get(gw.url, '/rs', { authorization: `Bearer ${jwt('RS256', rsa.privateKey, { n: i }, { kid: 'r1' })}` })).status).toBe(200);
    jwks.behaviour = 'ok';
  }, 30_000);

  it('takes a rotated-in key: a token with a key id it does not hold fetches the JWKS again, at most every 30 s', async () => {
    jwks.keys = [jwkOf(rsa.publicKey, 'r1', 'RS256')];
    const gw = await start();
    const before = jwks.fetches;
    const status = async (kid: string, key: KeyObject) => (await get(gw.url, '/rs', { authorization: `Bearer ${jwt('RS256', key, { kid }, { kid })}` })).status;
    expect(await status('r1', rsa.privateKey)).toBe(200);
    const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
    jwks.keys = [jwkOf(rsa.publicKey, 'r1', 'RS256'), jwkOf(rotated.publicKey, 'r2', 'RS256')];
    // Fetched a moment ago: an unknown key id does not fetch again yet (no fetch per forged kid).
    expect(await status('r2', rotated.privateKey)).toBe(401);
    expect(await status('zz', rotated.privateKey)).toBe(401);
    expect(jwks.fetches - before).toBe(1);
    await new Promise((r) => setTimeout(r, 30_500));
    expect(await status('r2', rotated.privateKey)).toBe(200);
    expect(await status('zz', rotated.privateKey)).toBe(401);
    expect(jwks.fetches - before).toBe(2);
    jwks.keys = [jwkOf(rsa.publicKey, 'r1', 'RS256'), jwkOf(ec.publicKey, 'e1', 'ES256')];
  }, 60_000);

  describe.skipIf(!redisBin && !process.env.CI)('with Redis', () => {
    it("gives a Redis budget back the tokens of a request a consumer's tier or quota refuses, as the local one", async () => {
      const port = await freePort();
      await startRedis(port);
      const gw = await start({ REDIS_URL: `redis://127.0.0.1:${port}` });
      await until(() => gw.stderr().includes('redis reachable'));
      await pooledBudget(gw);
    });

    it('shares one budget between two gateway processes, exactly, under concurrent requests', async () => {
      const port = await freePort();
      await startRedis(port);
      const url = `redis://127.0.0.1:${port}`;
      const a = await start({ REDIS_URL: url });
      const b = await start({ REDIS_URL: url });
      await until(() => a.stderr().includes('redis reachable') && b.stderr().includes('redis reachable'));
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(i % 2 ? b.url : a.url, '/shared')));
      expect(answers.filter((x) => x.status === 200)).toHaveLength(6);
      const remaining = answers.filter((x) => x.status === 200).map((x) => x.headers.get('x-ratelimit-remaining')).sort();
      expect(remaining).toEqual(['0', '1', '2', '3', '4', '5']);
      // The monthly quota too: 20 requests at 0.1 for dave, through both.
      const statuses: number[] = [];
      for (let i = 0; i < 22; i++) statuses.push((await get(i % 2 ? b.url : a.url, '/tenth', { 'x-key': 'dave-key' })).status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    });

    it('keeps the budgets of two gateways (two models) apart in one Redis, whose URL has a password and a database', async () => {
      const port = await freePort();
      await startRedis(port, ['--requirepass', 's3cret']);
      const url = `redis://:s3cret@127.0.0.1:${port}/3`;
      const other = config('other', (c) => {
        c.gateway.name = 'other-gateway';
        for (const r of c.routes) if (r.auth?.jwksUri) r.auth.jwksUri = 'http://127.0.0.1:9/jwks.json';
      });
      const a = await start({ REDIS_URL: url });
      const b = await start({ REDIS_URL: url, GWGEN_CONFIG: other });
      await until(() => a.stderr().includes('redis reachable') && b.stderr().includes('redis reachable'));
      for (let i = 0; i < 6; i++) expect((await get(a.url, '/shared')).status).toBe(200);
      expect((await get(a.url, '/shared')).status).toBe(429);
      expect((await get(b.url, '/shared')).status).toBe(200);
      const keys = execFileSync('redis-cli', ['-p', String(port), '-a', 's3cret', '--no-auth-warning', '-n', '3', '--scan'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
      expect(keys).toEqual(['gw:limits-auth:rl:shared:*', 'gw:other-gateway:rl:shared:*']);
    });

    it('counts locally while Redis is down at start, lost, or lost only for a moment, says so, and shares again once it is back', async () => {
      const port = await freePort();
      const url = `redis://127.0.0.1:${port}`;
      const gw = await start({ REDIS_URL: url });
      await until(() => gw.stderr().includes('redis unreachable'));
      const t0 = performance.now();
      for (let i = 0; i < 6; i++) expect((await get(gw.url, '/shared')).status).toBe(200);
      expect((await get(gw.url, '/shared')).status).toBe(429);
      expect(performance.now() - t0).toBeLessThan(2000);
      let redis = await startRedis(port);
      await until(() => gw.stderr().includes('redis reachable'));
      // Counted in Redis now: a fresh shared budget, and its key.
      expect((await get(gw.url, '/shared')).status).toBe(200);
      expect(execFileSync('redis-cli', ['-p', String(port), '--scan'], { encoding: 'utf8' })).toContain('gw:limits-auth:rl:shared:*');
      // Lost for a moment: back before the first reconnect (200 ms later) fails; said all the same.
      const lines = () => gw.stderr().split('\n').filter((l) => l.includes('redis unreachable')).length;
      await stopRedis(redis);
      redis = await startRedis(port);
      await until(() => lines() === 2);
      await until(() => gw.stderr().split('\n').filter((l) => l.includes('redis reachable')).length === 2);
      // Lost for good: every request answered at once, counted locally.
      await stopRedis(redis);
      const t1 = performance.now();
      for (let i = 0; i < 3; i++) expect([200, 429]).toContain((await get(gw.url, '/shared')).status);
      expect(performance.now() - t1).toBeLessThan(1000);
      await until(() => lines() >= 3);
    }, 60_000);
  });
});
