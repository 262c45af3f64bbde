import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate, type GatewayModel } from '../dist/index.js';
import { markdownText } from '../dist/pipeline/helpers.js';
import { ROOT } from './helpers.js';
import { requestsFor, routeChoiceDifferences } from './route-choice.js';

/**
 * One model, one meaning: each target's output is read back (from YAML, not from the views
 * that wrote it) into the same per-route facts, and for every route of every example each fact
 * either equals what the model says or is a documented limitation: the target's NOTES.md names
 * the feature and the route or service.
 *
 * A reader per target. To add one, write a Reader that turns the target's files into RouteFacts
 * and add it to READERS.
 *
 * The gateway target is read from gateway/config.json, the data its runtime loads. Its notes are
 * the list under "## Notes" in gateway/README.md. mTLS: config.json carries each service's mode
 * (its own, else the mesh's); the runtime presents the client certificate of GW_MTLS_CERT to
 * STRICT and PERMISSIVE services, which test/gateway-e2e.test.ts checks over real TLS.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
type Model = GatewayModel;
type Route = Model['routes'][number];

/** A fact a target cannot express: its NOTES.md must name `feature` and `subject`. */
interface Unsupported {
  readonly unsupported: true;
  readonly feature: string;
  readonly subject: string;
}
const unsupported = (feature: string, subject: string): Unsupported => ({ unsupported: true, feature, subject });
type Fact<T> = T | Unsupported;

interface RouteFacts {
  /** The route path with every parameter as `{}`. */
  readonly path: string;
  /** Sorted; empty = every method. */
  readonly methods: readonly string[];
  /** Weighted destinations by service, weights in percent. */
  readonly backends: Fact<readonly { service: string; weight: number }[]>;
  /** Header-matched canaries. */
  readonly canaries: readonly { service: string; header: string; value: string }[];
  /** The shortest window's limit, and the token-bucket burst. */
  readonly rate?: { window: string; limit: number };
  readonly burst?: Fact<number>;
  readonly timeoutSeconds?: Fact<number>;
  readonly retryAttempts: number;
  readonly auth: 'none' | 'jwt' | 'apiKey';
  readonly issuer?: Fact<string>;
  readonly audiences?: Fact<readonly string[]>;
  /** Consecutive failures that open the breaker (eject), per service of the route. */
  readonly breaker?: Fact<number>;
  /** The mTLS mode per service of the route. */
  readonly mtls: Readonly<Record<string, Fact<string | undefined>>>;
}

interface Output {
  readonly model: Model;
  readonly files: Readonly<Record<string, string>>;
}

interface Reader {
  readonly target: string;
  /** The target's notes that concern `feature`, one text per note; none when it has none. */
  notesOn(feature: string): string[];
  facts(out: Output, route: Route): RouteFacts;
  /**
   * Quota tiers, route costs and mirrors as the target's output states them, for a target that
   * expresses them; without this, the target's notes must name each (or, for mirrors, the
   * check reads the output itself).
   */
  readonly extras?: {
    tier(consumer: string): { limits: Record<string, number>; monthlyQuota?: number } | undefined;
    cost(route: string): number;
    mirror(route: string): { service: string; percent: number } | undefined;
  };
}

/** NOTES.md sections whose heading is `feature` (Kong and Istio). */
const sectionsOn = (notes: string) => (feature: string) => notes.split('\n## ').filter((s) => s.startsWith(`${feature}\n`));

const WINDOWS = ['second', 'minute', 'hour', 'day'] as const;
const WINDOW_SECONDS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400 };
const byService = (a: { service: string }, b: { service: string }) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0);
const sorted = <T>(list: readonly T[]) => [...list].sort();
/** As the gateway's router reads a route path: a trailing "/" ends it. */
const canonicalPath = (path: string) => path.replace(/\{[^}]*\}/g, '{}').replace(/(.)\/$/, '$1');
/** The methods Kong lists on a route that takes every method (Kong ranks a route without methods below every route with). */
const KONG_EVERY_METHOD = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'];
const routeServices = (r: Route) => [...new Set([...(r.service ? [r.service] : []), ...r.splits.map((s) => s.service)])].sort();

