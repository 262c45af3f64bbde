import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, buildGateway, startGateway, type GatewayProcess } from './gateway-helpers.js';

/**
 * CORS policies with `agw:allowHeader "*"` (model: test/fixtures/gateway/cors-wildcard.ttl), read
 * as a browser reads a preflight answer: the Fetch standard's CORS-preflight fetch (§4.8), whose
 * `*` in Access-Control-Allow-Headers never covers Authorization, nor any header of a request
 * with credentials.
 */

interface Signer {
  setProtectedHeader(header: Record<string, unknown>): Signer;
  setIssuer(iss: string): Signer;
  setAudience(aud: string): Signer;
  setExpirationTime(exp: number): Signer;
  sign(key: unknown): Promise<string>;
}
interface Jose {
  SignJWT: new (payload: Record<string, unknown>) => Signer;
}

const SECRET = 'cors-wildcard-hs256-secret-of-32-bytes';
const SHOP = 'https://shop.example';

/**
 * Why a browser would refuse this preflight answer for a request from `origin` with `headers`
 * (lower-case names), or undefined when it lets the request go: the checks of the Fetch
 * standard's CORS check and CORS-preflight fetch, steps for the origin, credentials and headers.
 */
function browserRefusal(res: Response, origin: string, headers: readonly string[], credentials: boolean): string | undefined {
  if (res.status < 200 || res.status > 299) return `status ${res.status}`;
  const allowOrigin = res.headers.get('access-control-allow-origin');
  if (allowOrigin !== (credentials ? origin : allowOrigin === '*' ? '*' : origin)) return `Access-Control-Allow-Origin ${allowOrigin}`;
  if (credentials && res.headers.get('access-control-allow-credentials') !== 'true') return 'no Access-Control-Allow-Credentials: true';
  const names = (res.headers.get('access-control-allow-headers') ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter(Boolean);
  for (const h of headers) {
    if (names.includes(h)) continue;
    if (h === 'authorization') return 'Authorization is not named (a `*` never covers it)';
    if (credentials || !names.includes('*')) return `${h} is not allowed (Access-Control-Allow-Headers: ${names.join(', ')})`;
  }
  return undefined;
}

describe('generated gateway: CORS with agw:allowHeader "*" as browsers read the preflight answer', () => {
  let dir = '';
  let jose: Jose;
  const app = new Backend('app');
  let gw: GatewayProcess;

  beforeAll(async () => {
    const built = await buildGateway('test/fixtures/gateway/cors-wildcard.ttl');
    dir = built.dir;
    jose = (await import(pathToFileURL(join(built.deps, 'node_modules/jose/dist/webapi/index.js')).href)) as Jose;
    await app.listen();
    gw = await startGateway(dir, { GW_UPSTREAM_APP: app.url, ORDERS_SECRET: SECRET, SHOP_KEY: 'shop-key' });
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    await app.stop();
  });

  const preflight = (path: string, origin: string, method: string, headers: readonly string[]) =>
    fetch(gw.url + path, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers.join(',') },
    });

  it('lets a page with credentials send a bearer token and a JSON body: the headers asked for are named, not `*`', async () => {
    const asked = ['authorization', 'content-type', 'x-cart-id'];
    const answer = await preflight('/orders', SHOP, 'POST', asked);
    expect(browserRefusal(answer, SHOP, asked, true)).toBeUndefined();
    expect(answer.headers.get('vary')).toContain('Access-Control-Request-Headers');

    const token = await new jose.SignJWT({ sub: 'page' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://id.shop.example')
      .setAudience('orders')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
      .sign(new TextEncoder().encode(SECRET));
    const res = await fetch(gw.url + '/orders', {
      method: 'POST',
      headers: { origin: SHOP, authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-cart-id': '7' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    await res.arrayBuffer();
    // Another origin is still refused, whatever headers it asks for.
    expect((await preflight('/orders', 'https://evil.example', 'POST', asked)).status).toBe(403);
  });

  it('lets a page without credentials send Authorization and its API key header to an any-origin route', async () => {
    const origin = 'https://partner.example';
    const asked = ['authorization', 'x-api-key', 'x-request-id'];
    const answer = await preflight('/catalog', origin, 'GET', asked);
    expect(browserRefusal(answer, origin, asked, false)).toBeUndefined();
    const res = await fetch(gw.url + '/catalog', { headers: { origin, 'x-api-key': 'shop-key', 'x-request-id': 'r1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    await res.arrayBuffer();
  });
});
