import type { Term } from 'n3';
import { durationSeconds } from '../model/duration.js';
import { canonicalOrigin, mappedCidrAsIpv4, normalPath } from '../model/formats.js';
import type * as M from '../model/types.js';
import { HTTP_METHODS, RATE_WINDOWS } from '../model/types.js';
import type { Extraction, PropertyBag } from './extract.js';
import { kebabLocalName } from './rdf.js';
import { compareStrings } from '../order.js';
import { GwgenError, problem } from '../errors.js';

/**
 * Rows → GatewayModel. The model was validated before extraction, so this stage only reads:
 * it applies the defaults of vocabulary.md and sorts every list. Referenced nodes are looked
 * up in the extraction of their concept.
 */
export function buildModel(x: Extraction): M.GatewayModel {
  const services = new Map<string, M.BackendService>();
  for (const [id, bag] of x.services) services.set(id, buildService(x, id, bag));
  const serviceName = (id: string | undefined) => (id === undefined ? undefined : services.get(id)?.name);

  const [gatewayId, gatewayBag] = [...x.gateway][0] ?? ['', new Map()];
  const gatewayCors = optional(ref(gatewayBag, 'hasCorsPolicy'), (id) => buildCors(x, id));
  const gateway: M.Gateway = {
    id: gatewayId,
    name: str(gatewayBag, 'gatewayName') ?? kebabLocalName(gatewayId),
    listenPort: num(gatewayBag, 'listenPort') ?? 8080,
    ...field('cors', gatewayCors),
    ...field('tracing', optional(ref(gatewayBag, 'hasDistributedTracing'), (id) => buildTracing(x, id))),
    ...field('mesh', optional(ref(gatewayBag, 'hasServiceMesh'), (id) => buildMesh(x, id))),
  };

  const routes = [...x.routes].map(([id, bag]): M.Route => {
    const splits = refs(bag, 'hasTrafficSplit').map((splitId): M.TrafficSplit => {
      const s = x['traffic-splits'].get(splitId) ?? new Map();
      const header = str(s, 'matchHeader');
      const value = str(s, 'matchHeaderValue');
      return {
        id: splitId,
        service: serviceName(ref(s, 'hasBackendService')) ?? '',
        ...field('weight', header === undefined ? num(s, 'weight') : undefined),
        ...field('matchHeader', header !== undefined && value !== undefined ? { name: header, value } : undefined),
      };
    });
    // By what a split says before its node id, so blank-node labels do not decide the order.
    splits.sort(
      (a, b) =>
        Number(a.matchHeader !== undefined) - Number(b.matchHeader !== undefined) ||
        compareStrings(a.service, b.service) ||
        compareStrings(a.matchHeader?.name.toLowerCase() ?? '', b.matchHeader?.name.toLowerCase() ?? '') ||
        compareStrings(a.matchHeader?.value ?? '', b.matchHeader?.value ?? '') ||
        (a.weight ?? 0) - (b.weight ?? 0) ||
        compareStrings(a.id, b.id),
    );
    const mirrorId = ref(bag, 'hasTrafficMirror');
    const mirrorBag = mirrorId === undefined ? undefined : x['traffic-mirrors'].get(mirrorId);
    return {
      id,
      name: str(bag, 'routeName') ?? kebabLocalName(id),
      path: normalPath(str(bag, 'routePath') ?? '/'),
      methods: HTTP_METHODS.filter((m) => strs(bag, 'httpMethod').includes(m)),
      ...field('service', serviceName(ref(bag, 'hasBackendService'))),
      stripPath: bool(bag, 'stripPath') ?? false,
      ...field('timeoutSeconds', num(bag, 'timeoutSeconds')),
      websocket: bool(bag, 'websocket') ?? false,
      costMultiplier: num(bag, 'costMultiplier') ?? 1,
      ...field('rateLimit', optional(ref(bag, 'hasRateLimiter'), (lid) => buildLimiter(x, lid))),
      ...field('circuitBreaker', optional(ref(bag, 'hasCircuitBreaker'), (bid) => buildBreaker(x, bid))),
      ...field('retry', optional(ref(bag, 'hasRetryPolicy'), (rid) => buildRetry(x, rid))),
      splits,
      ...field('mirror', mirrorId !== undefined && mirrorBag ? { id: mirrorId, service: serviceName(ref(mirrorBag, 'hasBackendService')) ?? '', percent: num(mirrorBag, 'mirrorPercent') ?? 100 } : undefined),
      ...field('auth', optional(ref(bag, 'hasAuthentication'), (aid) => buildAuth(x, aid))),
      ...field('ipRestriction', optional(ref(bag, 'hasIpRestriction'), (iid) => buildIpRestriction(x, iid))),
      ...field('cors', optional(ref(bag, 'hasCorsPolicy'), (cid) => buildCors(x, cid)) ?? gatewayCors),
    };
  });

  const consumerName = (id: string, bag: PropertyBag) => str(bag, 'consumerName') ?? kebabLocalName(id);
  // A blank-node tier has no IRI to be named after, nor has one whose IRI ends in "/" or "#": it
  // takes the name of its consumer (the first by name, when several share it), never its
  // blank-node label, which shifts as the model grows.
  const blankTierNames = new Map<string, string>();
  for (const [id, bag] of x.consumers) {
    const tier = first(bag, 'hasQuotaTier');
    if (tier === undefined || (tier.termType !== 'BlankNode' && kebabLocalName(tier.value) !== '')) continue;
    const name = consumerName(id, bag);
    const taken = blankTierNames.get(tier.value);
    if (taken === undefined || compareStrings(name, taken) < 0) blankTierNames.set(tier.value, name);
  }
  const consumers = [...x.consumers].map(([id, bag]): M.Consumer => ({
    id,
    name: consumerName(id, bag),
    ...field('apiKeyEnv', str(bag, 'apiKeyEnv')),
    ...field('quotaTier', optional(ref(bag, 'hasQuotaTier'), (tid) => buildTier(x, tid, blankTierNames.get(tid)))),
  }));

  return {
    gateway,
    routes: routes.sort((a, b) => compareStrings(a.name, b.name)),
    services: [...services.values()].sort((a, b) => compareStrings(a.name, b.name)),
    consumers: consumers.sort((a, b) => compareStrings(a.name, b.name)),
  };
}