/** What the model says, in the readers' terms. */
function expected(model: Model, route: Route): RouteFacts {
  const weighted = route.splits.filter((s) => s.weight !== undefined && s.weight > 0);
  const limiter = route.rateLimit;
  const shortest = limiter ? WINDOWS.find((w) => limiter.limits[w] !== undefined)! : undefined;
  const services = new Map(model.services.map((s) => [s.name, s]));
  return {
    path: canonicalPath(route.path),
    methods: route.methods,
    backends: weighted.length > 0 ? weighted.map((s) => ({ service: s.service, weight: s.weight! })).sort(byService) : [{ service: route.service!, weight: 100 }],
    canaries: route.splits.filter((s) => s.matchHeader).map((s) => ({ service: s.service, header: s.matchHeader!.name.toLowerCase(), value: s.matchHeader!.value })).sort(byService),
    ...(limiter && shortest ? { rate: { window: shortest, limit: limiter.limits[shortest]! }, burst: limiter.burstSize } : {}),
    ...(route.timeoutSeconds !== undefined ? { timeoutSeconds: route.timeoutSeconds } : {}),
    retryAttempts: route.retry?.attempts ?? 0,
    auth: route.auth?.kind ?? 'none',
    ...(route.auth?.kind === 'jwt' ? { issuer: route.auth.issuer, audiences: route.auth.audiences } : {}),
    ...(route.circuitBreaker ? { breaker: route.circuitBreaker.failureThreshold } : {}),
    mtls: Object.fromEntries(routeServices(route).map((s) => [s, services.get(s)!.mtls?.mode ?? model.gateway.mesh?.mtls?.mode])),
  };
}

// --- Kong: kong/kong.yml -------------------------------------------------------------------

