import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { format } from 'prettier';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type GatewayModel } from '../dist/index.js';
import { gwgen, ROOT } from './helpers.js';
import { gatewayChooser, kongChooser, show } from './route-choice.js';
import { KongTarget, type KongCheck } from './kong-health.js';
import { deckEnvOf, renderDeck } from './deck-render.js';
import { buildGateway, startGateway, type GatewayProcess } from './gateway-helpers.js';

const schema = JSON.parse(readFileSync(join(ROOT, 'test/schemas/kong-declarative.schema.json'), 'utf8'));
const validateKong = new Ajv({ allErrors: true, strict: true }).compile(schema);
const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ttl')).sort();
const KONG_EVERY_METHOD = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'];

interface KongDoc {
  _format_version: string;
  services: Array<{ name: string; host: string; port: number; protocol: string; retries: number; read_timeout?: number; connect_timeout?: number; write_timeout?: number; client_certificate?: string; tls_verify?: boolean; tags: string[]; routes: Array<{ name: string; paths: string[]; methods?: string[]; headers?: Record<string, string[]>; strip_path: boolean; regex_priority?: number; tags: string[]; plugins?: Array<{ name: string; config: Record<string, unknown>; tags: string[] }> }> }>;
  upstreams: Array<{ name: string; algorithm: string; tags: string[]; targets: Array<{ target: string; weight: number; tags: string[] }>; healthchecks?: { active?: { http_path: string }; passive?: { unhealthy: { http_failures: number } } } }>;
  consumers?: Array<{ username: string; tags: string[]; keyauth_credentials?: Array<{ key: string; tags: string[] }>; jwt_secrets?: Array<{ key: string; algorithm: string; secret: string; tags: string[] }>; plugins?: Array<{ name: string; config: Record<string, unknown> }> }>;
  plugins: Array<{ name: string; tags: string[]; route?: string; consumer?: string; config?: Record<string, unknown> }>;
  certificates?: Array<{ id: string; cert: string; key: string; tags: string[] }>;
}

/**
 * kong.yml as generated (`text`, `raw`) and as decK renders it (`doc`, what Kong loads), with
 * every DECK_ variable it reads set to "value of DECK_<name>".
 */
async function kongOf(model: string): Promise<{ text: string; raw: KongDoc; doc: KongDoc; model: GatewayModel; notes: string }> {
  const result = await generate({ models: [model.includes('/') ? model : join('examples', model)], targets: ['kong'], cwd: ROOT });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const text = result.files.find((f) => f.path === 'kong/kong.yml')!.content;
  const notes = result.files.find((f) => f.path === 'kong/NOTES.md')!.content;
  return { text, raw: parse(text) as KongDoc, doc: parse(renderDeck(text)) as KongDoc, model: result.model, notes };
}