function buildService(x: Extraction, id: string, bag: PropertyBag): M.BackendService {
  const name = str(bag, 'serviceName') ?? kebabLocalName(id);
  const port = num(bag, 'port') ?? 80;
  const instances = refs(bag, 'hasInstance')
    .map((iid): M.ServiceInstance => {
      const i = x['service-instances'].get(iid) ?? new Map();
      return { id: iid, host: str(i, 'host') ?? name, port: num(i, 'port') ?? port, weight: num(i, 'weight') ?? 100 };
    })
    .sort((a, b) => compareStrings(a.host, b.host) || a.port - b.port || compareStrings(a.id, b.id));
  return {
    id,
    name,
    host: str(bag, 'host') ?? name,
    port,
    protocol: (str(bag, 'protocol') as M.BackendService['protocol'] | undefined) ?? 'http',
    namespace: str(bag, 'namespace') ?? 'default',
    instances,
    loadBalancing: (str(bag, 'loadBalancing') as M.BackendService['loadBalancing'] | undefined) ?? 'round-robin',
    ...field('healthCheck', optional(ref(bag, 'hasHealthCheck'), (hid) => buildHealthCheck(x, hid))),
    ...field('mtls', optional(ref(bag, 'hasMutualTLS'), (mid) => buildMtls(x, mid))),
    ...field('version', str(bag, 'version')),
    replicas: num(bag, 'replicas') ?? 2,
    ...field('image', str(bag, 'image')),
  };
}

function limits(bag: PropertyBag): M.RateLimits {
  const out: Partial<Record<M.RateWindow, number>> = {};
  const property = { second: 'requestsPerSecond', minute: 'requestsPerMinute', hour: 'requestsPerHour', day: 'requestsPerDay' } as const;
  for (const w of RATE_WINDOWS) {
    const v = num(bag, property[w]);
    if (v !== undefined) out[w] = v;
  }
  return out;
}