function kongReader(out: Output): Reader {
  const doc = parse(out.files['kong/kong.yml']!) as Doc;
  const addressOf = new Map<string, string>();
  for (const s of out.model.services) {
    addressOf.set(`${s.host}:${s.port}`, s.name);
    for (const i of s.instances) addressOf.set(`${i.host}:${i.port}`, s.name);
  }
  const services = new Map(out.model.services.map((s) => [s.name, s]));
  return {
    target: 'kong',
    notesOn: sectionsOn(out.files['kong/NOTES.md']!),
    facts(_, route) {
      const service = doc.services.find((s: Doc) => s.name === route.name);
      const kr = service.routes[0];
      const plugins = (kr.plugins ?? []) as Doc[];
      const upstream = doc.upstreams.find((u: Doc) => u.name === service.host);
      const weights = new Map<string, number>();
      for (const t of upstream.targets) weights.set(addressOf.get(t.target)!, (weights.get(addressOf.get(t.target)!) ?? 0) + t.weight / 100);
      // A Kong service speaks one protocol to every target of its upstream: each must be a service of that protocol.
      for (const t of upstream.targets) expect(service.protocol, `kong service ${service.name}: target ${t.target}`).toBe(services.get(addressOf.get(t.target)!)!.protocol);
      const canaries = doc.services
        .filter((s: Doc) => s.name.startsWith(`${route.name}.`) && s.routes[0].headers)
        .map((s: Doc) => {
          const [header, values] = Object.entries(s.routes[0].headers as Record<string, string[]>)[0]!;
          return { service: s.name.slice(route.name.length + 1), header: header.toLowerCase(), value: values[0]! };
        });
      const rl = plugins.find((p) => p.name === 'rate-limiting');
      const window = rl ? WINDOWS.find((w) => rl.config[w] !== undefined) : undefined;
      const jwtCredential = (doc.consumers ?? []).flatMap((c: Doc) => c.jwt_secrets ?? []).find((j: Doc) => route.auth?.kind === 'jwt' && j.key === route.auth.issuer);
      const perTry = route.retry?.perTryTimeoutSeconds;
      const auth = plugins.some((p) => p.name === 'jwt') ? 'jwt' : plugins.some((p) => p.name === 'key-auth') ? 'apiKey' : 'none';
      return {
        // `~/a/(?<id>[^/]+)(?:/|$)`: the segments, then the end of the path or a "/".
        path: canonicalPath(kr.paths[0].replace(/^~/, '').replace(/\(\?:\/\|\$\)$/, '').replace(/\(\?<[^>]+>\[\^\/\]\+\)/g, '{}').replace(/\\(.)/g, '$1')),
        // Kong's route also matches OPTIONS when CORS needs the preflight; it lists every method it names where the route takes any.
        methods: kr.methods.join() === KONG_EVERY_METHOD.join() ? [] : (kr.methods as string[]).filter((m) => m !== 'OPTIONS' || !route.cors || route.methods.includes('OPTIONS')),
        // Weighted splits share one upstream, which one Kong service reaches over one protocol.
        backends:
          route.splits.filter((s) => (s.weight ?? 0) > 0).length > 1 && !upstream.name.endsWith('.split.upstream')
            ? unsupported('agw:hasTrafficSplit across protocols', `route ${route.name}`)
            : [...weights].map(([s, weight]) => ({ service: s, weight })).sort(byService),
        canaries: canaries.sort(byService),
        ...(rl && window ? { rate: { window, limit: rl.config[window] }, burst: rl.config[window] === route.rateLimit!.burstSize ? rl.config[window] : unsupported('agw:burstSize', `route ${route.name}`) } : {}),
        // Kong has one (per-try) timeout: the per-try timeout when there is one, else the route's.
        ...(service.read_timeout !== undefined && perTry === undefined ? { timeoutSeconds: service.read_timeout / 1000 } : {}),
        ...(perTry !== undefined && route.timeoutSeconds !== undefined ? { timeoutSeconds: unsupported('agw:timeoutSeconds', `route ${route.name}`) } : {}),
        retryAttempts: service.retries,
        auth,
        ...(auth === 'jwt'
          ? {
              issuer: jwtCredential ? jwtCredential.key : unsupported('agw:jwksUri', `issuer ${(route.auth as { issuer: string }).issuer}`),
              audiences: (route.auth as { audiences: readonly string[] }).audiences.length > 0 ? unsupported('agw:audience', `route ${route.name}`) : [],
            }
          : {}),
        ...(upstream.healthchecks?.passive ? { breaker: upstream.healthchecks.passive.unhealthy.http_failures } : {}),
        mtls: Object.fromEntries(
          routeServices(route).map((s) => {
            const mode = services.get(s)!.mtls?.mode ?? out.model.gateway.mesh?.mtls?.mode;
            // Kong originates mTLS where a Kong service of this route that reaches s over https
            // presents a certificate of kong.yml whose cert and key come from the env vault.
            const presented = doc.services
              .filter((k: Doc) => (k.name === route.name || k.name.startsWith(`${route.name}.`)) && k.protocol === 'https' && k.client_certificate !== undefined && k.tls_verify === true)
              .filter((k: Doc) => (doc.upstreams.find((u: Doc) => u.name === k.host)?.targets ?? []).some((t: Doc) => addressOf.get(t.target) === s))
              .some((k: Doc) => (doc.certificates ?? []).some((c: Doc) => c.id === k.client_certificate && c.cert === '{vault://env/gw-mtls-cert}' && c.key === '{vault://env/gw-mtls-key}'));
            return [s, mode === undefined || mode === 'DISABLE' || presented ? mode : unsupported('agw:hasMutualTLS', `service ${s}`)];
          }),
        ),
      };
    },
  };
}

// --- Istio: istio/*.yaml -------------------------------------------------------------------

