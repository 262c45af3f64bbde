import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generate } from '../dist/index.js';
import { gwgen, ROOT, tempDir } from './helpers.js';
import { checkOutput } from './output-checks.js';
import { renderDeck } from './deck-render.js';

/**
 * Drop-in: every test/fixtures/valid/*.ttl and examples/*.ttl validates and generates every
 * target into output that passes test/output-checks.ts (schemas, the invariants beyond them,
 * prettier's form, determinism) and Kong config that passes the schema.
 */
const schema = JSON.parse(readFileSync(join(ROOT, 'test/schemas/kong-declarative.schema.json'), 'utf8'));
const validateKong = new Ajv({ allErrors: true, strict: true }).compile(schema);
const models = [
  ...readdirSync(join(ROOT, 'test/fixtures/valid')).filter((f) => f.endsWith('.ttl')).map((f) => `test/fixtures/valid/${f}`),
  ...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ttl')).map((f) => `examples/${f}`),
].sort();

describe.each(models)('valid model %s', (model) => {
  it('every target generates output that passes the output checks (test/output-checks.ts)', async ({ expect }) => {
    await checkOutput([model], expect);
  });

  it('generates Kong config that passes the schema', async () => {
    const result = await generate({ models: [model], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
    const doc = parse(renderDeck(result.files.find((f) => f.path === 'kong/kong.yml')!.content));
    expect(validateKong(doc), JSON.stringify(validateKong.errors)).toBe(true);
  });
});

describe('a node with no property besides its class', () => {
  it('a bare agw:ApiKey still protects its route (X-API-Key by default)', async () => {
    const result = await generate({ models: ['test/fixtures/valid/bare-api-key.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.model.routes[0]!.auth).toEqual({ kind: 'apiKey', id: 'https://example.org/bare#key', keyHeader: 'X-API-Key' });
    const kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content);
    expect(kong.services[0].routes[0].plugins.map((p: { name: string }) => p.name)).toContain('key-auth');
  });
});

describe('names derived from IRIs', () => {
  it('read %XX and accented letters as the text they spell; a tier IRI without a local name takes its consumer\'s name', async () => {
    const out = tempDir();
    const r = await gwgen(['generate', 'test/fixtures/valid/names-from-encoded-iris.ttl', '-o', out, '-t', 'gateway,kong']);
    expect(r.exitCode, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'gateway/config.json'), 'utf8'));
    expect(config.routes.map((route: { name: string }) => route.name).sort()).toEqual(['apfel-route', 'get-users']);
    expect(config.consumers).toMatchObject([{ name: 'zoe', tier: { name: 'zoe' } }]);
    const kong = parse(readFileSync(join(out, 'kong/kong.yml'), 'utf8'));
    expect(kong.services.map((service: { name: string }) => service.name).sort()).toEqual(['apfel-route', 'get-users']);
  });
});

describe('numbers in every Turtle spelling of their datatype', () => {
  it('mean the same number: "+7"^^xsd:integer, 007, .25, 5.0e-1, 1E0 and "1.5E1"^^xsd:double', async () => {
    const result = await generate({ models: ['test/fixtures/valid/number-spellings.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const config = JSON.parse(result.files.find((f) => f.path === 'gateway/config.json')!.content);
    expect(config.gateway.listenPort).toBe(8081);
    expect(config.tracing.samplingRate).toBe(0.5);
    const route = (name: string) => config.routes.find((r: { name: string }) => r.name === name);
    expect(route('r1')).toMatchObject({ timeoutMs: 500, cost: 0, rateLimit: { windows: [{ limit: 7, capacity: 7 }] }, retry: { attempts: 2, backoffMultiplier: 1, initialDelayMs: 0, perTryTimeoutMs: 1000 } });
    expect(route('r2')).toMatchObject({ timeoutMs: 250, circuitBreaker: { failureThreshold: 3, openMs: 15000 }, mirror: { percent: 50 } });
    expect(config.services.find((s: { name: string }) => s.name === 's').healthCheck.intervalMs).toBe(500);
  });
});

describe('blank nodes, defaults and instances', () => {
  it('extracts policies written as blank nodes and applies the defaults', async () => {
    const result = await generate({ models: ['test/fixtures/valid/blank-nodes.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const [route] = result.model.routes;
    expect(route!.name).toBe('orders-route');
    expect(route!.methods).toEqual([]);
    expect(route!.rateLimit).toMatchObject({ limits: { minute: 600 }, limitBy: 'global', policy: 'local', burstSize: 600 });
    expect(route!.circuitBreaker).toMatchObject({ failureThreshold: 7, timeoutSeconds: 15, halfOpenRequests: 1 });
    const [service] = result.model.services;
    expect(service!.instances.map((i) => [i.host, i.port, i.weight])).toEqual([
      ['10.0.0.1', 9000, 75],
      ['10.0.0.2', 9001, 25],
    ]);
    const kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content);
    const upstream = kong.upstreams.find((u: { name: string }) => u.name === kong.services[0].host);
    expect(upstream.targets).toEqual([
      { target: '10.0.0.1:9000', weight: 7500, tags: expect.any(Array) },
      { target: '10.0.0.2:9001', weight: 2500, tags: expect.any(Array) },
    ]);
    expect(kong.services[0].routes[0].paths).toEqual(['~/orders/(?<orderId>[^/]+)/items(?:/|$)']);
  });
});

describe('keys that several nodes share', () => {
  it('Kong holds a shared API key once (for the first consumer) and the HS256 credential of an issuer whose first route has none', async () => {
    const result = await generate({ models: ['test/fixtures/valid/shared-keys.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const kong = parse(renderDeck(result.files.find((f) => f.path === 'kong/kong.yml')!.content));
    const byName = (name: string) => kong.consumers.find((c: { username: string }) => c.username === name);
    expect(byName('app').keyauth_credentials).toEqual([{ key: 'value of DECK_SHARED_KEY', tags: expect.any(Array) }]);
    expect(byName('legacy').keyauth_credentials).toBeUndefined();
    const jwt = kong.consumers.flatMap((c: { jwt_secrets?: unknown[] }) => c.jwt_secrets ?? []);
    expect(jwt).toEqual([{ key: 'https://auth.example.com/', algorithm: 'HS256', secret: 'value of DECK_JWT_SECRET', tags: expect.any(Array) }]);
    const notes = result.files.find((f) => f.path === 'kong/NOTES.md')!.content;
    expect(notes).toContain('shares SHARED\\_KEY with consumer app');
  });
});

describe('a header value Kong would read as a regex', () => {
  it('is written as the regex that matches exactly that value', async () => {
    const result = await generate({ models: ['test/fixtures/valid/regex-looking-header-value.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content);
    const canary = kong.services.find((s: { name: string }) => s.name === 'r.beta').routes[0];
    expect(canary.headers).toEqual({ 'x-env': ['~*^~\\*beta\\.\\*$'] });
    expect(new RegExp(canary.headers['x-env'][0].slice(2)).test('~*beta.*')).toBe(true);
    expect(new RegExp(canary.headers['x-env'][0].slice(2)).test('beta-1')).toBe(false);
  });
});

describe('durations and counts past what a target holds', () => {
  it('are written as the longest each target takes, and every target says which', async () => {
    const result = await generate({ models: ['test/fixtures/valid/huge-durations.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const file = (path: string) => result.files.find((f) => f.path === path)!.content;
    const docs = (path: string) => parseAllDocuments(file(path)).map((d) => d.toJS());
    // Istio: Go's longest duration, and a uint32 error count.
    const vs = docs('istio/virtualservice.yaml')[0];
    const slow = vs.spec.http.find((h: { name: string }) => h.name === 'huge.slow');
    expect(slow.timeout).toBe('9223372036.854s');
    expect(slow.retries).toMatchObject({ perTryTimeout: '9223372036.854s', backoff: '9223372036.854s' });
    expect(slow.corsPolicy.maxAge).toBe('9223372036.854s');
    const svc = docs('istio/destinationrules.yaml').find((d: { metadata: { name: string } }) => d.metadata.name === 'svc');
    expect(svc.spec.trafficPolicy.outlierDetection).toMatchObject({ consecutive5xxErrors: 4294967295, baseEjectionTime: '9223372036.854s' });
    expect(svc.spec.trafficPolicy.connectionPool.tcp.connectTimeout).toBe('9223372036.854s');
    const istioNotes = file('istio/NOTES.md');
    for (const feature of ['agw:timeoutSeconds', 'agw:perTryTimeoutSeconds', 'agw:initialDelayMs', 'agw:timeoutSeconds of agw:CircuitBreaker', 'agw:maxAgeSeconds']) {
      expect(istioNotes).toContain(`## ${feature} (above Istio's maximum)`);
    }
    expect(istioNotes).toContain('Applies to: route forever, route slow');
    expect(istioNotes).toContain("## agw:failureThreshold (above Istio's maximum)");
    // Envoy's token bucket counts in uint32.
    const bucket = docs('istio/ratelimits.yaml')
      .flatMap((d: { spec: { configPatches: Array<{ patch: { value: unknown } }> } }) => d.spec.configPatches.map((p) => JSON.stringify(p.patch.value)))
      .join('\n');
    expect(bucket).toContain('"max_tokens":4294967295');
    expect(bucket).toContain('"tokens_per_fill":4294967295');
    for (const feature of ['agw:burstSize', 'agw:requestsPerSecond']) expect(istioNotes).toContain(`## ${feature} (above Envoy's maximum)`);
    // Kubernetes: int32 probe fields and replica counts.
    const backend = docs('k8s/backend-svc.yaml');
    const probe = backend.find((d: { kind: string }) => d.kind === 'Deployment').spec.template.spec.containers[0].readinessProbe;
    expect(probe).toMatchObject({ periodSeconds: 2147483647, successThreshold: 2147483647, failureThreshold: 2147483647 });
    expect(backend.find((d: { kind: string }) => d.kind === 'HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 2147483647, maxReplicas: 2147483647 });
    const k8sNotes = file('k8s/NOTES.md');
    for (const feature of ['agw:replicas', 'agw:successThreshold', 'agw:failureThresholdHealth']) expect(k8sNotes).toContain(`## ${feature} (above Kubernetes' maximum)`);
    // The gateway: Node's longest timer; CORS max-age at most 2^31 - 1 s, in Kong too.
    const config = JSON.parse(file('gateway/config.json'));
    const route = (name: string) => config.routes.find((r: { name: string }) => r.name === name);
    expect(route('forever')).toMatchObject({ timeoutMs: 2147483647, circuitBreaker: { openMs: 2147483647 }, retry: { perTryTimeoutMs: 2147483647 }, cors: { maxAgeSeconds: 2147483647 } });
    expect(route('slow').retry.initialDelayMs).toBe(2147483647);
    expect(config.services.map((s: { healthCheck: { intervalMs: number } }) => s.healthCheck.intervalMs)).toEqual([2147483647, 2147483647]);
    const readme = file('gateway/README.md');
    expect(readme).toContain('agw:healthCheckInterval of service monthly, agw:healthCheckInterval of service svc, agw:timeoutSeconds of route forever');
    expect(readme).toContain('the longer agw:maxAgeSeconds of routes forever, slow');
    const kong = parse(file('kong/kong.yml'));
    const cors = kong.services.flatMap((s: { routes: { plugins: { name: string; config: { max_age: number } }[] }[] }) => s.routes.flatMap((r) => r.plugins.filter((p) => p.name === 'cors')));
    expect(cors.map((p: { config: { max_age: number } }) => p.config.max_age)).toEqual([2147483647, 2147483647]);
    expect(file('kong/NOTES.md')).toContain('## agw:maxAgeSeconds (above the longest max-age)');
  });
});

describe('IPv6 CIDRs with an embedded IPv4 part', () => {
  it('are accepted; an IPv4-mapped range is the IPv4 range it maps in every target, another stays as written', async () => {
    const result = await generate({ models: ['test/fixtures/valid/ipv6-embedded-ipv4-cidrs.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const file = (path: string) => result.files.find((f) => f.path === path)!.content;
    const mapped = { allow: ['10.0.0.0/8', '192.168.0.0/16'], deny: ['10.1.2.3/32'] };
    const nat64 = { allow: ['0.0.0.0/0', '64:ff9b::192.0.2.0/120'], deny: ['64:ff9b::192.0.2.33/128', '::ffff:0:0/80'] };
    const config = JSON.parse(file('gateway/config.json'));
    const gatewayIp = (name: string) => config.routes.find((r: { name: string }) => r.name === name).ipRestriction;
    expect(gatewayIp('mapped')).toEqual(mapped);
    expect(gatewayIp('nat64')).toEqual(nat64);
    const kong = parse(file('kong/kong.yml'));
    const kongIp = (name: string) => kong.services.find((s: { name: string }) => s.name === name).routes[0].plugins.find((p: { name: string }) => p.name === 'ip-restriction').config;
    expect(kongIp('mapped')).toMatchObject(mapped);
    expect(kongIp('nat64')).toMatchObject(nat64);
    const blocks = parseAllDocuments(file('istio/security.yaml'))
      .map((d) => d.toJS())
      .flatMap((d: { spec?: { rules?: { from?: { source: Record<string, string[]> }[] }[] } }) => (d.spec?.rules ?? []).flatMap((r) => (r.from ?? []).map((f) => f.source)));
    expect(blocks.flatMap((b) => b.notRemoteIpBlocks ?? []).sort()).toEqual([...mapped.allow, ...nat64.allow].sort());
    expect(blocks.flatMap((b) => b.remoteIpBlocks ?? []).sort()).toEqual([...mapped.deny, ...nat64.deny].sort());
    const policy = parseAllDocuments(file('k8s/gateway.yaml')).map((d) => d.toJS()).find((d: { kind: string }) => d.kind === 'NetworkPolicy');
    // The union of what the routes serve, in Kubernetes' canonical form: 0.0.0.0/0 holds the mapped route's ranges.
    expect(policy.spec.ingress[0].from).toEqual([{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '64:ff9b::c000:200/120', except: ['64:ff9b::c000:221/128'] } }]);
  });
});

describe('CORS origins in any spelling of an origin', () => {
  it('are written as browsers send them, once each, in every target', async () => {
    const result = await generate({ models: ['test/fixtures/valid/origin-spellings.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const expected = ['http://[::1]:3000', 'http://localhost', 'https://app.example.com', 'https://xn--bcher-kva.example'];
    expect(result.model.routes[0]!.cors?.origins).toEqual(expected);
    const file = (path: string) => result.files.find((f) => f.path === path)!.content;
    expect(JSON.parse(file('gateway/config.json')).routes[0].cors.origins).toEqual(expected);
    const kong = parse(file('kong/kong.yml'));
    const cors = kong.services[0].routes[0].plugins.find((p: { name: string }) => p.name === 'cors');
    // Kong reads an origin with other characters than [A-Za-z0-9.:/-] as a regex: the IPv6 one is escaped.
    expect(cors.config.origins).toEqual(['http://\\[::1\\]:3000', ...expected.slice(1)]);
    expect(file('kong/kong.yml')).not.toMatch(/App\.Example|:443|bücher/);
  });
});

describe('policies without the properties vocabulary.md leaves optional', () => {
  it('an mTLS mode, a mirror percentage and a breaker threshold and open time take their defaults', async () => {
    const result = await generate({ models: ['test/fixtures/valid/policy-defaults.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const [route] = result.model.routes;
    expect(route!.mirror).toMatchObject({ service: 'shadow', percent: 100 });
    expect(route!.circuitBreaker).toMatchObject({ failureThreshold: 5, timeoutSeconds: 30, halfOpenRequests: 1 });
    expect(result.model.services.find((s) => s.name === 'svc')!.mtls?.mode).toBe('STRICT');
    expect(result.model.gateway.mesh?.mtls?.mode).toBe('STRICT');
    const config = JSON.parse(result.files.find((f) => f.path === 'gateway/config.json')!.content);
    expect(config.routes[0]).toMatchObject({ mirror: { service: 'shadow', percent: 100 }, circuitBreaker: { failureThreshold: 5, openMs: 30000 }, retry: { attempts: 2 } });
    expect(route!.retry).toMatchObject({ attempts: 2, retryOn: ['5xx', 'connect-failure'] });
    const kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content);
    expect(kong.services.find((s: { name: string }) => s.name === 'r1').retries).toBe(2);
    const istio = result.files.filter((f) => f.path.startsWith('istio/')).map((f) => f.content).join('\n');
    expect(istio).toMatch(/retries:\n\s+attempts: 2\n/);
  });
});

describe('quota tiers and rate limiters written as blank nodes', () => {
  it('are named after their consumer, not after a blank-node label', async () => {
    const result = await generate({ models: ['test/fixtures/valid/blank-quota-tier.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const tiers = Object.fromEntries(result.model.consumers.map((c) => [c.name, c.quotaTier?.name]));
    expect(tiers).toEqual({ amy: 'amy', bob: 'amy', cy: 'gold', zoe: 'zoe' });
    const kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content);
    const tags = kong.consumers.flatMap((c: { plugins?: { tags: string[] }[] }) => (c.plugins ?? []).flatMap((p) => p.tags.filter((t) => t.startsWith('tier:'))));
    expect(tags.sort()).toEqual(['tier:amy', 'tier:amy', 'tier:gold', 'tier:zoe']);
    const config = JSON.parse(result.files.find((f) => f.path === 'gateway/config.json')!.content);
    const limiters = Object.fromEntries(config.routes.map((r: { name: string; rateLimit?: { id?: string } }) => [r.name, r.rateLimit?.id ?? null]));
    expect(limiters).toEqual({ r1: null, r2: 'named-limit' });
  });
});

describe('REDIS_URL in the gateway README', () => {
  // Quota tiers count in Redis whenever REDIS_URL is set, whatever the rate limiters' policy.
  it.each([
    ['test/fixtures/valid/blank-quota-tier.ttl', 'REDIS\\_URL: Redis for the quota tiers, shared by every replica (optional)'],
    ['examples/metered-api.ttl', 'REDIS\\_URL: Redis for the rate limiters with policy "redis" and the quota tiers'],
    ['examples/mesh-shop.ttl', 'REDIS\\_URL: Redis for the rate limiters with policy "redis"; without it'],
  ])('%s', async (model, line) => {
    const result = await generate({ models: [model], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.files.find((f) => f.path === 'gateway/README.md')!.content).toContain(line);
  });
});