function buildLimiter(x: Extraction, id: string): M.RateLimiter {
  const bag = x['rate-limiters'].get(id) ?? new Map();
  const l = limits(bag);
  const shortest = RATE_WINDOWS.map((w) => l[w]).find((v) => v !== undefined) ?? 1;
  return {
    id,
    limits: l,
    burstSize: num(bag, 'burstSize') ?? shortest,
    limitBy: (str(bag, 'limitBy') as M.RateLimiter['limitBy'] | undefined) ?? 'ip',
    policy: (str(bag, 'policy') as M.RateLimiter['policy'] | undefined) ?? 'local',
  };
}

function buildBreaker(x: Extraction, id: string): M.CircuitBreaker {
  const bag = x['circuit-breakers'].get(id) ?? new Map();
  return {
    id,
    failureThreshold: num(bag, 'failureThreshold') ?? 5,
    timeoutSeconds: num(bag, 'timeoutSeconds') ?? 30,
    halfOpenRequests: num(bag, 'halfOpenRequests') ?? 1,
  };
}

function buildRetry(x: Extraction, id: string): M.RetryPolicy {
  const bag = x['retry-policies'].get(id) ?? new Map();
  const retryOn = strs(bag, 'retryOn') as M.RetryCondition[];
  return {
    id,
    // Istio's default when a retry policy leaves the count out; the vocabulary gives none.
    attempts: num(bag, 'retryAttempts') ?? 2,
    backoffMultiplier: num(bag, 'backoffMultiplier') ?? 2,
    initialDelayMs: num(bag, 'initialDelayMs') ?? 100,
    retryOn: retryOn.length > 0 ? retryOn : ['5xx', 'connect-failure'],
    ...field('perTryTimeoutSeconds', num(bag, 'perTryTimeoutSeconds')),
  };
}

function buildHealthCheck(x: Extraction, id: string): M.HealthCheck {
  const bag = x['health-checks'].get(id) ?? new Map();
  const interval = str(bag, 'healthCheckInterval');
  return {
    id,
    path: str(bag, 'healthCheckPath') ?? '/healthz',
    intervalSeconds: (interval === undefined ? undefined : durationSeconds(interval)) ?? 10,
    successThreshold: num(bag, 'successThreshold') ?? 1,
    failureThreshold: num(bag, 'failureThresholdHealth') ?? 3,
  };
}

function buildAuth(x: Extraction, id: string): M.Authentication {
  const jwt = x['jwt-authentications'].get(id);
  if (jwt) {
    const jwksUri = str(jwt, 'jwksUri');
    const secretEnv = str(jwt, 'secretEnv');
    const declared = strs(jwt, 'algorithm') as M.JwtAuthentication['algorithms'][number][];
    const algorithms = declared.length > 0 ? declared : [...(jwksUri ? (['RS256'] as const) : []), ...(secretEnv ? (['HS256'] as const) : [])];
    return {
      kind: 'jwt',
      id,
      issuer: str(jwt, 'issuer') ?? '',
      audiences: strs(jwt, 'audience'),
      ...field('jwksUri', jwksUri),
      ...field('secretEnv', secretEnv),
      algorithms,
      requiredScopes: strs(jwt, 'requiredScope'),
    };
  }
  const key = x['api-keys'].get(id);
  if (key) return { kind: 'apiKey', id, keyHeader: str(key, 'keyHeader') ?? 'X-API-Key' };
  // Never let a route whose authentication was not extracted become public: fail closed.
  throw new GwgenError(problem('internal', `the authentication <${id}> of a route was not extracted`, { location: { node: id }, hint: 'this is a fault in gwgen; please report it with your model' }));
}

function buildIpRestriction(x: Extraction, id: string): M.IpRestriction {
  const bag = x['ip-restrictions'].get(id) ?? new Map();
  return { id, allow: cidrs(bag, 'allowCidr'), deny: cidrs(bag, 'denyCidr') };
}

/** CIDRs, an IPv4-mapped range as the IPv4 range it maps (formats.mappedCidrAsIpv4), distinct and sorted. */
function cidrs(bag: PropertyBag, p: string): string[] {
  return [...new Set(strs(bag, p).map(mappedCidrAsIpv4))].sort(compareStrings);
}