function istioReader(out: Output): Reader {
  const docs = Object.entries(out.files)
    .filter(([p]) => p.startsWith('istio/') && p.endsWith('.yaml'))
    .flatMap(([, text]) => parseAllDocuments(text).map((d) => d.toJS() as Doc));
  const of = (kind: string) => docs.filter((d) => d.kind === kind);
  const gw = out.model.gateway.name;
  const vs = of('VirtualService')[0]!;
  const hostOf = new Map(of('DestinationRule').map((d) => [d.spec.host as string, d]));
  const serviceOfHost = (host: string) => hostOf.get(host)!.metadata.name as string;
  const limits = of('EnvoyFilter').flatMap((f) => f.spec.configPatches.filter((p: Doc) => p.applyTo === 'HTTP_ROUTE'));
  const peer = of('PeerAuthentication');
  // `^/a/[^/]+(/.*)?$`: the segments, then the end of the path or a "/" and anything; "/" is `^/.*`.
  const unescape = (re: string) => re.replace(/^\^/, '').replace(/\(\/\.\*\)\?\$$|\.\*$/, '').replace(/\[\^\/\]\+/g, '{}').replace(/\\(.)/g, '$1');
  return {
    target: 'istio',
    notesOn: sectionsOn(out.files['istio/NOTES.md']!),
    facts(_, route) {
      const entry = vs.spec.http.find((h: Doc) => h.name === `${gw}.${route.name}`);
      // The methods of the entry's matches; a route with CORS also matches the preflights of its
      // methods (OPTIONS with Access-Control-Request-Method), which are no method of its own.
      const own = (entry.match as Doc[]).filter((m) => m.headers?.['access-control-request-method'] === undefined);
      const method = own.some((m) => !m.method) ? [] : [...new Set(own.flatMap((m) => (m.method.exact !== undefined ? [m.method.exact] : m.method.regex.split('|'))))];
      const canaries = vs.spec.http
        .filter((h: Doc) => h.name.startsWith(`${gw}.${route.name}.`) && !h.directResponse)
        .map((h: Doc) => {
          const [header, m] = Object.entries(h.match[0].headers as Record<string, { exact: string }>)[0]!;
          return { service: serviceOfHost(h.route[0].destination.host), header, value: m.exact };
        });
      const patch = limits.find((p: Doc) => p.match.routeConfiguration.vhost.route.name === entry.name);
      const bucket = patch?.patch.value.typed_per_filter_config['envoy.filters.http.local_ratelimit'].token_bucket;
      const policy = of('AuthorizationPolicy').find((p) => p.metadata.labels['app.kubernetes.io/name'] === route.name && p.metadata.name.startsWith(gw));
      const rules = (policy?.spec.rules ?? []) as Doc[];
      const principal = rules.map((r) => r.from?.[0]?.source?.notRequestPrincipals?.[0]).find(Boolean) as string | undefined;
      // A route with CORS repeats each rule for OPTIONS that is no preflight: the audiences once each.
      const audiences = [...new Set(rules.flatMap((r) => (r.when ?? []).filter((w: Doc) => w.key === 'request.auth.audiences').flatMap((w: Doc) => w.notValues)))];
      // The headers of a CORS preflight (exempt from the rules) are no API key.
      const preflight = new Set(['request.headers[origin]', 'request.headers[access-control-request-method]']);
      const apiKey = rules.some((r) => (r.when ?? []).some((w: Doc) => String(w.key).startsWith('request.headers[') && !preflight.has(String(w.key))));
      const thresholds = routeServices(route).map((s) => of('DestinationRule').find((d) => d.metadata.name === s)!.spec.trafficPolicy.outlierDetection?.consecutive5xxErrors);
      const breaker = thresholds.find((t) => t !== undefined);
      const expectedBreaker = route.circuitBreaker?.failureThreshold;
      return {
        path: canonicalPath(unescape(entry.match[0].uri.regex)),
        methods: method,
        backends: entry.route.map((d: Doc) => ({ service: serviceOfHost(d.destination.host), weight: d.weight ?? 100 })).sort(byService),
        canaries: canaries.sort(byService),
        ...(bucket
          ? {
              rate: { window: Object.keys(WINDOW_SECONDS).find((w) => `${WINDOW_SECONDS[w]}s` === bucket.fill_interval)!, limit: bucket.tokens_per_fill },
              burst: bucket.max_tokens,
            }
          : {}),
        ...(entry.timeout ? { timeoutSeconds: Number(entry.timeout.replace(/s$/, '')) } : {}),
        retryAttempts: entry.retries.attempts,
        auth: principal ? 'jwt' : apiKey ? 'apiKey' : 'none',
        ...(principal ? { issuer: principal.replace(/\/\*$/, ''), audiences } : {}),
        ...(breaker !== undefined
          ? { breaker: thresholds.every((t) => t === expectedBreaker) ? breaker : unsupported('agw:hasCircuitBreaker (shared service)', `route ${route.name}`) }
          : {}),
        mtls: Object.fromEntries(
          routeServices(route).map((s) => {
            const svc = out.model.services.find((x) => x.name === s)!;
            // A service's own policy is labelled with its name; its selector names its pods' labels.
            const own = peer.find((p) => p.metadata.namespace === svc.namespace && p.spec.selector && p.metadata.labels['app.kubernetes.io/name'] === s);
            const mesh = peer.find((p) => p.metadata.name === 'default' && !p.spec.selector);
            return [s, (own ?? mesh)?.spec.mtls.mode];
          }),
        ),
      };
    },
  };
}

