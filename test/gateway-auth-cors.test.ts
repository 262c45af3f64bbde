import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, buildGateway, freePort, JwksServer, startGateway, type GatewayProcess } from './gateway-helpers.js';

/**
 * The generated gateway's authentication and CORS as an outside client sees them (model:
 * test/fixtures/gateway/auth-cors.ttl): tokens minted with jose (the gateway's own copy, loaded
 * from the shared dependencies), a JWKS server of the test's own, browsers' preflights and
 * caches. Complements test/gateway-limits-auth.test.ts (allow-list, claims, JWKS down, rotation).
 */

interface Signer {
  setProtectedHeader(header: Record<string, unknown>): Signer;
  setIssuer(iss: string): Signer;
  setAudience(aud: string | string[]): Signer;
  setExpirationTime(exp: number): Signer;
  sign(key: unknown): Promise<string>;
}
interface Jose {
  SignJWT: new (payload: Record<string, unknown>) => Signer;
  generateKeyPair(alg: string, options: { extractable: boolean }): Promise<{ publicKey: unknown; privateKey: unknown }>;
  exportJWK(key: unknown): Promise<Record<string, unknown>>;
}

const ISS = 'https://id.example';
const SECRET = 'auth-cors-hs256-secret-of-32-bytes!!';
const ALLOWED = 'https://app.example';