function buildCors(x: Extraction, id: string): M.CorsPolicy {
  const bag = x['cors-policies'].get(id) ?? new Map();
  return {
    id,
    // As browsers send them (formats.canonicalOrigin): two spellings of one origin are one.
    origins: [...new Set(strs(bag, 'allowOrigin').map(canonicalOrigin))].sort(compareStrings),
    // "*" stands for the route's own methods (empty), whatever else is listed beside it.
    methods: strs(bag, 'allowMethod').includes('*') ? [] : HTTP_METHODS.filter((m) => strs(bag, 'allowMethod').includes(m)),
    // "*" stands for the headers a preflight asks for (empty), as no list does: sent as a literal
    // `Access-Control-Allow-Headers: *` (as Kong's plugin and the gateway would send it) it covers
    // neither Authorization nor, with credentials, any header at all (Fetch, CORS-preflight fetch).
    headers: strs(bag, 'allowHeader').includes('*') ? [] : strs(bag, 'allowHeader'),
    credentials: bool(bag, 'allowCredentials') ?? false,
    ...field('maxAgeSeconds', num(bag, 'maxAgeSeconds')),
  };
}

function buildMtls(x: Extraction, id: string): M.MutualTls {
  const bag = x['mutual-tls'].get(id) ?? new Map();
  const certId = ref(bag, 'hasCertificate');
  const cert = certId === undefined ? undefined : x.certificates.get(certId);
  const rotation = cert ? str(cert, 'rotationPeriod') : undefined;
  return {
    id,
    mode: (str(bag, 'mtlsMode') as M.MutualTls['mode'] | undefined) ?? 'STRICT',
    ...field(
      'certificate',
      certId !== undefined && cert
        ? { id: certId, ...field('expiry', str(cert, 'certificateExpiry')), ...field('rotationPeriodSeconds', rotation === undefined ? undefined : durationSeconds(rotation)) }
        : undefined,
    ),
  };
}

/** `unnamed`: the name of a tier without agw:tierName or a local name to derive one from (its consumer's). */
function buildTier(x: Extraction, id: string, unnamed: string | undefined): M.QuotaTier {
  const bag = x['quota-tiers'].get(id) ?? new Map();
  return { id, name: str(bag, 'tierName') ?? unnamed ?? kebabLocalName(id), limits: limits(bag), ...field('monthlyQuota', num(bag, 'monthlyQuota')) };
}

function buildMesh(x: Extraction, id: string): M.ServiceMesh {
  const bag = x['service-meshes'].get(id) ?? new Map();
  return {
    id,
    type: (str(bag, 'meshType') as M.ServiceMesh['type'] | undefined) ?? 'istio',
    namespace: str(bag, 'namespace') ?? 'default',
    ...field('mtls', optional(ref(bag, 'hasMutualTLS'), (mid) => buildMtls(x, mid))),
  };
}

function buildTracing(x: Extraction, id: string): M.DistributedTracing {
  const bag = x['distributed-tracing'].get(id) ?? new Map();
  return { id, samplingRate: num(bag, 'samplingRate') ?? 0.01, ...field('collectorEndpoint', str(bag, 'collectorEndpoint')) };
}

// --- reading property bags -----------------------------------------------------------------

function first(bag: PropertyBag, p: string): Term | undefined {
  return bag.get(p)?.[0];
}
function str(bag: PropertyBag, p: string): string | undefined {
  const t = first(bag, p);
  return t?.termType === 'Literal' ? t.value : undefined;
}
function num(bag: PropertyBag, p: string): number | undefined {
  const v = str(bag, p);
  return v === undefined ? undefined : Number(v);
}
function bool(bag: PropertyBag, p: string): boolean | undefined {
  const v = str(bag, p);
  return v === undefined ? undefined : v === 'true' || v === '1';
}
function strs(bag: PropertyBag, p: string): string[] {
  const values = (bag.get(p) ?? []).filter((t) => t.termType === 'Literal').map((t) => t.value);
  return [...new Set(values)].sort(compareStrings);
}
function ref(bag: PropertyBag, p: string): string | undefined {
  const t = first(bag, p);
  return t && t.termType !== 'Literal' ? t.value : undefined;
}
function refs(bag: PropertyBag, p: string): string[] {
  return [...new Set((bag.get(p) ?? []).filter((t) => t.termType !== 'Literal').map((t) => t.value))];
}
function optional<T>(id: string | undefined, build: (id: string) => T): T | undefined {
  return id === undefined ? undefined : build(id);
}
/** `{ key: value }` when value is defined, `{}` otherwise: keeps absent fields absent, not undefined. */
function field<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