// --- the gateway: gateway/config.json ------------------------------------------------------

/** The keys a service of config.json may have (the ServiceConfig of templates/gateway/src/types.ts.hbs). */
const GATEWAY_SERVICE_KEYS = ['env', 'healthCheck', 'instances', 'loadBalancing', 'mtls', 'name', 'protocol'];
const EVERY_METHOD = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'];

function gatewayReader(out: Output): Reader {
  const config = JSON.parse(out.files['gateway/config.json']!) as Doc;
  const readme = out.files['gateway/README.md']!;
  const notes = readme.includes('\n## Notes\n') ? readme.split('\n## Notes\n')[1]!.split('\n## ')[0]!.split('\n').filter((l) => l.startsWith('- ')) : [];
  const routeOf = (name: string) => (config.routes as Doc[]).find((r) => r.name === name)!;
  const serviceOf = (name: string) => {
    const s = (config.services as Doc[]).find((x) => x.name === name);
    expect(s, `gateway config.json: service ${name} of a route`).toBeDefined();
    return s!;
  };
  return {
    target: 'gateway',
    notesOn: (feature) => notes.filter((n) => n.includes(feature)),
    facts(_, route) {
      const c = routeOf(route.name);
      const splits = c.splits as Doc[];
      const weights = new Map<string, number>();
      for (const s of splits.filter((x) => !x.matchHeader && x.weight > 0)) weights.set(serviceOf(s.service).name, (weights.get(s.service) ?? 0) + s.weight);
      const windows = (c.rateLimit?.windows ?? []) as Doc[];
      const services = [...new Set([...(c.service !== undefined ? [c.service as string] : []), ...splits.map((s) => s.service as string)])].sort();
      const methods = [...(c.methods as string[])].sort();
      return {
        path: canonicalPath(c.path),
        // config.json lists every method where the route takes any.
        methods: methods.join() === EVERY_METHOD.join() ? [] : c.methods,
        backends: weights.size > 0 ? [...weights].map(([service, weight]) => ({ service, weight })).sort(byService) : [{ service: serviceOf(c.service).name, weight: 100 }],
        canaries: splits.filter((s) => s.matchHeader).map((s) => ({ service: serviceOf(s.service).name, header: s.matchHeader.name, value: s.matchHeader.value })).sort(byService),
        ...(windows.length > 0 ? { rate: { window: windows[0]!.window, limit: windows[0]!.limit }, burst: windows[0]!.capacity } : {}),
        ...(c.timeoutMs !== undefined ? { timeoutSeconds: c.timeoutMs / 1000 } : {}),
        retryAttempts: c.retry?.attempts ?? 0,
        auth: c.auth?.kind ?? 'none',
        ...(c.auth?.kind === 'jwt' ? { issuer: c.auth.issuer, audiences: c.auth.audiences } : {}),
        ...(c.circuitBreaker ? { breaker: c.circuitBreaker.failureThreshold } : {}),
        mtls: Object.fromEntries(
          services.map((name) => {
            const s = serviceOf(name);
            expect(Object.keys(s).filter((k) => !GATEWAY_SERVICE_KEYS.includes(k)), `gateway config.json: service ${name}`).toEqual([]);
            for (const i of s.instances as Doc[]) expect(new URL(i.url).protocol, `gateway config.json: ${name} ${i.url}`).toBe(s.protocol === 'https' ? 'https:' : 'http:');
            return [name, s.mtls as string | undefined];
          }),
        ),
      };
    },
    extras: {
      tier(consumer) {
        const tier = (config.consumers as Doc[]).find((c) => c.name === consumer)?.tier;
        if (!tier) return undefined;
        return { limits: Object.fromEntries((tier.windows as Doc[]).map((w) => [w.window, w.limit])), ...(tier.monthlyQuota !== undefined ? { monthlyQuota: tier.monthlyQuota } : {}) };
      },
      cost: (route) => routeOf(route).cost,
      mirror(route) {
        const m = routeOf(route).mirror;
        return m ? { service: serviceOf(m.service).name, percent: m.percent } : undefined;
      },
    },
  };
}