interface Answer {
  status: number;
  headers: Headers;
  body: string;
  ms: number;
}
async function send(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const start = performance.now();
  const res = await fetch(base + path, init);
  return { status: res.status, headers: res.headers, body: await res.text(), ms: performance.now() - start };
}
const preflight = (base: string, path: string, origin: string, method: string, headers?: string) =>
  send(base, path, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, ...(headers !== undefined ? { 'access-control-request-headers': headers } : {}) },
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('generated gateway: authentication and CORS as browsers and token issuers meet them (auth-cors model)', () => {
  let dir = '';
  let jose: Jose;
  const app = new Backend('app');
  const jwks = new JwksServer();
  let env: Record<string, string> = {};
  const started: GatewayProcess[] = [];
  const start = async (extra: Record<string, string> = {}) => {
    const gw = await startGateway(dir, { ...env, ...extra });
    started.push(gw);
    return gw;
  };
  const now = () => Math.floor(Date.now() / 1000);
  const token = (alg: string, key: unknown, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, aud: string | string[] = 'api') =>
    new jose.SignJWT({ scope: 'orders:read orders:write', ...claims })
      .setProtectedHeader({ alg, ...header })
      .setIssuer(ISS)
      .setAudience(aud)
      .setExpirationTime(now() + 300)
      .sign(key);
  const hs = (claims: Record<string, unknown> = {}, aud: string | string[] = 'api') => token('HS256', new TextEncoder().encode(SECRET), claims, {}, aud);
  const bearer = (t: string, scheme = 'Bearer ') => ({ authorization: scheme + t });

  beforeAll(async () => {
    const built = await buildGateway('test/fixtures/gateway/auth-cors.ttl');
    dir = built.dir;
    jose = (await import(pathToFileURL(join(built.deps, 'node_modules/jose/dist/webapi/index.js')).href)) as Jose;
    await app.listen();
    const jwksUrl = await jwks.listen();
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { routes: { auth?: { jwksUri?: string } }[] };
    for (const r of config.routes) if (r.auth?.jwksUri) r.auth.jwksUri = jwksUrl;
    const configFile = join(built.out, 'jwks.json');
    writeFileSync(configFile, JSON.stringify(config));
    env = {
      GWGEN_CONFIG: configFile,
      GW_UPSTREAM_APP: app.url,
      GW_UPSTREAM_GONE: `http://127.0.0.1:${await freePort()}`,
      HS_SECRET: SECRET,
      ALICE_KEY: 'alice-key',
      BOB_KEY: 'bob-key',
    };
  });
  afterAll(async () => {
    for (const gw of started) await gw.stop('SIGKILL');
    await app.stop();
    await jwks.close();
  });

  it('reads bearer tokens as RFC 6750 and the IdPs write them: any audience of several, aud as an array, scopes as a string or a permissions array, every required scope', async () => {
    const gw = await start();
    const status = async (headers: Record<string, string>) => (await send(gw.url, '/hs', { method: 'POST', headers })).status;
    // Each token its own subject: the route's limit (3 a minute per consumer, else per subject) stays out of the way.
    let n = 0;
    const sub = () => ({ sub: `user-${n++}` });
    expect(await status(bearer(await hs(sub(), 'api2')))).toBe(200);
    expect(await status(bearer(await hs(sub(), ['other', 'api'])))).toBe(200);
    expect(await status(bearer(await hs(sub(), ['other', 'elsewhere'])))).toBe(401);
    expect(await status(bearer(await hs({ ...sub(), scope: undefined, permissions: ['orders:write', 'orders:read'] })))).toBe(200);
    expect(await status(bearer(await hs({ ...sub(), scope: undefined, permissions: ['orders:read'] })))).toBe(403);
    expect(await status(bearer(await hs({ ...sub(), scope: 'orders:write' })))).toBe(403);
    expect(await status(bearer(await hs(sub()), 'bearer '))).toBe(200);
    expect(await status(bearer(`${await hs(sub())}   `, 'Bearer    '))).toBe(200);
    // Not a bearer token: no scheme, or another one.
    expect(await status({ authorization: await hs(sub()) })).toBe(401);
    expect(await status(bearer(await hs(sub()), 'Token '))).toBe(401);
    // A token for HS384 (not in agw:algorithm) with a key of the right size for it.
    const hs384 = await token('HS384', new Uint8Array(48).fill(7), sub());
    const refused = await send(gw.url, '/hs', { headers: bearer(hs384) });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({ error: 'invalid token', status: 401 });
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="auth-cors", error="invalid_token", error_description="invalid token"');
  });

  it("counts limitBy consumer and quota tiers by the consumer a token or an API key names (client_id, else sub), the key header's name in any case", async () => {
    const gw = await start();
    const hsStatus = async (claims: Record<string, unknown>) => (await send(gw.url, '/hs', { headers: bearer(await hs(claims)) })).status;
    // alice's tier (2 a minute) is stricter than the route's 3: her third request is refused, whichever token names her.
    expect([await hsStatus({ client_id: 'alice', sub: 'u1' }), await hsStatus({ sub: 'alice' }), await hsStatus({ client_id: 'alice', sub: 'u2' })]).toEqual([200, 200, 429]);
    // bob has no tier: the route's 3 a minute, his own.
    expect([await hsStatus({ client_id: 'bob' }), await hsStatus({ client_id: 'bob' }), await hsStatus({ client_id: 'bob' }), await hsStatus({ client_id: 'bob' })]).toEqual([200, 200, 200, 429]);
    // The same tier budget on another route, by API key: alice's is spent.
    expect((await send(gw.url, '/tiered', { headers: { 'X-API-TOKEN': 'alice-key' } })).status).toBe(429);
    const bob = await send(gw.url, '/tiered', { headers: { 'x-api-token': 'bob-key' } });
    expect(bob.status).toBe(200);
    expect((JSON.parse(bob.body) as { headers: Record<string, string> }).headers['x-consumer-name']).toBe('bob');
    expect((JSON.parse(bob.body) as { headers: Record<string, string> }).headers['x-api-token']).toBeUndefined();
  });

  it('refuses API keys that are empty, repeated or whose consumer has no key in the environment, and says so at start', async () => {
    const gw = await start({ GHOST_KEY: '' });
    expect(gw.stderr()).toContain('GHOST_KEY is empty: consumer ghost cannot authenticate');
    const status = async (headers: [string, string][]) => (await send(gw.url, '/tiered', { headers })).status;
    expect(await status([['x-api-token', '']])).toBe(401);
    expect(await status([['x-api-token', 'bob-key'], ['x-api-token', 'bob-key']])).toBe(401);
    expect(await status([['x-api-key', 'bob-key']])).toBe(401);
    expect(await status([['x-api-token', 'bob-key']])).toBe(200);
    const missing = await send(gw.url, '/tiered');
    expect(missing.headers.get('www-authenticate')).toBe('ApiKey realm="auth-cors", header="x-api-token"');
    expect(JSON.parse(missing.body)).toEqual({ error: 'missing API key', status: 401 });
  });

  it("takes an API key from a file's Secret without its final newline, and says when two consumers' keys are the same", async () => {
    const gw = await start({ BOB_KEY: 'bob-key\n', ALICE_KEY: 'bob-key' });
    expect(gw.stderr()).toContain("BOB_KEY has whitespace around the key (a newline from a file?), which a header cannot carry: consumer bob's key is used without it");
    // Consumers are taken in name order: alice's key comes first, bob's copy of it is refused.
    expect(gw.stderr()).toContain("BOB_KEY holds the same key as consumer alice's: requests with it count as alice, consumer bob cannot authenticate");
    const answer = await send(gw.url, '/tiered', { headers: { 'x-api-token': 'bob-key' } });
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { headers: Record<string, string> }).headers['x-consumer-name']).toBe('alice');
    const secret = await start({ HS_SECRET: `${SECRET}\n` });
    expect(secret.stderr()).toContain('HS_SECRET has whitespace around the secret (a newline from a file?): it is part of the HS256 key');
    expect((await send(secret.url, '/hs', { headers: bearer(await token('HS256', new TextEncoder().encode(`${SECRET}\n`), { sub: 'x' })) })).status).toBe(200);
    expect((await send(secret.url, '/hs', { headers: bearer(await hs({ sub: 'x' })) })).status).toBe(401);
  });

  it('says at start whether the HS256 secret is unset or empty, and refuses HS256 tokens then with 401 invalid_token', async () => {
    const empty = await start({ HS_SECRET: '' });
    expect(empty.stderr()).toContain('HS_SECRET is empty: HS256 tokens of https://id.example are refused');
    const unset = await start({ HS_SECRET: undefined as unknown as string });
    expect(unset.stderr()).toContain('HS_SECRET is not set: HS256 tokens of https://id.example are refused');
    // A short secret is used, with a warning; a long enough one (the other gateways') is not warned about.
    const short = await start({ HS_SECRET: 'sécret' });
    expect(short.stderr()).toContain('HS_SECRET holds 7 bytes: an HS256 secret should have at least 32 (RFC 7518 §3.2)');
    expect((await send(short.url, '/hs', { headers: bearer(await token('HS256', new TextEncoder().encode('sécret'), { sub: 'x' })) })).status).toBe(200);
    for (const gw of [empty, unset]) expect(gw.stderr()).not.toContain('an HS256 secret should have');
    const a = await send(empty.url, '/hs', { headers: bearer(await hs({ sub: 'x' })) });
    expect(a.status).toBe(401);
    expect(a.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  /**
   * A JWKS with two RS256 keys without `kid` (a rotation, or an issuer that names no key) and an
   * ES256 key named e1, and a gateway verifying against it; `status` sends a token to /jwks.
   */
  const twoUnnamedKeys = async () => {
    const one = await jose.generateKeyPair('RS256', { extractable: true });
    const two = await jose.generateKeyPair('RS256', { extractable: true });
    const ec = await jose.generateKeyPair('ES256', { extractable: true });
    jwks.keys = [
      { ...(await jose.exportJWK(one.publicKey)), alg: 'RS256', use: 'sig' },
      { ...(await jose.exportJWK(two.publicKey)), alg: 'RS256', use: 'sig' },
      { ...(await jose.exportJWK(ec.publicKey)), kid: 'e1', alg: 'ES256', use: 'sig' },
    ];
    const gw = await start();
    const status = async (t: string) => (await send(gw.url, '/jwks', { headers: bearer(t) })).status;
    return { one, two, ec, gw, status };
  };

  it('verifies a token without a key id against each key of its algorithm in the JWKS (two during a rotation), as Envoy does', async () => {
    const { one, two, ec, gw, status } = await twoUnnamedKeys();
    expect(await status(await token('RS256', one.privateKey))).toBe(200);
    expect(await status(await token('RS256', two.privateKey))).toBe(200);
    expect(await status(await token('ES256', ec.privateKey, {}, { kid: 'e1' }))).toBe(200);
    const stranger = await jose.generateKeyPair('RS256', { extractable: true });
    expect(await status(await token('RS256', stranger.privateKey))).toBe(401);
    // Signed by one of the keys, but expired: said so, not "invalid".
    const expired = await new jose.SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer(ISS).setAudience('api').setExpirationTime(now() - 60).sign(two.privateKey);
    const a = await send(gw.url, '/jwks', { headers: bearer(expired) });
    expect(a.status).toBe(401);
    expect(a.headers.get('www-authenticate')).toContain('error_description="token expired"');
  });

  it('verifies a token that names a key id with the JWKS keys that name none, as Envoy does; a key id the JWKS names still picks that key alone', async () => {
    const { one, two, ec, status } = await twoUnnamedKeys();
    // The issuer names its keys in its tokens (a thumbprint, say), its JWKS does not.
    expect(await status(await token('RS256', one.privateKey, {}, { kid: 'thumb-1' }))).toBe(200);
    expect(await status(await token('RS256', two.privateKey, {}, { kid: 'thumb-2' }))).toBe(200);
    // Only the keys without a kid stand in: a kid the JWKS names is that key, and nothing else verifies for it.
    const stranger = await jose.generateKeyPair('ES256', { extractable: true });
    expect(await status(await token('ES256', stranger.privateKey, {}, { kid: 'e1' }))).toBe(401);
    expect(await status(await token('ES256', stranger.privateKey, {}, { kid: 'e2' }))).toBe(401);
    expect(await status(await token('ES256', ec.privateKey, {}, { kid: 'e1' }))).toBe(200);
    const rsaStranger = await jose.generateKeyPair('RS256', { extractable: true });
    expect(await status(await token('RS256', rsaStranger.privateKey, {}, { kid: 'thumb-3' }))).toBe(401);
  });

  it('follows no redirect of a JWKS URL, and says where it leads', async () => {
    const key = await jose.generateKeyPair('ES256', { extractable: true });
    jwks.keys = [{ ...(await jose.exportJWK(key.publicKey)), kid: 'r1', alg: 'ES256', use: 'sig' }];
    jwks.behaviour = 'redirect';
    try {
      const gw = await start();
      const a = await send(gw.url, '/jwks', { headers: bearer(await token('ES256', key.privateKey, {}, { kid: 'r1' })) });
      expect(a.status).toBe(401);
      expect(gw.stderr()).toContain('HTTP 302, a redirect to https://keys.example/jwks.json, which the gateway does not follow: name that URL in agw:jwksUri');
    } finally {
      jwks.behaviour = 'ok';
    }
  });

  it('verifies new tokens with the keys at hand while a JWKS that has grown old hangs, and waits for that fetch for a key id it does not hold', async () => {
    const old = await jose.generateKeyPair('ES256', { extractable: true });
    const next = await jose.generateKeyPair('ES256', { extractable: true });
    jwks.behaviour = 'ok';
    jwks.keys = [{ ...(await jose.exportJWK(old.publicKey)), kid: 'old', alg: 'ES256', use: 'sig' }];
    const gw = await start({ GW_JWKS_CACHE_SECONDS: '1' });
    const get = async (key: unknown, kid: string, n: number) => send(gw.url, '/jwks', { headers: bearer(await token('ES256', key, { n }, { kid })) });
    expect((await get(old.privateKey, 'old', 0)).status).toBe(200);
    await sleep(1100);
    // The JWKS now takes longer than its 5 s time limit: the keys of the last fetch serve meanwhile.
    jwks.behaviour = 'hang';
    const before = jwks.fetches;
    for (let n = 1; n <= 3; n++) {
      const a = await get(old.privateKey, 'old', n);
      expect(a.status).toBe(200);
      expect(a.ms).toBeLessThan(1000);
    }
    expect(jwks.fetches - before).toBe(1);
    // The hung fetch gives up after 5 s, and the next may start 5 s after that.
    await sleep(11_000);
    expect(jwks.fetches - before).toBe(1);
    // The next fetch answers, with a key id rotated in: the token carrying it waits for that fetch.
    jwks.behaviour = 'ok';
    jwks.keys.push({ ...(await jose.exportJWK(next.publicKey)), kid: 'next', alg: 'ES256', use: 'sig' });
    expect((await get(next.privateKey, 'next', 4)).status).toBe(200);
    expect(gw.stderr()).toContain('could not be fetched');
  }, 40_000);

  it('answers preflights without credentials, by the route-level policy where there is one, and refuses an origin or method the policy does not name', async () => {
    const gw = await start();
    // /hs needs a token; the preflight carries none and gets the gateway-wide policy.
    const ok = await preflight(gw.url, '/hs', ALLOWED, 'POST', 'authorization, content-type');
    expect(ok.status).toBe(204);
    expect(Object.fromEntries([...ok.headers].filter(([k]) => k.startsWith('access-control-')))).toEqual({
      'access-control-allow-origin': ALLOWED,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'Authorization, Content-Type, X-Api-Token',
      'access-control-max-age': '600',
    });
    expect(ok.headers.get('vary')).toContain('Origin');
    for (const [origin, method, message] of [
      ['https://evil.example', 'POST', 'CORS origin not allowed'],
      ['https://app.example.evil.example', 'GET', 'CORS origin not allowed'],
      [ALLOWED, 'DELETE', 'CORS method not allowed'],
    ] as const) {
      const no = await preflight(gw.url, '/hs', origin, method);
      expect(no.status, `${origin} ${method}`).toBe(403);
      expect(JSON.parse(no.body)).toEqual({ error: message, status: 403 });
      expect(no.headers.get('access-control-allow-origin')).toBeNull();
      // A refusal depends on the origin and the method asked as much as an answer does.
      expect(no.headers.get('vary')).toBe('Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    }
    // /key overrides it: any origin, no credentials (so "*", never the origin with credentials), the requested headers as asked, 60 s.
    const any = await preflight(gw.url, '/key', 'https://anyone.example', 'GET', 'X-Api-Token');
    expect(any.status).toBe(204);
    expect(any.headers.get('access-control-allow-origin')).toBe('*');
    expect(any.headers.get('access-control-allow-credentials')).toBeNull();
    expect(any.headers.get('access-control-allow-headers')).toBe('X-Api-Token');
    expect(any.headers.get('access-control-max-age')).toBe('60');
    expect((await preflight(gw.url, '/key', 'https://anyone.example', 'POST')).status).toBe(403);
    // Not a preflight (no Access-Control-Request-Method): an OPTIONS the route does not take.
    expect((await send(gw.url, '/hs', { method: 'OPTIONS', headers: { origin: ALLOWED } })).status).toBe(405);
  });

  it('puts CORS headers on the answers it makes itself (401, 403, 429, 502), exposing WWW-Authenticate and the rate-limit headers', async () => {
    const gw = await start();
    const origin = { origin: ALLOWED };
    const unauthorized = await send(gw.url, '/hs', { headers: origin });
    const forbidden = await send(gw.url, '/hs', { headers: { ...origin, ...bearer(await hs({ sub: 'cors', scope: 'orders:read' })) } });
    await send(gw.url, '/open', { headers: origin });
    const limited = await send(gw.url, '/open', { headers: origin });
    const unreachable = await send(gw.url, '/dead', { headers: origin });
    for (const [a, status] of [[unauthorized, 401], [forbidden, 403], [limited, 429], [unreachable, 502]] as const) {
      expect(a.status).toBe(status);
      expect(a.headers.get('access-control-allow-origin'), String(status)).toBe(ALLOWED);
      expect(a.headers.get('access-control-allow-credentials')).toBe('true');
      expect(a.headers.get('vary')).toBe('Origin');
      const exposed = a.headers.get('access-control-expose-headers')!.toLowerCase().split(/,\s*/);
      expect(exposed).toEqual(expect.arrayContaining(['www-authenticate', 'retry-after', 'x-ratelimit-remaining', 'x-quota-remaining']));
      expect(JSON.parse(a.body)).toMatchObject({ status });
    }
  });

  it('says Vary: Origin on every answer of a route whose CORS answer depends on the origin, also without an Origin or with one not allowed, so a cache cannot hand one origin\'s answer to another', async () => {
    const gw = await start();
    for (const headers of [{}, { origin: 'https://evil.example' }, { origin: ALLOWED }] as Record<string, string>[]) {
      const refused = await send(gw.url, '/hs', { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('vary'), JSON.stringify(headers)).toBe('Origin');
      const proxied = await send(gw.url, '/tiered', { headers: { ...headers, 'x-api-token': 'bob-key' } });
      expect(proxied.status).toBe(200);
      expect(proxied.headers.get('vary'), JSON.stringify(headers)).toBe('Origin');
      expect(proxied.headers.get('access-control-allow-origin')).toBe(headers.origin === ALLOWED ? ALLOWED : null);
    }
    // "*" without credentials is one answer for all: "*" also without an Origin, and nothing to vary by.
    for (const headers of [{}, { origin: 'https://anyone.example' }] as Record<string, string>[]) {
      const a = await send(gw.url, '/key', { headers });
      expect(a.status).toBe(401);
      expect(a.headers.get('access-control-allow-origin')).toBe('*');
      expect(a.headers.get('vary')).toBeNull();
    }
  });

  it("keeps what the backend exposes readable, and lets the route's policy alone say which origins may read: a backend's own Access-Control-Allow-Origin goes", async () => {
    const gw = await start();
    app.answerHeaders = ['Access-Control-Allow-Origin', '*', 'Access-Control-Allow-Credentials', 'true', 'Access-Control-Expose-Headers', 'X-Total-Count', 'X-Total-Count', '42'];
    try {
      const allowed = await send(gw.url, '/tiered', { headers: { origin: ALLOWED, 'x-api-token': 'bob-key' } });
      expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      const exposed = allowed.headers.get('access-control-expose-headers')!.split(/,\s*/);
      expect(exposed).toContain('X-Total-Count');
      expect(exposed).toContain('X-RateLimit-Remaining');
      const other = await send(gw.url, '/tiered', { headers: { origin: 'https://evil.example', 'x-api-token': 'bob-key' } });
      expect(other.status).toBe(200);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      expect(other.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      app.answerHeaders = [];
    }
  });
});