describe.each(examples)('kong target: %s', (example) => {
  let k: Awaited<ReturnType<typeof kongOf>>;
  beforeAll(async () => {
    k = await kongOf(example);
  });

  it('is valid against the Kong declarative schema', () => {
    const ok = validateKong(k.doc);
    expect(validateKong.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('is one YAML document without anchors or aliases, already prettier-formatted', async () => {
    expect(parseAllDocuments(k.text)).toHaveLength(1);
    expect(k.text).not.toMatch(/[&*][A-Za-z0-9_-]+\s*$/m);
    expect(await format(k.text, { parser: 'yaml', printWidth: 120 })).toBe(k.text);
    expect(await format(k.notes, { parser: 'markdown', printWidth: 120, proseWrap: 'preserve' })).toBe(k.notes);
  });

  it('tags every entity', () => {
    const entities = [
      ...k.doc.services,
      ...k.doc.services.flatMap((s) => s.routes),
      ...k.doc.services.flatMap((s) => s.routes.flatMap((r) => r.plugins ?? [])),
      ...k.doc.upstreams,
      ...k.doc.upstreams.flatMap((u) => u.targets),
      ...(k.doc.consumers ?? []),
      ...(k.doc.consumers ?? []).flatMap((c) => [...(c.keyauth_credentials ?? []), ...(c.jwt_secrets ?? [])]),
      ...k.doc.plugins,
    ];
    for (const e of entities) expect((e as { tags: string[] }).tags, JSON.stringify(e)).toContain('gwgen');
  });

  it('has a service and route per model route with its path, methods, retries and timeout', () => {
    for (const route of k.model.routes) {
      const service = k.doc.services.find((s) => s.name === route.name)!;
      expect(service, route.name).toBeDefined();
      const kr = service.routes[0]!;
      // Every route lists methods (Kong ranks a route without them below all others): every method Kong names where the model gives none.
      expect(kr.methods).toEqual(route.methods.length === 0 ? KONG_EVERY_METHOD : route.methods);
      // A route with CORS and methods without OPTIONS: its preflights have a route of their own, with its cors plugin alone.
      const preflight = service.routes.find((r) => r.name === `${route.name}.cors_preflight`);
      if (route.cors && route.methods.length > 0 && !route.methods.includes('OPTIONS')) {
        expect(preflight, route.name).toMatchObject({ paths: kr.paths, methods: ['OPTIONS'], headers: { origin: ['~*^'], 'access-control-request-method': route.methods } });
        expect(preflight!.plugins).toEqual(kr.plugins!.filter((p) => p.name === 'cors'));
      } else expect(preflight, route.name).toBeUndefined();
      expect(kr.strip_path).toBe(route.stripPath);
      // Every path a regex, anchored at the start by Kong and ending at a segment boundary.
      const expectedPath = `~${route.path.replace(/\/$/, '').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}(?:/|$)`;
      expect(kr.paths).toEqual([route.path === '/' ? '~/' : expectedPath]);
      expect(service.retries).toBe(route.retry?.attempts ?? 0);
      // No try outlasts the whole request: the shorter of the per-try and the route timeout.
      const seconds = Math.min(route.retry?.perTryTimeoutSeconds ?? Infinity, route.timeoutSeconds ?? Infinity);
      if (seconds === Infinity) expect(service.read_timeout).toBeUndefined();
      else expect(service.read_timeout).toBe(Math.round(seconds * 1000));
      const plugins = (kr.plugins ?? []).map((p) => p.name);
      expect(plugins.includes('rate-limiting')).toBe(route.rateLimit !== undefined);
      expect(plugins.includes('jwt')).toBe(route.auth?.kind === 'jwt');
      expect(plugins.includes('key-auth')).toBe(route.auth?.kind === 'apiKey');
      expect(plugins.includes('ip-restriction')).toBe(route.ipRestriction !== undefined);
      expect(plugins.includes('cors')).toBe(route.cors !== undefined);
      const upstream = k.doc.upstreams.find((u) => u.name === service.host)!;
      expect(upstream, service.host).toBeDefined();
      if (route.circuitBreaker) expect(upstream.healthchecks?.passive?.unhealthy.http_failures).toBe(route.circuitBreaker.failureThreshold);
      const weighted = route.splits.filter((s) => s.weight !== undefined);
      if (weighted.length > 0) expect(upstream.targets.reduce((sum, t) => sum + t.weight, 0)).toBe(10000);
      for (const canary of route.splits.filter((s) => s.matchHeader)) {
        const cs = k.doc.services.find((s) => s.name === `${route.name}.${canary.service}`)!;
        expect(cs.routes[0]!.headers).toEqual({ [canary.matchHeader!.name]: [canary.matchHeader!.value] });
      }
    }
  });

  it("keeps secrets out: Kong takes a credential's key from the DECK_ variable decK renders it from, never from kong.yml's text", () => {
    for (const consumer of k.model.consumers.filter((c) => c.apiKeyEnv)) {
      if (!k.model.routes.some((r) => r.auth?.kind === 'apiKey')) continue;
      const kc = k.doc.consumers!.find((c) => c.username === consumer.name)!;
      expect(kc.keyauth_credentials![0]!.key).toBe(`value of DECK_${consumer.apiKeyEnv}`);
    }
    const credentials = (k.raw.consumers ?? []).flatMap((c) => [...(c.keyauth_credentials ?? []).map((x) => x.key), ...(c.jwt_secrets ?? []).map((x) => x.secret)]);
    for (const secret of credentials) expect(secret).toMatch(/^\$\{\{ env "DECK_[A-Z0-9_]+" \| printf "%q" \}\}$/);
  });

  it('authenticates every request Kong routes to an authenticated route, a plain OPTIONS too; preflights are answered by cors first', () => {
    // Kong's jwt and key-auth handlers return at once for any OPTIONS request when
    // run_on_preflight is false, so a plain OPTIONS would reach the backend without credentials.
    // The cors plugin (priority 2000) answers preflights before them (jwt 1450, key-auth 1250).
    for (const r of k.doc.services.flatMap((s) => s.routes)) {
      const plugins = r.plugins ?? [];
      const auth = plugins.filter((p) => p.name === 'jwt' || p.name === 'key-auth');
      for (const p of auth) expect(p.config.run_on_preflight, `${r.name} ${p.name}`).toBe(true);
      // Kong refuses a token without a claim listed in claims_to_verify; nbf is optional (RFC 7519).
      for (const p of plugins.filter((x) => x.name === 'jwt')) expect(p.config.claims_to_verify, r.name).toEqual(['exp']);
      if (plugins.some((x) => x.name === 'jwt')) expect(k.notes).toContain('## JWT nbf');
      if (auth.length > 0 && r.methods?.includes('OPTIONS')) {
        const cors = plugins.find((p) => p.name === 'cors');
        if (cors) expect(cors.config.preflight_continue).toBe(false);
      }
    }
  });

  it('has a global prometheus plugin', () => {
    expect(k.doc.plugins.map((p) => p.name)).toContain('prometheus');
  });
});

describe('kong target: OpenTelemetry', () => {
  it('sends spans to the collector endpoint + /v1/traces, or to the endpoint itself when it ends in /v1/traces (as the gateway does)', async () => {
    const endpoint = async (model: string) => (await kongOf(model)).doc.plugins.find((p) => p.name === 'opentelemetry')!.config!.traces_endpoint;
    expect(await endpoint('test/fixtures/valid/tiny-sampling-rate.ttl')).toBe('http://otel:4318/v1/traces');
    expect(await endpoint('test/fixtures/valid/collector-traces-url.ttl')).toBe('http://otel-collector:4318/v1/traces');
  });
});

describe('kong target: features the examples exercise', () => {
  it('a weighted 90/10 split becomes weighted targets in one upstream', async () => {
    const { doc } = await kongOf('mesh-shop.ttl');
    const service = doc.services.find((s) => s.name === 'catalog')!;
    const upstream = doc.upstreams.find((u) => u.name === service.host)!;
    expect(upstream.targets.map((t) => t.weight).sort((a, b) => b - a)).toEqual([9000, 1000]);
  });

  it('quota tiers become consumer-scoped rate limits with the monthly quota as `month`', async () => {
    const { doc, model } = await kongOf('metered-api.ttl');
    const free = model.consumers.find((c) => c.quotaTier?.monthlyQuota !== undefined)!;
    const kc = doc.consumers!.find((c) => c.username === free.name)!;
    const rl = kc.plugins!.find((p) => p.name === 'rate-limiting')!;
    expect(rl.config.month).toBe(free.quotaTier!.monthlyQuota);
    expect(rl.config.limit_by).toBe('consumer');
  });

  it('quota tiers are counted in the Redis the k8s target deploys, as the gateway counts them, never per Kong node', async () => {
    // With policy local every Kong node would grant a consumer its whole monthly quota, and a
    // restart would forget the month's count.
    const result = await generate({ models: ['examples/metered-api.ttl'], targets: ['kong', 'k8s'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const doc = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content) as KongDoc;
    const redisService = parseAllDocuments(result.files.find((f) => f.path === 'k8s/redis.yaml')!.content)
      .map((d) => d.toJSON() as { kind: string; metadata: { name: string } })
      .find((d) => d.kind === 'Service')!;
    const tiered = doc.consumers!.filter((c) => c.plugins?.some((p) => p.name === 'rate-limiting'));
    expect(tiered.length).toBeGreaterThan(0);
    for (const c of tiered) {
      const rl = c.plugins!.find((p) => p.name === 'rate-limiting')!;
      expect(rl.config, c.username).toMatchObject({ policy: 'redis', redis: { host: redisService.metadata.name, port: 6379 } });
    }
  });

  it("a key-auth route's own rate limit stays in force for consumers whose quota tier is laxer", async () => {
    // Kong runs the most specific rate-limiting plugin only: a consumer's (its tier) beats a
    // route's, so a consumer whose tier admits more gets the route's limit scoped to route +
    // consumer; one whose tier is at least as strict needs none.
    const { doc, model, notes } = await kongOf('metered-api.ttl');
    const inTier = (tier: string) => model.consumers.filter((c) => c.quotaTier?.name === tier).map((c) => c.name).sort();
    const scopedTo = (route: string) => doc.plugins.filter((p) => p.route === route).map((p) => p.consumer).sort();
    const own = (route: string) => doc.services.flatMap((s) => s.routes).find((r) => r.name === route)!.plugins!.find((p) => p.name === 'rate-limiting')!;
    // tiles: 200/s by consumer; free (10/s) and pro (50/s) stay within it, enterprise (500/s) does not.
    expect(scopedTo('tiles')).toEqual(inTier('enterprise'));
    // geocode: 20/s; only free stays within.
    expect(scopedTo('geocode')).toEqual([...inTier('pro'), ...inTier('enterprise')].sort());
    // batch-geocode: 30 a minute; every tier admits more (free: 10/s is up to 600 a minute).
    expect(scopedTo('batch-geocode')).toEqual([...inTier('free'), ...inTier('pro'), ...inTier('enterprise')].sort());
    // Each holds the consumer, in every window, to the stricter of the route's limit and its tier
    // (batch-geocode's 30 a minute and free's 1,000 a day and 10,000 a month), leaving out a window
    // a shorter one holds lower, with Kong's rule that a shorter window admits no more than a longer one.
    const windows = ['second', 'minute', 'hour', 'day', 'month'] as const;
    const seconds = { second: 1, minute: 60, hour: 3600, day: 86400, month: Infinity };
    for (const p of doc.plugins.filter((x) => x.route !== undefined)) {
      const route = model.routes.find((r) => r.name === p.route)!;
      const tier = model.consumers.find((c) => c.name === p.consumer)!.quotaTier!;
      const lowest = (w: (typeof windows)[number]) => {
        const given = w === 'month' ? [tier.monthlyQuota] : [route.rateLimit!.limits[w], tier.limits[w]];
        const defined = given.filter((n): n is number => n !== undefined);
        return defined.length > 0 ? Math.min(...defined) : undefined;
      };
      const kept: Record<string, number> = {};
      for (const w of windows) {
        const v = lowest(w);
        const implied = Math.min(...Object.entries(kept).map(([k, n]) => n * (seconds[w] / seconds[k as keyof typeof seconds])));
        if (v !== undefined && (w === 'month' || v < implied)) kept[w] = v;
      }
      const want: Record<string, number> = {};
      let cap = Infinity;
      for (const w of [...windows].reverse()) if (kept[w] !== undefined) cap = want[w] = Math.min(kept[w]!, cap);
      const config = p.config as Record<string, unknown>;
      expect(Object.fromEntries(windows.filter((w) => config[w] !== undefined).map((w) => [w, config[w]])), `${p.route} ${p.consumer}`).toEqual(want);
      const rest = (c: Record<string, unknown>) => Object.fromEntries(Object.entries(c).filter(([k]) => !(windows as readonly string[]).includes(k)));
      expect(rest(config)).toEqual(rest(own(p.route!).config as Record<string, unknown>));
    }
    expect(doc.plugins.find((p) => p.route === 'batch-geocode' && p.consumer === inTier('free')[0])!.config).toMatchObject({ minute: 30, hour: 500, day: 1000, month: 10000 });
    expect(notes).toContain('agw:hasQuotaTier on a rate-limited route');
  });

  it('a split to a service whose every instance is drained: its share goes to the other split in Kong, and NOTES.md says so', async () => {
    const { doc, notes } = await kongOfText(`ex:gw a agw:ApiGateway ; agw:gatewayName "edge" ; agw:hasRoute ex:r .
ex:a a agw:BackendService ; agw:serviceName "a" ; agw:hasInstance [ a agw:ServiceInstance ; agw:host "10.0.0.1" ; agw:port 9101 ; agw:weight 0 ] .
ex:b a agw:BackendService ; agw:serviceName "b" ; agw:host "10.0.0.2" ; agw:port 9102 .
ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/y" ; agw:hasTrafficSplit [ a agw:TrafficSplit ; agw:hasBackendService ex:a ; agw:weight 50 ], [ a agw:TrafficSplit ; agw:hasBackendService ex:b ; agw:weight 50 ] .
`);
    expect(doc.upstreams!.flatMap((u) => u.targets ?? []).map((t) => [t.target, t.weight])).toEqual([['10.0.0.1:9101', 0], ['10.0.0.2:9102', 5000]]);
    expect(notes).toContain('## agw:hasTrafficSplit to a drained service');
    expect(notes).toContain('Every instance of a has agw:weight 0: one Kong upstream holds the targets of all the weighted splits, so Kong sends that split\'s 50 % to the other splits');
  });

  it('a tier stricter in one window and laxer in another keeps both on a key-auth route with its own limit', async () => {
    const { doc } = await kongOfText(`ex:gw a agw:ApiGateway ; agw:gatewayName "edge-l" ; agw:hasRoute ex:r ; agw:hasConsumer ex:c .
ex:c a agw:Consumer ; agw:consumerName "c" ; agw:apiKeyEnv "C_KEY" ; agw:hasQuotaTier ex:t .
ex:t a agw:QuotaTier ; agw:tierName "mixed" ; agw:requestsPerMinute 10 .
ex:s a agw:BackendService ; agw:serviceName "s" .
ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasBackendService ex:s ; agw:hasAuthentication [ a agw:ApiKey ] ;
  agw:hasRateLimiter [ a agw:RateLimiter ; agw:requestsPerMinute 100 ; agw:requestsPerDay 200 ; agw:limitBy "consumer" ] .
`);
    const scoped = doc.plugins.filter((p) => p.route === 'r' && p.consumer === 'c');
    expect(scoped).toHaveLength(1);
    expect(scoped[0]!.config).toMatchObject({ minute: 10, day: 200, limit_by: 'consumer' });
  });

  it('mTLS to https services: one client certificate from the env vault, presented with tls_verify; http ones are noted', async () => {
    const { doc, text, notes } = await kongOf('test/fixtures/gateway/mtls.ttl');
    expect(validateKong(doc), JSON.stringify(validateKong.errors)).toBe(true);
    expect(doc.certificates).toHaveLength(1);
    const cert = doc.certificates![0]!;
    expect(cert).toMatchObject({ cert: '{vault://env/gw-mtls-cert}', key: '{vault://env/gw-mtls-key}' });
    expect(cert.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const byName = new Map(doc.services.map((s) => [s.name, s]));
    // vault is STRICT, ledger PERMISSIVE (the mesh's), both over https; catalog is DISABLE over http.
    for (const name of ['secure', 'relaxed']) expect(byName.get(name), name).toMatchObject({ protocol: 'https', client_certificate: cert.id, tls_verify: true });
    expect(byName.get('open')!.client_certificate).toBeUndefined();
    expect(notes).not.toContain('agw:hasMutualTLS');
    // The id is the same on every run (Kong needs one; decK diffs by it).
    expect((await kongOf('test/fixtures/gateway/mtls.ttl')).text).toBe(text);
  });

  it('allowMethod "*" beside explicit methods is the route\'s own methods; a canary header value with letters is noted', async () => {
    const k = await kongOf('test/fixtures/valid/cors-star-with-methods.ttl');
    const route = k.doc.services.flatMap((s) => s.routes).find((r) => r.name === 'one')!;
    expect(route.plugins!.find((p) => p.name === 'cors')!.config.methods).toEqual(['PUT', 'OPTIONS']);
    expect(k.notes).toContain('Kong compares route header values case-insensitively, so x-track: Beta also matches');
    // The route's preflights have a route of their own; a plain OPTIONS gets the path's 405, as in the gateway.
    expect(route.methods).toEqual(['PUT']);
    expect(k.doc.services.flatMap((s) => s.routes).find((r) => r.name === 'one.method_not_allowed')!.methods).toContain('OPTIONS');
    expect(k.notes).not.toContain('agw:hasCorsPolicy on a route without OPTIONS');
  });

  it('allowHeader "*" gives the cors plugin no headers list, so Kong answers a preflight with the headers it asks for, never a literal "*"', async () => {
    // A literal `Access-Control-Allow-Headers: *` covers neither Authorization nor, with credentials, any header.
    const k = await kongOf('test/fixtures/gateway/cors-wildcard.ttl');
    const plugins = k.doc.services.flatMap((s) => s.routes).flatMap((r) => r.plugins!.filter((p) => p.name === 'cors'));
    expect(plugins.length).toBeGreaterThanOrEqual(2);
    for (const cors of plugins) expect(cors.config).not.toHaveProperty('headers');
  });

  it('what Kong cannot express is listed in NOTES.md, not dropped silently', async () => {
    const { notes } = await kongOf('mesh-shop.ttl');
    expect(notes).toContain('agw:hasTrafficMirror');
    expect(notes).toContain('route orders');
    // A canary's own route has its own rate-limit budget; bare hosts resolve in Kong's namespace;
    // certificate expiry and rotation are nothing Kong tracks.
    expect(notes).toMatch(/## agw:hasRateLimiter with a header-matched split\n\n[^\n]*catalog\.catalog-v2[^\n]*2× its limit/);
    expect(notes).toMatch(/## agw:namespace\n[\s\S]*Applies to: [^\n]*service cart \(shop\)/);
    expect(notes).toMatch(/## agw:hasCertificate\n[\s\S]*Applies to: mesh istio/);
    // Kong's paths end at a segment boundary, as the gateway's: no string prefix to note.
    expect(notes).not.toContain('agw:routePath');
  });
});

describe('kong target: overlapping routes', () => {
  // Kong 3's default router (traditional_compatible) ranks routes by the fields they set before
  // their paths (kong/router/compat.lua get_priority; test/route-choice.ts reads kong.yml so).
  it('answers each CORS preflight with the policy of the route that serves the asked method, on a route of its own; a plain OPTIONS gets the 405', async () => {
    const k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:list, ex:add, ex:one .
ex:s a agw:BackendService ; agw:serviceName "s" .
ex:list a agw:Route ; agw:routeName "list" ; agw:routePath "/items" ; agw:httpMethod "GET" ; agw:hasBackendService ex:s ;
  agw:hasCorsPolicy [ a agw:CorsPolicy ; agw:allowOrigin "*" ] .
ex:add a agw:Route ; agw:routeName "add" ; agw:routePath "/items" ; agw:httpMethod "POST", "PUT" ; agw:hasBackendService ex:s ;
  agw:hasCorsPolicy [ a agw:CorsPolicy ; agw:allowOrigin "https://admin.example" ; agw:allowCredentials true ] ;
  agw:hasAuthentication [ a agw:ApiKey ] ; agw:hasRateLimiter [ a agw:RateLimiter ; agw:requestsPerMinute 60 ] ;
  agw:hasIpRestriction [ a agw:IpRestriction ; agw:allowCidr "10.0.0.0/8" ] .
ex:one a agw:Route ; agw:routeName "one" ; agw:routePath "/items/{id}" ; agw:httpMethod "GET" ; agw:hasBackendService ex:s .
`);
    const routes = k.doc.services.flatMap((s) => s.routes);
    const byName = new Map(routes.map((r) => [r.name, r]));
    expect(byName.get('list')!.methods).toEqual(['GET']);
    expect(byName.get('add')!.methods).toEqual(['POST', 'PUT']);
    // The preflight route runs the cors plugin alone: the gateway answers a preflight before auth, IP restriction and rate limits.
    expect(byName.get('add.cors_preflight')!.plugins!.map((p) => p.name)).toEqual(['cors']);
    expect(byName.get('add.cors_preflight')!.plugins![0]!.config.origins).toEqual(['https://admin.example']);
    expect(byName.get('add.cors_preflight')!.headers).toEqual({ origin: ['~*^'], 'access-control-request-method': ['POST', 'PUT'] });
    expect(byName.get('list.cors_preflight')!.plugins![0]!.config.origins).toEqual(['*']);
    expect(routes.find((r) => r.name.endsWith('.method_not_allowed') && r.paths[0] === byName.get('list')!.paths[0])!.methods).toContain('OPTIONS');
    const gateway = await gatewayChooser(await gatewayFilesOf(k.model));
    const kong = kongChooser(k.text);
    const preflight = (path: string, method: string, extra: Record<string, string> = {}) => ({ method: 'OPTIONS', path, headers: { origin: 'https://admin.example', 'access-control-request-method': method, ...extra } });
    const both = (r: Parameters<typeof kong>[0]) => [show(kong(r)), show(gateway(r))];
    // Each preflight gets the policy of the route that serves the asked method, in either case.
    expect(both(preflight('/items', 'POST'))).toEqual(['add (CORS preflight)', 'add (CORS preflight)']);
    expect(both(preflight('/items', 'put'))).toEqual(['add (CORS preflight)', 'add (CORS preflight)']);
    expect(both(preflight('/items', 'GET'))).toEqual(['list (CORS preflight)', 'list (CORS preflight)']);
    // A plain OPTIONS, and one without an Origin, get the path's 405, as in the gateway (not the backend).
    expect(both({ method: 'OPTIONS', path: '/items', headers: {} })).toEqual(['405 (Allow: GET, POST, PUT)', '405 (Allow: GET, POST, PUT)']);
    expect(both({ method: 'OPTIONS', path: '/items', headers: { 'access-control-request-method': 'POST' } })).toEqual(['405 (Allow: GET, POST, PUT)', '405 (Allow: GET, POST, PUT)']);
    // A method no route of the path takes: the gateway answers with the first policy (403), Kong with the 405, listed.
    expect(both(preflight('/items', 'DELETE'))).toEqual(['405 (Allow: GET, POST, PUT)', 'add (CORS preflight)']);
    expect(noteOn(k.notes, 'agw:hasCorsPolicy (preflight for a method the path lacks)')[0]).toMatch(/Applies to: route add, route list\n/);
    // A preflight route outranks the more specific path's routes in Kong, listed by pair.
    expect(both(preflight('/items/7', 'GET'))).toEqual(['list (CORS preflight)', '405 (Allow: GET)']);
    expect(noteOn(k.notes, 'agw:hasCorsPolicy under a more specific route')[0]).toMatch(/Applies to: [^\n]*route list\.cors\\_preflight \(over route one\)/);
  });

  it("takes each request to the route the gateway takes it to: every route lists methods, every path is a segment-bounded regex, regex_priority is the gateway's order", async () => {
    const result = await generate({ models: ['test/fixtures/valid/overlapping-routes.ttl'], targets: ['kong', 'gateway'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const files = Object.fromEntries(result.files.map((f) => [f.path, f.content]));
    const doc = parse(files['kong/kong.yml']!) as KongDoc;
    const routes = doc.services.flatMap((s) => s.routes);
    for (const r of routes) {
      expect(r.methods, r.name).toBeDefined();
      expect(r.paths, r.name).toHaveLength(1);
      expect(r.paths[0], r.name).toMatch(/^~\//);
    }
    // No two routes tie: Kong would break a tie by route id.
    expect(new Set(routes.map((r) => r.regex_priority)).size).toBe(routes.length);
    const kong = kongChooser(files['kong/kong.yml']!);
    const ask = (method: string, path: string, headers: Record<string, string> = {}) => show(kong({ method, path, headers }));
    // Kong ranked any regex route above a plain prefix: /users/me went to /users/{id}.
    expect(ask('GET', '/users/me')).toBe('me → /users/me');
    expect(ask('GET', '/users/7')).toBe('user-by-id → /users/7');
    // Kong ranked a route with methods above one without: GET /api/v2/x went to /api.
    expect(ask('GET', '/api/v2/x')).toBe('api-v2 → /api/v2/x');
    expect(ask('GET', '/apix')).toBe('root → /apix');
    // A literal tail is a whole segment, and strip path leaves what the gateway leaves.
    expect(ask('POST', '/orders/7/confirmation')).toBe('orders → /orders/7/confirmation');
    expect(ask('POST', '/orders/7/confirm')).toBe('confirm → /');
    expect(ask('POST', '/orders/7/confirm/')).toBe('confirm → /');
    expect(ask('POST', '/orders/7/confirm/x/y')).toBe('confirm → /x/y');
    expect(ask('GET', '/docs')).toBe('docs → /');
    expect(ask('GET', '/docs/a')).toBe('docs → /a');
    expect(ask('GET', '/a/b/c')).toBe('a-b-y → /a/b/c');
    expect(ask('GET', '/a/x/y')).toBe('a-y-z → /a/x/y');
    expect(ask('GET', '/x/b/c')).toBe('t-b-c → /x/b/c');
    expect(ask('GET', '/api/x', { 'x-canary': 'on' })).toBe('api (canary api-canary) → /api/x');
    // The most specific path decides: a method its routes lack is a 405 with their methods (a
    // route of that path for Kong's other methods), never a less specific route such as /orders or /.
    expect(ask('GET', '/orders/7/confirm')).toBe('405 (Allow: POST)');
    expect(ask('POST', '/a/x/y')).toBe('405 (Allow: DELETE, GET)');
    expect(ask('HEAD', '/users/me')).toBe('405 (Allow: GET)');
    const gateway = await gatewayChooser(files);
    for (const [method, path] of [['GET', '/users/me'], ['GET', '/api/v2/x'], ['POST', '/orders/7/confirmation'], ['POST', '/orders/7/confirm/x/y'], ['GET', '/docs'], ['GET', '/a/b/c'], ['GET', '/orders/7/confirm'], ['POST', '/a/x/y']] as const) {
      expect(ask(method, path), `${method} ${path}`).toBe(show(gateway({ method, path, headers: {} })));
    }
    // What stays different is in NOTES.md: with its header, the canary of /api outranks /api/v2
    // (a route with a header ranks above every route without); methods outside Kong's nine.
    expect(ask('GET', '/api/v2/x', { 'x-canary': 'on' })).toBe('api (canary api-canary) → /api/v2/x');
    const notes = files['kong/NOTES.md']!;
    expect(notes).toMatch(/## agw:matchHeader under a more specific route\n\n[^\n]+\n\nApplies to: route api\.api-canary \(over route api-v2\), route api\.api-canary \(over route t-b-c\)\n/);
    expect(ask('PROPFIND', '/orders/1')).toBe('404');
    expect(notes).toMatch(/## agw:httpMethod \(none\)\n\n[^\n]*PROPFIND[^\n]*\n\nApplies to: [^\n]*route orders/);
  });
});

describe('kong target: a traffic split that one Kong upstream cannot carry', () => {
  it('splits across protocols send everything to the heaviest split, and services that check or balance differently keep their weights without the active check, noted', async () => {
    const { doc, notes } = await kongOf('test/fixtures/valid/split-across-protocols.ttl');
    expect(validateKong(doc), JSON.stringify(validateKong.errors)).toBe(true);
    // old (http, 90 %) and new (https, 10 %): one Kong service speaks one protocol, so no TLS to the plain-HTTP backend.
    const pay = doc.services.find((s) => s.name === 'pay')!;
    expect(pay.protocol).toBe('http');
    expect(doc.upstreams.find((u) => u.name === pay.host)!.targets.map((t) => [t.target, t.weight])).toEqual([['old:8080', 10000]]);
    expect(notes).toMatch(/## agw:hasTrafficSplit across protocols\n\n[^\n]*sends all of the route's traffic to old[^\n]*\n\nApplies to: route pay\n/);
    // shop-v1 has a health check, shop-v2 none: probing shop-v2 on shop-v1's path could eject it.
    const shop = doc.services.find((s) => s.name === 'shop')!;
    const upstream = doc.upstreams.find((u) => u.name === shop.host)!;
    expect(upstream.targets.map((t) => t.weight)).toEqual([8000, 2000]);
    expect(upstream.healthchecks?.active).toBeUndefined();
    expect(notes).toMatch(/## agw:hasHealthCheck in a traffic split\n[\s\S]*?Applies to: route shop\n/);
    expect(notes).toMatch(/## agw:loadBalancing in a traffic split\n[\s\S]*?Applies to: route shop\n/);
  });
});

/** Writes a model to a temporary file and generates the Kong target from it. */
async function kongOfText(ttl: string): Promise<Awaited<ReturnType<typeof kongOf>>> {
  const file = join(mkdtempSync(join(tmpdir(), 'gwgen-kong-')), 'model.ttl');
  writeFileSync(file, `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .\n@prefix ex: <https://example.org/t#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n${ttl}`);
  lastModelFile = file;
  return kongOf(file);
}

/** The gateway target's files for the model kongOfText last wrote (the same model file). */
let lastModelFile = '';
async function gatewayFilesOf(model: GatewayModel): Promise<Record<string, string>> {
  const result = await generate({ models: [lastModelFile], targets: ['gateway'], cwd: ROOT });
  if (!result.ok || result.model.gateway.name !== model.gateway.name) throw new Error(JSON.stringify(result.ok ? 'another model' : result.problems));
  return Object.fromEntries(result.files.map((f) => [f.path, f.content]));
}

/** The note sections of NOTES.md with this heading. */
const noteOn = (notes: string, feature: string) => notes.split('\n## ').filter((s) => s.startsWith(`${feature}\n`));

describe('kong target: what each resource means to Kong', () => {
  let k: Awaited<ReturnType<typeof kongOf>>;
  beforeAll(async () => {
    k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ;
  agw:hasRoute ex:b1, ex:b2, ex:b3, ex:t1, ex:t2, ex:t3, ex:t4, ex:l1, ex:l2, ex:l3, ex:l4, ex:v1, ex:v2, ex:v3 ;
  agw:hasConsumer ex:c .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:checked a agw:BackendService ; agw:serviceName "checked" ; agw:hasHealthCheck ex:hc .
ex:hc a agw:HealthCheck ; agw:healthCheckPath "/ready" ; agw:healthCheckInterval "PT5S"^^xsd:duration ; agw:successThreshold 2 ; agw:failureThresholdHealth 3 .
ex:cb30 a agw:CircuitBreaker ; agw:failureThreshold 5 ; agw:timeoutSeconds 30 .
ex:cb-frac a agw:CircuitBreaker ; agw:failureThreshold 3 ; agw:timeoutSeconds 0.4 .
# Circuit breakers: without a health check, something must bring an ejected target back.
ex:b1 a agw:Route ; agw:routeName "b1" ; agw:routePath "/b1" ; agw:hasBackendService ex:svc ; agw:hasCircuitBreaker ex:cb30 .
ex:b2 a agw:Route ; agw:routeName "b2" ; agw:routePath "/b2" ; agw:hasBackendService ex:svc ; agw:hasCircuitBreaker ex:cb-frac .
ex:b3 a agw:Route ; agw:routeName "b3" ; agw:routePath "/b3" ; agw:hasBackendService ex:checked ; agw:hasCircuitBreaker ex:cb30 .
# Timeouts: no try outlasts the whole request.
ex:t1 a agw:Route ; agw:routeName "t1" ; agw:routePath "/t1" ; agw:hasBackendService ex:svc ; agw:timeoutSeconds 5 ; agw:hasRetryPolicy ex:per10 .
ex:t2 a agw:Route ; agw:routeName "t2" ; agw:routePath "/t2" ; agw:hasBackendService ex:svc ; agw:timeoutSeconds 5 ; agw:hasRetryPolicy ex:per2 .
ex:t3 a agw:Route ; agw:routeName "t3" ; agw:routePath "/t3" ; agw:hasBackendService ex:svc ; agw:timeoutSeconds 5 .
ex:t4 a agw:Route ; agw:routeName "t4" ; agw:routePath "/t4" ; agw:hasBackendService ex:svc ; agw:hasRetryPolicy ex:per10 .
ex:per10 a agw:RetryPolicy ; agw:retryAttempts 2 ; agw:perTryTimeoutSeconds 10 .
ex:per2 a agw:RetryPolicy ; agw:retryAttempts 0 ; agw:perTryTimeoutSeconds 2 .
# Rate limits by consumer: on a JWT route Kong's consumer is the issuer's one consumer.
ex:l1 a agw:Route ; agw:routeName "l1" ; agw:routePath "/l1" ; agw:hasBackendService ex:svc ; agw:hasAuthentication ex:jwt ; agw:hasRateLimiter ex:by-consumer .
ex:l2 a agw:Route ; agw:routeName "l2" ; agw:routePath "/l2" ; agw:hasBackendService ex:svc ; agw:hasAuthentication ex:key ; agw:hasRateLimiter ex:by-consumer .
ex:l3 a agw:Route ; agw:routeName "l3" ; agw:routePath "/l3" ; agw:hasBackendService ex:svc ; agw:hasRateLimiter ex:by-consumer .
ex:l4 a agw:Route ; agw:routeName "l4" ; agw:routePath "/l4" ; agw:hasBackendService ex:svc ; agw:hasAuthentication ex:jwt ; agw:hasRateLimiter ex:by-ip ; agw:hasIpRestriction ex:ips .
ex:by-consumer a agw:RateLimiter ; agw:requestsPerMinute 60 ; agw:limitBy "consumer" .
ex:by-ip a agw:RateLimiter ; agw:requestsPerMinute 60 ; agw:limitBy "ip" .
ex:jwt a agw:JWTAuthentication ; agw:issuer "https://idp.example.com" ; agw:algorithm "HS256" ; agw:secretEnv "JWT_SECRET" .
ex:key a agw:ApiKey .
ex:ips a agw:IpRestriction ; agw:allowCidr "10.0.0.0/8" .
# Versions: on one address Kong cannot tell them apart.
ex:v1 a agw:Route ; agw:routeName "v1" ; agw:routePath "/v1" ; agw:hasTrafficSplit ex:v1a, ex:v1b, ex:v1c .
ex:v1a a agw:TrafficSplit ; agw:hasBackendService ex:app-1 ; agw:weight 80 .
ex:v1b a agw:TrafficSplit ; agw:hasBackendService ex:app-2 ; agw:weight 20 .
ex:v1c a agw:TrafficSplit ; agw:hasBackendService ex:app-2 ; agw:matchHeader "x-beta" ; agw:matchHeaderValue "1" .
ex:v2 a agw:Route ; agw:routeName "v2" ; agw:routePath "/v2" ; agw:hasTrafficSplit ex:v2a, ex:v2b, ex:v2c .
ex:v2a a agw:TrafficSplit ; agw:hasBackendService ex:own-1 ; agw:weight 80 .
ex:v2b a agw:TrafficSplit ; agw:hasBackendService ex:own-2 ; agw:weight 20 .
ex:v2c a agw:TrafficSplit ; agw:hasBackendService ex:own-2 ; agw:matchHeader "x-beta" ; agw:matchHeaderValue "1" .
ex:v3 a agw:Route ; agw:routeName "v3" ; agw:routePath "/v3" ; agw:hasBackendService ex:app-1 ; agw:hasTrafficMirror ex:m .
ex:m a agw:TrafficMirror ; agw:hasBackendService ex:app-2 ; agw:mirrorPercent 10 .
ex:app-1 a agw:BackendService ; agw:serviceName "app-1" ; agw:host "app" ; agw:version "1" .
ex:app-2 a agw:BackendService ; agw:serviceName "app-2" ; agw:host "app" ; agw:version "2" .
ex:own-1 a agw:BackendService ; agw:serviceName "own-1" ; agw:version "1" .
ex:own-2 a agw:BackendService ; agw:serviceName "own-2" ; agw:version "2" .
ex:c a agw:Consumer ; agw:consumerName "c" ; agw:apiKeyEnv "C_KEY" .
`);
  });

  it('is valid against the Kong declarative schema', () => {
    expect(validateKong(k.doc), JSON.stringify(validateKong.errors)).toBe(true);
  });

  // Passive checks never re-enable a target: a breaker without an active probe would never close.
  // The probe is HTTP: Kong turns "tcp" probes off for upstreams of its http subsystem.
  it.each([
    ['b1', { type: 'http', http_path: '/', timeout: 5, healthy: { interval: 0, successes: 1, http_statuses: expect.arrayContaining([200, 204, 302, 404]) }, unhealthy: { interval: 30, http_failures: 0, tcp_failures: 0, timeouts: 0, http_statuses: expect.arrayContaining([500, 503]) } }],
    ['b2', { type: 'http', http_path: '/', timeout: 1, healthy: { interval: 0, successes: 1, http_statuses: expect.arrayContaining([200, 204, 302, 404]) }, unhealthy: { interval: 1, http_failures: 0, tcp_failures: 0, timeouts: 0, http_statuses: expect.arrayContaining([500, 503]) } }],
    ['b3', { type: 'http', http_path: '/ready', timeout: 5, healthy: { interval: 5, successes: 2, http_statuses: expect.arrayContaining([200, 204, 302]) }, unhealthy: { interval: 5, http_failures: 3, tcp_failures: 3, timeouts: 3, http_statuses: expect.arrayContaining([404, 503]) } }],
  ])('a circuit breaker on route %s has an active probe that brings ejected targets back: %o', (route, active) => {
    const service = k.doc.services.find((s) => s.name === route)!;
    const upstream = k.doc.upstreams.find((u) => u.name === service.host)!;
    expect(upstream.healthchecks?.active).toEqual(active);
    expect(upstream.healthchecks?.passive).toBeDefined();
  });

  it.each([
    ['t1', 5000],
    ['t2', 2000],
    ['t3', 5000],
    ['t4', 10000],
  ])('route %s: each try ends after %i ms at most (the shorter of the per-try and the route timeout)', (route, ms) => {
    const service = k.doc.services.find((s) => s.name === route)!;
    expect([service.read_timeout, service.connect_timeout, service.write_timeout]).toEqual([ms, ms, ms]);
  });

  it.each([
    ['l1', { limit_by: 'header', header_name: 'Authorization' }],
    ['l2', { limit_by: 'consumer' }],
    ['l3', { limit_by: 'consumer' }],
    ['l4', { limit_by: 'ip' }],
  ])('route %s counts its rate limit by %o', (route, by) => {
    const plugin = k.doc.services.find((s) => s.name === route)!.routes[0]!.plugins!.find((p) => p.name === 'rate-limiting')!;
    expect({ limit_by: plugin.config.limit_by, ...(plugin.config.header_name ? { header_name: plugin.config.header_name } : {}) }).toEqual(by);
  });

  it.each([
    ['agw:limitBy "consumer" on a JWT route', 'route l1'],
    ['client address behind a load balancer', 'route l4'],
    ['agw:hasTrafficSplit to one address', 'route v1'],
    ['agw:matchHeader to one address', 'route v1.app-2'],
    ['agw:timeoutSeconds', 'route t1, route t2'],
    ['agw:timeoutSeconds of agw:CircuitBreaker', 'route b2'],
  ])('NOTES.md lists "%s" for exactly: %s', (feature, subjects) => {
    const sections = noteOn(k.notes, feature);
    expect(sections, feature).toHaveLength(1);
    expect(sections[0]).toContain(`\n\nApplies to: ${subjects}\n`);
  });

  it('versions with addresses of their own are split by Kong, and not noted', () => {
    const v2 = k.doc.services.find((s) => s.name === 'v2')!;
    expect(k.doc.upstreams.find((u) => u.name === v2.host)!.targets.map((t) => [t.target, t.weight])).toEqual([['own-1:80', 8000], ['own-2:80', 2000]]);
    const canary = k.doc.services.find((s) => s.name === 'v2.own-2')!;
    expect(k.doc.upstreams.find((u) => u.name === canary.host)!.targets.map((t) => t.target)).toEqual(['own-2:80']);
    for (const feature of ['agw:hasTrafficSplit to one address', 'agw:matchHeader to one address']) expect(noteOn(k.notes, feature).join('\n')).not.toMatch(/route v2\b/);
  });
});

describe("kong target: consumer secrets (Kong resolves no {vault://} reference in a credential)", () => {
  // Kong dereferences only fields its schema marks referenceable; keyauth_credentials.key and
  // jwt_secrets.secret are not, so a reference there was the key itself, readable in kong.yml.
  let k: Awaited<ReturnType<typeof kongOf>>;
  beforeAll(async () => {
    k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:keyed, ex:signed ; agw:hasConsumer ex:acme, ex:deck .
ex:s a agw:BackendService ; agw:serviceName "s" .
ex:key a agw:ApiKey ; agw:keyHeader "X-Api-Key" .
ex:jwt a agw:JWTAuthentication ; agw:issuer "https://issuer.example" ; agw:algorithm "HS256" ; agw:secretEnv "JWT_SIGNING_SECRET" .
ex:keyed a agw:Route ; agw:routeName "keyed" ; agw:routePath "/keyed" ; agw:hasBackendService ex:s ; agw:hasAuthentication ex:key .
ex:signed a agw:Route ; agw:routeName "signed" ; agw:routePath "/signed" ; agw:hasBackendService ex:s ; agw:hasAuthentication ex:jwt .
ex:acme a agw:Consumer ; agw:consumerName "acme" ; agw:apiKeyEnv "ACME_API_KEY" .
ex:deck a agw:Consumer ; agw:consumerName "deckish" ; agw:apiKeyEnv "DECK_OWN_KEY" .
`);
  });

  it('writes no {vault://} reference where Kong would take it as the key or secret itself', () => {
    expect(k.text).not.toMatch(/key: "?\{vault:/);
    expect(k.text).not.toMatch(/secret: "?\{vault:/);
  });

  it('decK renders each key and secret from DECK_<the variable the gateway reads>, any value reading back as itself', () => {
    const env = { DECK_ACME_API_KEY: `k'e"y \\ with\ttab and é`, DECK_OWN_KEY: 'own', DECK_JWT_SIGNING_SECRET: 'hs256 secret' };
    expect(Object.keys(deckEnvOf(k.text)).sort()).toEqual(Object.keys(env).sort());
    const doc = parse(renderDeck(k.text, env)) as KongDoc;
    const consumer = (name: string) => doc.consumers!.find((c) => c.username === name)!;
    expect(consumer('acme').keyauth_credentials!.map((c) => c.key)).toEqual([env.DECK_ACME_API_KEY]);
    expect(consumer('deckish').keyauth_credentials!.map((c) => c.key)).toEqual(['own']);
    const jwt = doc.consumers!.flatMap((c) => c.jwt_secrets ?? []);
    expect(jwt.map((j) => [j.key, j.secret])).toEqual([['https://issuer.example', 'hs256 secret']]);
    expect(validateKong(doc), JSON.stringify(validateKong.errors)).toBe(true);
    // decK stops when a variable is not set, rather than load an empty key.
    expect(() => renderDeck(k.text, { ...env, DECK_OWN_KEY: undefined })).toThrow("'DECK_OWN_KEY' present in state file but not set");
  });

  it('Kong refuses kong.yml as generated, at the tag of each templated credential, so the template text is never a key', () => {
    expect(validateKong(k.raw)).toBe(false);
    const refused = (validateKong.errors ?? []).filter((e) => e.keyword === 'pattern').map((e) => e.instancePath);
    expect(refused.sort()).toEqual([
      '/consumers/0/keyauth_credentials/0/tags/3',
      '/consumers/1/keyauth_credentials/0/tags/3',
      '/consumers/2/jwt_secrets/0/tags/3',
    ]);
  });

  it('NOTES.md says how to load the file and which DECK_ variable holds which secret', () => {
    const [section] = noteOn(k.notes, 'agw:apiKeyEnv and agw:secretEnv (consumer secrets from decK)');
    expect(section).toContain('deck file render kong.yml -o kong.rendered.yml');
    expect(section).toContain('Applies to: consumer acme: DECK\\_ACME\\_API\\_KEY (ACME\\_API\\_KEY), consumer deckish: DECK\\_OWN\\_KEY (DECK\\_OWN\\_KEY), issuer https\\://issuer.example: DECK\\_JWT\\_SIGNING\\_SECRET (JWT\\_SIGNING\\_SECRET)');
  });
});

describe('kong target: model text that reads as a decK template', () => {
  it("is written so that decK renders it as itself: a header value or issuer with ${{ env ... }} never reads a DECK_ variable", async () => {
    const k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:r, ex:me .
ex:a a agw:BackendService ; agw:serviceName "a" .
ex:b a agw:BackendService ; agw:serviceName "b" .
ex:main a agw:TrafficSplit ; agw:hasBackendService ex:a ; agw:weight 100 .
ex:canary a agw:TrafficSplit ; agw:hasBackendService ex:b ; agw:matchHeader "x-canary" ; agw:matchHeaderValue "\${{ env \\"DECK_LEAK\\" }}" .
ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasTrafficSplit ex:main, ex:canary .
ex:jwt a agw:JWTAuthentication ; agw:issuer "https://i.example/\${{x}}" ; agw:algorithm "HS256" ; agw:secretEnv "JWT_SECRET" .
ex:me a agw:Route ; agw:routeName "me" ; agw:routePath "/me" ; agw:hasBackendService ex:a ; agw:hasAuthentication ex:jwt .
`);
    // Only DECK_JWT_SECRET is set: decK stops at any other variable the file reads.
    const doc = parse(renderDeck(k.text, { DECK_JWT_SECRET: 's' })) as KongDoc;
    expect(doc.services.find((s) => s.name === 'r.b')!.routes[0]!.headers).toEqual({ 'x-canary': ['${{ env "DECK_LEAK" }}'] });
    expect(doc.consumers!.flatMap((c) => c.jwt_secrets ?? []).map((j) => [j.key, j.secret])).toEqual([['https://i.example/${{x}}', 's']]);
  });
});

describe('kong target: consistent hashing hashes what the gateway hashes', () => {
  // The gateway's key is the path parameters, else the client address (GW_HASH_HEADER aside).
  let k: Awaited<ReturnType<typeof kongOf>>;
  beforeAll(async () => {
    k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:list, ex:one, ex:item .
ex:s a agw:BackendService ; agw:serviceName "carts" ; agw:loadBalancing "consistent-hash" ; agw:hasInstance ex:a, ex:b .
ex:a a agw:ServiceInstance ; agw:host "carts-a" ; agw:port 8080 .
ex:b a agw:ServiceInstance ; agw:host "carts-b" ; agw:port 8080 .
ex:list a agw:Route ; agw:routeName "list" ; agw:routePath "/carts" ; agw:hasBackendService ex:s .
ex:one a agw:Route ; agw:routeName "one" ; agw:routePath "/carts/{cart-id}" ; agw:hasBackendService ex:s .
ex:item a agw:Route ; agw:routeName "item" ; agw:routePath "/carts/{cartId}/items/{itemId}" ; agw:hasBackendService ex:s .
`);
  });
  const upstreamOf = (route: string) => {
    const service = k.doc.services.find((s) => s.name === route)!;
    return { path: service.routes[0]!.paths[0]!, upstream: k.doc.upstreams.find((u) => u.name === service.host)! as KongDoc['upstreams'][number] & { hash_on?: string; hash_on_uri_capture?: string } };
  };

  it.each([
    ['one', '/carts/c-42', 'c-42'],
    ['one', '/carts/c-42/', 'c-42'],
  ])('route %s: Kong hashes a request for %s by the path parameter %s, the capture its own route matched', (route, requestPath, key) => {
    const { path, upstream } = upstreamOf(route);
    expect(validateKong(k.doc), JSON.stringify(validateKong.errors)).toBe(true);
    expect(upstream.algorithm).toBe('consistent-hashing');
    expect(upstream.hash_on).toBe('uri_capture');
    // Kong anchors a regex path at the start; the named capture is what get_value_to_hash reads.
    const captures = new RegExp(`^${path.slice(1)}`).exec(requestPath)?.groups ?? {};
    expect(captures[upstream.hash_on_uri_capture!]).toBe(key);
  });

  it('a route with several parameters hashes the whole path, which they decide, not one of them', () => {
    expect(upstreamOf('item').upstream).toMatchObject({ name: 'item.carts.upstream', hash_on: 'path' });
    expect(upstreamOf('item').upstream.hash_on_uri_capture).toBeUndefined();
  });

  it('a route without parameters hashes on the client address, in the upstream it shares with the service', () => {
    expect(upstreamOf('list').upstream).toMatchObject({ name: 'carts.upstream', hash_on: 'ip' });
  });

  it('lists that Kong hashes one parameter of several, and reads no GW_HASH_HEADER', () => {
    expect(noteOn(k.notes, 'agw:loadBalancing "consistent-hash" on a route with several parameters')[0]).toContain('Applies to: route item');
    expect(noteOn(k.notes, 'agw:loadBalancing "consistent-hash" and GW\\_HASH\\_HEADER')[0]).toContain('Applies to: service carts');
  });
});

describe('kong target: target weights', () => {
  it('an instance with a share too small for Kong\'s scale keeps weight 1, never 0 (which Kong reads as "no traffic"); weight 0 stays 0', async () => {
    const k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:r .
ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasTrafficSplit ex:main, ex:edge .
ex:main a agw:TrafficSplit ; agw:hasBackendService ex:stable ; agw:weight 99 .
ex:edge a agw:TrafficSplit ; agw:hasBackendService ex:next ; agw:weight 1 .
ex:stable a agw:BackendService ; agw:serviceName "stable" .
ex:next a agw:BackendService ; agw:serviceName "next" ; agw:hasInstance ex:n1, ex:n2, ex:n3, ex:n4 .
ex:n1 a agw:ServiceInstance ; agw:host "next-1" ; agw:port 80 ; agw:weight 1 .
ex:n2 a agw:ServiceInstance ; agw:host "next-2" ; agw:port 80 ; agw:weight 100 .
ex:n3 a agw:ServiceInstance ; agw:host "next-3" ; agw:port 80 ; agw:weight 100 .
ex:n4 a agw:ServiceInstance ; agw:host "next-4" ; agw:port 80 ; agw:weight 0 .
`);
    const weights = Object.fromEntries(k.doc.upstreams.find((u) => u.name === 'r.split.upstream')!.targets.map((t) => [t.target, t.weight]));
    expect(weights).toEqual({ 'next-1:80': 1, 'next-2:80': 50, 'next-3:80': 50, 'next-4:80': 0, 'stable:80': 9900 });
  });
});

describe("kong target: a method none of a path's routes takes gets the gateway's own 405", () => {
  const model = `
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:read .
ex:s a agw:BackendService ; agw:serviceName "orders" ; agw:host "127.0.0.1" ; agw:port 9 .
ex:read a agw:Route ; agw:routeName "read" ; agw:routePath "/orders" ; agw:httpMethod "GET" ; agw:hasBackendService ex:s .
`;
  let gw: GatewayProcess | undefined;
  let k: Awaited<ReturnType<typeof kongOf>>;
  let answer: { status: number; body: string; headers: Headers };
  beforeAll(async () => {
    k = await kongOfText(model);
    const file = join(mkdtempSync(join(tmpdir(), 'gwgen-kong-405-')), 'model.ttl');
    writeFileSync(file, `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .\n@prefix ex: <https://example.org/t#> .\n${model}`);
    gw = await startGateway((await buildGateway(file)).dir, {});
    const res = await fetch(`${gw.url}/orders`, { method: 'PUT' });
    answer = { status: res.status, body: await res.text(), headers: res.headers };
  }, 300_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it("lists that Kong's own answers have another body than the gateway's", () => {
    expect(noteOn(k.notes, "Error bodies of Kong's own answers")[0]).toContain('Applies to: gateway gw');
    expect(noteOn(k.notes, "Error bodies of Kong's own answers")[0]).toContain('502, 503 and 504');
  });

  it('answers with the body, content type, Allow and Cache-Control the gateway sends', () => {
    expect(answer.status).toBe(405);
    const refusal = k.doc.services.flatMap((s) => s.routes).find((r) => r.name === 'read.method_not_allowed')!;
    expect(refusal.methods).toContain('PUT');
    const termination = refusal.plugins!.find((p) => p.name === 'request-termination')!.config;
    expect(termination).toEqual({ status_code: 405, body: answer.body, content_type: answer.headers.get('content-type') });
    const added = (refusal.plugins!.find((p) => p.name === 'response-transformer')!.config as { add: { headers: string[] } }).add.headers;
    expect(added).toEqual([`Allow:${answer.headers.get('allow')}`, `Cache-Control:${answer.headers.get('cache-control')}`]);
  });
});

describe('kong target: where its Redis is', () => {
  // Kong reads no REDIS_URL: its plugins name their Redis in kong.yml, so NOTES.md must say which.
  it('NOTES.md names every route with a Redis limiter and every tiered consumer, and a model without Redis gets no such note', async () => {
    const withRedis = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:r1, ex:r2 ; agw:hasConsumer ex:c, ex:d .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:r1 a agw:Route ; agw:routeName "r1" ; agw:routePath "/r1" ; agw:hasBackendService ex:svc ; agw:hasRateLimiter ex:shared .
ex:r2 a agw:Route ; agw:routeName "r2" ; agw:routePath "/r2" ; agw:hasBackendService ex:svc ; agw:hasRateLimiter ex:local .
ex:shared a agw:RateLimiter ; agw:requestsPerMinute 60 ; agw:policy "redis" .
ex:local a agw:RateLimiter ; agw:requestsPerMinute 60 ; agw:policy "local" .
ex:gold a agw:QuotaTier ; agw:tierName "gold" ; agw:requestsPerSecond 5 .
ex:c a agw:Consumer ; agw:consumerName "c" ; agw:apiKeyEnv "C_KEY" ; agw:hasQuotaTier ex:gold .
ex:d a agw:Consumer ; agw:consumerName "d" ; agw:apiKeyEnv "D_KEY" .
`);
    const sections = noteOn(withRedis.notes, 'REDIS\\_URL');
    expect(sections).toHaveLength(1);
    expect(sections[0]).toContain('\n\nApplies to: consumer c, route r1\n');
    const redisHosts = withRedis.doc.services.flatMap((s) => s.routes).flatMap((r) => r.plugins ?? []).map((p) => (p.config.redis as { host?: string } | undefined)?.host).filter(Boolean);
    expect(redisHosts.length).toBeGreaterThan(0);
    for (const host of redisHosts) expect(sections[0]).toContain(`at ${host}:6379`);
    const without = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:r2 .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:r2 a agw:Route ; agw:routeName "r2" ; agw:routePath "/r2" ; agw:hasBackendService ex:svc ; agw:hasRateLimiter ex:local .
ex:local a agw:RateLimiter ; agw:requestsPerMinute 60 ; agw:policy "local" .
`);
    expect(without.notes).not.toContain('REDIS');
  });
});

describe("kong target: CORS origins as Kong's cors plugin reads them", () => {
  // Kong reads an origin with characters other than [A-Za-z0-9.:/-] as a regex, and compiles
  // "*" inside a list as one (older versions), which allows nothing.
  const cases: [origins: string[], written: string[]][] = [
    [['https://app.example.com', 'http://localhost:3000'], ['http://localhost:3000', 'https://app.example.com']],
    [['https://my_app.example.com'], ['https://my_app\\.example\\.com']],
    [['*', 'https://app.example.com'], ['*']],
    [['*'], ['*']],
  ];
  let k: Awaited<ReturnType<typeof kongOf>>;
  beforeAll(async () => {
    const routes = cases
      .map(([origins], i) => `ex:r${i} a agw:Route ; agw:routeName "r${i}" ; agw:routePath "/r${i}" ; agw:hasBackendService ex:s ; agw:hasCorsPolicy ex:c${i} .\nex:c${i} a agw:CorsPolicy ; agw:allowCredentials true ; agw:allowOrigin ${origins.map((o) => `"${o}"`).join(', ')} .\n`)
      .join('');
    k = await kongOfText(`ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ${cases.map((_, i) => `ex:r${i}`).join(', ')} .\nex:s a agw:BackendService ; agw:serviceName "s" .\n${routes}`);
    expect(validateKong(k.doc), JSON.stringify(validateKong.errors)).toBe(true);
  });
  it.each(cases.map(([o, w], i) => [i, o, w] as const))('route r%i: %o is written %o', (i, origins, written) => {
    const cors = k.doc.services.find((s) => s.name === `r${i}`)!.routes[0]!.plugins!.find((p) => p.name === 'cors')!;
    expect(cors.config.origins).toEqual(written);
    // Each written origin, read as Kong reads it (a regex when it has other characters, anchored at both ends), admits exactly the model's.
    for (const origin of origins.filter((o) => o !== '*')) {
      const admits = (candidate: string) => (written as string[]).some((w) => w === '*' || (/^[A-Za-z0-9.:/-]+$/.test(w) ? w === candidate : new RegExp(`^${w}$`).test(candidate)));
      expect(admits(origin)).toBe(true);
      // The same origin with a "." turned into another character is another origin.
      const other = origin.replace(/\.(?=[^.]*\.[^.]*$)/, 'x');
      if (other !== origin) expect(admits(other)).toBe(written.includes('*'));
    }
  });
});

describe('kong target: gRPC services', () => {
  it('a model with a gRPC service is told in NOTES.md that Kong needs an HTTP/2 proxy_listen; one without is not', async () => {
    const notesOf = async (model: string) => {
      const result = await generate({ models: [model], cwd: ROOT });
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      // Markdown escapes: proxy\_listen reads as proxy_listen.
      return (result.files.find((f) => f.path === 'kong/NOTES.md')?.content ?? '').replace(/\\(.)/g, '$1');
    };
    const grpc = await notesOf('test/fixtures/gateway/grpc.ttl');
    expect(grpc).toContain('## agw:protocol "grpc"');
    expect(grpc).toMatch(/KONG_PROXY_LISTEN="0\.0\.0\.0:8000 http2"[^\n]*\n\nApplies to: services down, echo, retried\n/);
    expect(await notesOf('examples/metered-api.ttl')).not.toContain('agw:protocol "grpc"');
  });
});

describe('kong target: splits and WebSockets', () => {
  it('lists split routes whose retries or ejections move traffic between splits in Kong (one upstream for all), and WebSocket routes its timeouts cut', async () => {
    const result = await generate({ models: ['test/fixtures/gateway/traffic.ttl'], cwd: ROOT, targets: ['kong'] });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const notes = result.files.find((f) => f.path === 'kong/NOTES.md')!.content;
    // "retried" has retries; "checked" has neither retries nor a breaker, and its split services'
    // health checks differ, so its upstream has no active health check that could take one out.
    // Kong's read timeout (the route's 0.5 s) also closes a quiet tunnel of the WebSocket route.
    expect(notes).toMatch(/## agw:websocket and Kong timeouts\n\nKong's read and write timeouts \(the route's\) also bound an open WebSocket[^\n]*\n\nApplies to: route live\n/);
    // "chat" has no timeout: Kong's default of 60 s cuts its quiet tunnels.
    expect(notes).toMatch(/## agw:websocket and Kong timeouts \(60 s by default\)\n\nKong's read and write timeouts \(its defaults of 60 s\)[^\n]*\n\nApplies to: route chat\n/);
    expect(notes).toMatch(/## agw:hasTrafficSplit with retries or ejection\n\n[^\n]*keeps a request and its retries on the split it drew[^\n]*\n\nApplies to: route retried\n/);
  });
});

describe('kong target: terms Kong cannot honour are listed (test/fixtures/valid/unhonoured-terms.ttl)', () => {
  it('lists routes without agw:websocket (Kong proxies upgrades anyway) and tracing without a collector', async () => {
    const result = await generate({ models: ['test/fixtures/valid/unhonoured-terms.ttl'], cwd: ROOT, targets: ['kong'] });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const notes = result.files.find((f) => f.path === 'kong/NOTES.md')!.content;
    const kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content);
    expect(kong.plugins.map((p: { name: string }) => p.name)).not.toContain('opentelemetry');
    expect(notes).toMatch(/## agw:hasDistributedTracing without agw:collectorEndpoint\n\n[^\n]*samplingRate 0\.5/);
    expect(notes).toMatch(/## agw:websocket \(absent or false\)\n\n[^\n]*refuses the upgrade with 400\.\n\nApplies to: route plain\n/);
  });
});

describe("kong target: health checks count answers as the gateway's breaker and probes do", () => {
  type Checks = { active?: KongCheck & { timeout?: number }; passive?: KongCheck };
  let upstreams: Map<string, Checks>;
  let breakerOf: (threshold: number) => { state: number; failure(p: number): void; success(p: number): void };
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gwgen-kong-health-'));
    const model = join(dir, 'model.ttl');
    writeFileSync(
      model,
      `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.org/h#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:r1, ex:r2 .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:probed a agw:BackendService ; agw:serviceName "probed" ; agw:hasHealthCheck ex:hc .
ex:hc a agw:HealthCheck ; agw:healthCheckPath "/healthz" ; agw:healthCheckInterval "PT10S"^^xsd:duration ; agw:successThreshold 2 ; agw:failureThresholdHealth 2 .
ex:cb a agw:CircuitBreaker ; agw:failureThreshold 3 ; agw:timeoutSeconds 30 .
ex:r1 a agw:Route ; agw:routeName "r1" ; agw:routePath "/r1" ; agw:hasBackendService ex:svc ; agw:hasCircuitBreaker ex:cb .
ex:r2 a agw:Route ; agw:routeName "r2" ; agw:routePath "/r2" ; agw:hasBackendService ex:probed .
`,
    );
    const out = join(dir, 'out');
    const run = await gwgen(['generate', model, '-o', out, '-t', 'kong,gateway']);
    expect(run.exitCode, run.stderr).toBe(0);
    const doc = parse(readFileSync(join(out, 'kong/kong.yml'), 'utf8')) as { upstreams: Array<{ name: string; healthchecks?: Checks }> };
    upstreams = new Map(doc.upstreams.map((u) => [u.name, u.healthchecks ?? {}]));
    // The generated gateway's own circuit breaker, as it runs.
    const { CircuitBreaker, PERMITTED } = await import(join(out, 'gateway/src/breaker.ts'));
    breakerOf = (threshold) => {
      const b = new CircuitBreaker({ failureThreshold: threshold, openMs: 30_000, halfOpenRequests: 1 });
      return { get state() { return b.state; }, failure: () => b.failure(PERMITTED), success: () => b.success(PERMITTED) };
    };
  });

  // 0 stands for a connection failure. Kong counts each kind of failure against the threshold on
  // its own (NOTES.md says so), so each sequence fails in one way.
  it.each([
    [[500, 200, 500, 200, 500, 200, 500]],
    [[503, 503, 404, 503, 503, 401, 502, 502]],
    [[500, 501, 505]],
    [[0, 0, 204, 0, 0, 302, 0, 0, 0]],
    [[200, 511, 418, 503, 507, 500]],
  ])('a breaker of 3 consecutive failures of one kind opens in Kong exactly when the gateway\'s opens: %o', (answers) => {
    const passive = upstreams.get('r1.svc.upstream')!.passive;
    const kong = new KongTarget('passive', passive);
    const gateway = breakerOf(3);
    for (const [i, a] of answers.entries()) {
      if (a === 0) kong.connectFailure();
      else kong.status(a);
      if (a === 0 || a >= 500) gateway.failure(0);
      else gateway.success(0);
      expect({ after: i, kongEjects: !kong.up }).toEqual({ after: i, kongEjects: gateway.state !== 0 });
    }
  });

  // Kong runs "tcp" probes only in its stream subsystem (kong/runloop/balancer/healthcheckers.lua
  // create_healthchecker sets their intervals to 0 for http upstreams): the breaker's recovery
  // probe was one, so an ejected target stayed out until Kong restarted.
  it.each([
    [404, true],
    [200, true],
    [302, true],
    [503, false],
    [0, false],
  ] as const)('the probe of a breaker without health check, answering %i, brings an ejected target back: %s', (code, up) => {
    const active = upstreams.get('r1.svc.upstream')!.active! as KongCheck & { type?: string; http_path?: string };
    expect([active.type, active.http_path]).toEqual(['http', '/']);
    const kong = new KongTarget('active', active, 'unhealthy');
    if (code === 0) kong.connectFailure();
    else kong.status(code);
    expect(kong.up).toBe(up);
  });

  // The gateway's probe: 2xx and 3xx are healthy, any other answer unhealthy, within min(interval, 5 s).
  it.each([
    [204, 'unhealthy', 2, true],
    [301, 'unhealthy', 2, true],
    [403, 'healthy', 2, false],
    [418, 'healthy', 2, false],
    [501, 'healthy', 2, false],
  ] as const)('a probe answering %i takes a target from %s to the gateway\'s verdict after %i probes', (code, from, probes, up) => {
    const active = upstreams.get('probed.upstream')!.active!;
    const kong = new KongTarget('active', active, from);
    for (let i = 0; i < probes; i++) kong.status(code);
    expect(kong.up).toBe(up);
    expect(active.timeout).toBe(5);
  });
});

// A page reads a response header only when CORS exposes it: every header Kong's plugins add to a
// route's answers must be in its cors plugin's exposed_headers, as the gateway exposes its own.
describe.each(examples)('kong target: CORS exposes the headers Kong adds (%s)', (example) => {
  it('lists the rate-limit headers of every window that counts on the route, and the auth challenge', async () => {
    const { doc } = await kongOf(example);
    const tierWindows = (doc.consumers ?? []).flatMap((c) => (c.plugins ?? []).filter((p) => p.name === 'rate-limiting').flatMap((p) => Object.keys(p.config)));
    let checked = 0;
    for (const route of doc.services.flatMap((s) => s.routes)) {
      const plugins = route.plugins ?? [];
      const cors = plugins.find((p) => p.name === 'cors');
      if (!cors) continue;
      const limit = plugins.find((p) => p.name === 'rate-limiting');
      const windows = [...Object.keys(limit?.config ?? {}), ...(plugins.some((p) => p.name === 'key-auth') ? tierWindows : [])].filter((w) => ['second', 'minute', 'hour', 'day', 'month', 'year'].includes(w));
      const added = [
        ...(windows.length ? ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'] : []),
        ...windows.flatMap((w) => [`X-RateLimit-Limit-${w[0]!.toUpperCase()}${w.slice(1)}`, `X-RateLimit-Remaining-${w[0]!.toUpperCase()}${w.slice(1)}`]),
        ...(plugins.some((p) => p.name === 'key-auth' || p.name === 'jwt') ? ['WWW-Authenticate'] : []),
      ];
      expect(cors.config.exposed_headers ?? [], route.name).toEqual(expect.arrayContaining(added));
      checked += added.length;
    }
    if (example === 'metered-api.ttl') expect(checked).toBeGreaterThan(0);
  });
});

describe('kong target: https backends', () => {
  it("verify the backend's certificate, as the gateway does, canaries included; NOTES.md says where Kong's CAs go", async () => {
    const k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:pay, ex:plain .
ex:stripe a agw:BackendService ; agw:serviceName "stripe" ; agw:host "api.stripe.com" ; agw:port 443 ; agw:protocol "https" .
ex:stripe-next a agw:BackendService ; agw:serviceName "stripe-next" ; agw:host "next.stripe.example" ; agw:port 8443 ; agw:protocol "https" .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:main a agw:TrafficSplit ; agw:hasBackendService ex:stripe ; agw:weight 100 .
ex:canary a agw:TrafficSplit ; agw:hasBackendService ex:stripe-next ; agw:matchHeader "x-next" ; agw:matchHeaderValue "1" .
ex:pay a agw:Route ; agw:routeName "pay" ; agw:routePath "/pay" ; agw:hasTrafficSplit ex:main, ex:canary .
ex:plain a agw:Route ; agw:routeName "plain" ; agw:routePath "/plain" ; agw:hasBackendService ex:svc .
`);
    expect(validateKong(k.doc), JSON.stringify(validateKong.errors)).toBe(true);
    const byName = new Map(k.doc.services.map((s) => [s.name, s]));
    expect(byName.get('pay')).toMatchObject({ protocol: 'https', tls_verify: true });
    expect(byName.get('pay.stripe-next')).toMatchObject({ protocol: 'https', tls_verify: true });
    expect(byName.get('plain')!.tls_verify).toBeUndefined();
    expect(k.notes).toMatch(/## agw:protocol "https"\n\n[^\n]*KONG\\_NGINX\\_PROXY\\_PROXY\\_SSL\\_TRUSTED\\_CERTIFICATE[^\n]*\n\nApplies to: route pay, route pay.stripe-next\n/);
  });
});

describe('kong target: route timeouts', () => {
  it("lists that Kong's timeouts bound each read and write, not the whole request, for routes with agw:timeoutSeconds only", async () => {
    const k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:timed, ex:untimed .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:timed a agw:Route ; agw:routeName "timed" ; agw:routePath "/timed" ; agw:hasBackendService ex:svc ; agw:timeoutSeconds 5 .
ex:untimed a agw:Route ; agw:routeName "untimed" ; agw:routePath "/untimed" ; agw:hasBackendService ex:svc .
`);
    expect(k.doc.services.find((s) => s.name === 'timed')!.read_timeout).toBe(5000);
    expect(k.notes).toMatch(/## agw:timeoutSeconds \(whole request\)\n\n[^\n]*never cut off[^\n]*\n\nApplies to: route timed\n/);
  });
});

describe('kong target: issuers and probes as Kong runs them (test/fixtures/valid/kong-issuers-and-mtls-probes.ttl)', () => {
  type Plugin = { name: string; config: Record<string, unknown> };
  type Side = Record<string, number | undefined>;
  type Upstream = Omit<KongDoc['upstreams'][number], 'healthchecks'> & { client_certificate?: { id: string }; healthchecks?: Record<string, { type?: string; healthy?: Side; unhealthy?: Side }> };
  type Consumer = NonNullable<KongDoc['consumers']>[number] & { acls?: Array<{ group: string }> };
  let k: Awaited<ReturnType<typeof kongOf>>;
  beforeAll(async () => {
    k = await kongOf(join(ROOT, 'test/fixtures/valid/kong-issuers-and-mtls-probes.ttl'));
  });

  /**
   * What Kong answers a route for a valid token of an issuer (kong/plugins/jwt/handler.lua, then
   * kong/plugins/acl): the jwt plugin finds the credential by iss among every consumer's; the acl
   * plugin, where there is one, lets only a consumer in an allowed group through.
   */
  const kongAnswers = (route: string, iss: string): number => {
    const plugins = (k.doc.services.flatMap((s) => s.routes).find((r) => r.name === route)!.plugins ?? []) as Plugin[];
    const consumer = (k.doc.consumers as Consumer[]).find((c) => (c.jwt_secrets ?? []).some((j) => j.key === iss));
    if (!consumer) return 401;
    const acl = plugins.find((p) => p.name === 'acl');
    if (acl && !(consumer.acls ?? []).some((a) => (acl.config.allow as string[]).includes(a.group))) return 403;
    return 200;
  };

  it.each([
    ['orders', 'https://shop.example.com', 200],
    ['orders', 'https://staff.example.com', 403],
    ['admin', 'https://staff.example.com', 200],
    ['admin', 'https://shop.example.com', 403],
    ['reports', 'https://shop.example.com', 403],
    ['reports', 'https://staff.example.com', 403],
  ] as const)('route %s, a valid token of %s: Kong answers %i (the gateway accepts only the route\'s issuer)', (route, iss, status) => {
    expect(kongAnswers(route, iss)).toBe(status);
  });

  it('a consumer added for the JWKS issuer, as NOTES.md says, is let through its routes', () => {
    const group = /the acl group (\S+) /.exec(k.notes)![1]!;
    const plugins = k.doc.services.find((s) => s.name === 'reports')!.routes[0]!.plugins as Plugin[];
    expect(plugins.find((p) => p.name === 'acl')!.config).toEqual({ allow: [group], hide_groups_header: true });
  });

  it('each upstream of an mTLS backend gives its probes the client certificate its services present', () => {
    const certificate = k.doc.certificates![0]!.id;
    const upstreams = k.doc.upstreams as Upstream[];
    const probed = upstreams.filter((u) => u.healthchecks?.active);
    expect(probed.map((u) => u.name).sort()).toEqual(['admin.vault.upstream', 'billing.plain.upstream', 'ledger.upstream']);
    for (const service of k.doc.services) {
      const upstream = upstreams.find((u) => u.name === service.host)!;
      expect(upstream.client_certificate?.id, service.name).toBe(service.client_certificate);
    }
    expect(upstreams.find((u) => u.name === 'ledger.upstream')!.client_certificate).toEqual({ id: certificate });
    expect(upstreams.find((u) => u.name === 'billing.plain.upstream')!.client_certificate).toBeUndefined();
  });

  it("no probe is a tcp probe, no check is of type grpc (Kong's health checker refuses it), and no counter reaches 255 (it asserts each is below)", () => {
    for (const u of k.doc.upstreams as Upstream[]) {
      const checks = u.healthchecks ?? {};
      expect(checks.active?.type, u.name).not.toBe('tcp');
      for (const c of Object.values(checks)) expect(['http', 'https'], u.name).toContain(c.type);
      for (const side of Object.values(checks).flatMap((c) => [c.healthy, c.unhealthy])) {
        for (const key of ['successes', 'http_failures', 'tcp_failures', 'timeouts']) expect(side?.[key] ?? 0, `${u.name} ${key}`).toBeLessThan(255);
      }
    }
    expect((k.doc.upstreams as Upstream[]).find((u) => u.name === 'ledger.upstream')!.healthchecks!.active!.healthy!.successes).toBe(254);
  });

  it('a gRPC service gets no health check and a gRPC route no circuit breaker in Kong (its probes speak HTTP/1.x only), and NOTES.md says so', () => {
    const upstreams = k.doc.upstreams as Upstream[];
    expect(upstreams.find((u) => u.name === k.doc.services.find((s) => s.name === 'rpc')!.host)!.healthchecks).toBeUndefined();
    expect(noteOn(k.notes, 'agw:hasHealthCheck on a gRPC service')[0]).toContain('\n\nApplies to: service grpc\n');
    expect(noteOn(k.notes, 'agw:hasCircuitBreaker on a gRPC route')[0]).toContain('\n\nApplies to: route rpc\n');
    expect(noteOn(k.notes, 'agw:hasCircuitBreaker').join('\n')).not.toMatch(/route rpc\b/);
  });
});

describe('kong target: X-Consumer-Name, which the gateway sets and drops from clients', () => {
  type Transformer = { name: string; config: { remove?: { headers?: string[] }; add?: { headers?: string[] } } };
  let k: Awaited<ReturnType<typeof kongOf>>;
  beforeAll(async () => {
    k = await kongOfText(`
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:keyed, ex:open, ex:signed ; agw:hasConsumer ex:acme, ex:beta .
ex:s a agw:BackendService ; agw:serviceName "s" .
ex:keyed a agw:Route ; agw:routeName "keyed" ; agw:routePath "/keyed" ; agw:hasBackendService ex:s ; agw:hasAuthentication [ a agw:ApiKey ] .
ex:open a agw:Route ; agw:routeName "open" ; agw:routePath "/open" ; agw:hasBackendService ex:s .
ex:signed a agw:Route ; agw:routeName "signed" ; agw:routePath "/signed" ; agw:hasBackendService ex:s ;
  agw:hasAuthentication [ a agw:JWTAuthentication ; agw:issuer "https://idp.example" ; agw:algorithm "HS256" ; agw:secretEnv "JWT_SECRET" ] .
ex:acme a agw:Consumer ; agw:consumerName "acme" ; agw:apiKeyEnv "ACME_KEY" .
ex:beta a agw:Consumer ; agw:consumerName "beta" ; agw:apiKeyEnv "BETA_KEY" .
`);
  });

  /**
   * The X-Consumer-Name a backend gets behind Kong: Kong runs one request-transformer per request,
   * the consumer's over the global one (kong/runloop/plugins_iterator.lua), removing, then adding.
   */
  const upstreamValue = (consumer: string | undefined, sent: string | undefined): string | undefined => {
    const scoped = consumer === undefined ? undefined : (k.doc.consumers!.find((c) => c.username === consumer)!.plugins ?? []).find((p) => p.name === 'request-transformer');
    const plugin = (scoped ?? k.doc.plugins.find((p) => p.name === 'request-transformer' && !p.route && !p.consumer)) as Transformer | undefined;
    let value = sent;
    if (plugin?.config.remove?.headers?.some((h) => h.toLowerCase() === 'x-consumer-name')) value = undefined;
    const added = plugin?.config.add?.headers?.find((h) => h.toLowerCase().startsWith('x-consumer-name:'));
    if (added !== undefined && value === undefined) value = added.slice(added.indexOf(':') + 1);
    return value;
  };

  it.each([
    ['acme', undefined, 'acme'],
    ['acme', 'beta', 'acme'],
    ['beta', undefined, 'beta'],
    [undefined, 'acme', undefined],
    ['the issuer', 'acme', undefined],
  ] as const)('a request Kong identifies as %s, sent with X-Consumer-Name %s, reaches the backend with %s (as through the gateway)', (consumer, sent, expected) => {
    const who = consumer === 'the issuer' ? k.doc.consumers!.find((c) => c.username.startsWith('jwt-'))!.username : consumer;
    expect(upstreamValue(who, sent)).toBe(expected);
  });

  it('NOTES.md says that Kong neither names nor limits a consumer a JWT names', () => {
    expect(noteOn(k.notes, 'JWT and agw:Consumer')[0]).toContain('\n\nApplies to: route signed\n');
  });
});