const READERS: readonly { target: string; read(out: Output): Reader }[] = [
  { target: 'kong', read: kongReader },
  { target: 'istio', read: istioReader },
  { target: 'gateway', read: gatewayReader },
];

/** `subject` as a whole item of a note (as the md helper writes it): not a prefix of a longer name. */
function mentions(note: string, subject: string): boolean {
  const escaped = markdownText(subject).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`).test(note);
}

/** Every fact of the reader either equals the model's, or is unsupported and named in NOTES.md. */
function compare(reader: Reader, route: Route, want: RouteFacts, got: RouteFacts): void {
  const where = `${reader.target} route ${route.name}`;
  const check = (fact: string, wanted: unknown, actual: unknown) => {
    if (actual !== null && typeof actual === 'object' && (actual as Unsupported).unsupported) {
      const u = actual as Unsupported;
      const notes = reader.notesOn(u.feature);
      expect(notes.length, `${where}: ${fact} is unsupported, so the target's notes must name ${u.feature}`).toBeGreaterThan(0);
      expect(notes.some((n) => mentions(n, u.subject)), `${where}: a note on ${u.feature} must name ${u.subject}`).toBe(true);
      return;
    }
    expect(actual, `${where}: ${fact}`).toEqual(wanted);
  };
  check('path', want.path, got.path);
  check('methods', want.methods, got.methods);
  check('backends', want.backends, got.backends);
  check('canaries', want.canaries, got.canaries);
  check('rate', want.rate, got.rate);
  if (want.burst !== undefined) check('burst', want.burst, got.burst);
  check('timeout', want.timeoutSeconds, got.timeoutSeconds);
  check('retry attempts', want.retryAttempts, got.retryAttempts);
  check('auth', want.auth, got.auth);
  if (want.issuer !== undefined) check('issuer', want.issuer, got.issuer);
  if (want.audiences !== undefined) check('audiences', want.audiences, got.audiences);
  check('breaker', want.breaker, got.breaker);
  for (const [service, mode] of Object.entries(want.mtls)) check(`mTLS of ${service}`, mode, got.mtls[service]);
}

// Every example, the model of the gateway's mTLS tests (mTLS over https, which the examples lack),
// and weighted splits between an http and an https service.
const models = [...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ttl')).sort().map((f) => join('examples', f)), 'test/fixtures/gateway/mtls.ttl', 'test/fixtures/valid/split-across-protocols.ttl'];

describe.each(models)('one meaning in every target: %s', (model) => {
  let out: Output;
  beforeAll(async () => {
    const result = await generate({ models: [model], targets: READERS.map((r) => r.target), cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    out = { model: result.model, files: Object.fromEntries(result.files.map((f) => [f.path, f.content])) };
  });

  it.each(READERS.map((r) => r.target))('%s says what the model says for every route, or its notes say why not', (target) => {
    const reader = READERS.find((r) => r.target === target)!.read(out);
    expect(out.model.routes.length).toBeGreaterThan(0);
    for (const route of out.model.routes) compare(reader, route, expected(out.model, route), reader.facts(out, route));
  });

  it('quota tiers, cost multipliers and mirrors are expressed or noted by every target', () => {
    for (const { read } of READERS) {
      const reader = read(out);
      const { extras } = reader;
      for (const c of out.model.consumers) {
        const tier = c.quotaTier;
        if (extras) {
          expect(extras.tier(c.name), `${reader.target}: quota tier of ${c.name}`).toEqual(tier ? { limits: tier.limits, ...(tier.monthlyQuota !== undefined ? { monthlyQuota: tier.monthlyQuota } : {}) } : undefined);
        } else if (tier && reader.target !== 'kong') {
          expect(reader.notesOn('agw:hasQuotaTier').some((n) => mentions(n, `consumer ${c.name}`)), `${reader.target}: quota tier of ${c.name}`).toBe(true);
        }
      }
      for (const r of out.model.routes) {
        if (extras) expect(extras.cost(r.name), `${reader.target}: cost of ${r.name}`).toBe(r.costMultiplier);
        else if (r.costMultiplier !== 1) expect(reader.notesOn('agw:costMultiplier').some((n) => mentions(n, `route ${r.name}`)), `${reader.target}: cost of ${r.name}`).toBe(true);
      }
      for (const r of out.model.routes) {
        if (extras) {
          expect(extras.mirror(r.name), `${reader.target}: mirror of ${r.name}`).toEqual(r.mirror ? { service: r.mirror.service, percent: r.mirror.percent } : undefined);
          continue;
        }
        if (!r.mirror) continue;
        const mirrored = reader.target === 'istio' && out.files['istio/virtualservice.yaml']!.includes('mirrorPercentage');
        if (!mirrored) expect(reader.notesOn('agw:hasTrafficMirror').some((n) => mentions(n, `route ${r.name}`)), `${reader.target}: mirror of ${r.name}`).toBe(true);
      }
    }
  });
});

/**
 * One route for every request: of overlapping routes, each target must pick the one the gateway's
 * router picks (the most specific that takes the method; see test/route-choice.ts for how each
 * target's choice is read from its files), and send the backend the same path. A request Kong
 * sends elsewhere must be one its NOTES.md names: a header canary that Kong ranks above a more
 * specific route, or a method outside Kong's list on a route that takes every method (random
 * models get the same check in test/output-checks.ts).
 */
const choiceModels = [...models, 'test/fixtures/valid/overlapping-routes.ttl'];

describe.each(choiceModels)('one route for every request in every target: %s', (model) => {
  let differences: { istio: string[]; kong: string[] };
  beforeAll(async () => {
    const result = await generate({ models: [model], targets: ['kong', 'istio', 'gateway'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const files = Object.fromEntries(result.files.map((f) => [f.path, f.content]));
    differences = await routeChoiceDifferences(files, result.model, requestsFor(result.model));
  });

  it('Istio takes every request to the route the gateway takes it to, and sends the same path', () => {
    expect(differences.istio).toEqual([]);
  });

  it('Kong takes every request to the route the gateway takes it to, and sends the same path, or its NOTES.md says why not', () => {
    expect(differences.kong).toEqual([]);
  });
});
