import { kebabLocalName } from '../dist/pipeline/rdf.js';

/**
 * A seeded generator of random, VALID gwgen models (Turtle), for the property-based test
 * test/random-models.test.ts.
 *
 * "Valid" is what ontology/shapes.ttl and src/pipeline/semantic.ts accept; the generator keeps
 * every rule of both (one gateway, every route attached, unique DNS-label names, no two routes on
 * the same path with a common method, a backend or weighted splits summing to 100, header splits
 * with a header and a value, well-formed paths, CIDRs, origins, URLs, header names, hosts, images
 * and env-var names, the JWT key rules). Within those rules it draws from the whole vocabulary of
 * ../shared/vocabulary.md: every class and property, optional properties present or absent,
 * multi-valued properties, every enum value and rate window, IRIs, labelled and anonymous blank
 * nodes, policy nodes shared between routes or used once, nodes nothing refers to, several model
 * files, and unusual-but-valid literals (Unicode, names of 63 characters, ports 1 and 65535,
 * durations, doubles, `+5`, `.5`, typed literals, `"1"^^xsd:boolean`).
 *
 * No dependency: a small PRNG (mulberry32) makes every model a pure function of its seed.
 */

export const AGW = 'https://ggen.ai/ontology/api-gateway#';

/** Every class and property of vocabulary.md; the test checks the seeds use each at least once. */
export const VOCABULARY_TERMS: readonly string[] = [
  // classes
  'ApiGateway', 'Route', 'BackendService', 'ServiceInstance', 'RateLimiter', 'CircuitBreaker', 'RetryPolicy', 'HealthCheck',
  'TrafficSplit', 'TrafficMirror', 'MutualTLS', 'Certificate', 'JWTAuthentication', 'ApiKey', 'Consumer', 'QuotaTier',
  'CorsPolicy', 'IpRestriction', 'ServiceMesh', 'DistributedTracing',
  // gateway
  'gatewayName', 'listenPort', 'hasRoute', 'hasServiceMesh', 'hasCorsPolicy', 'hasDistributedTracing', 'hasConsumer',
  // route
  'routeName', 'routePath', 'httpMethod', 'hasBackendService', 'stripPath', 'timeoutSeconds', 'hasRateLimiter',
  'hasCircuitBreaker', 'hasRetryPolicy', 'hasTrafficSplit', 'hasTrafficMirror', 'hasAuthentication', 'hasIpRestriction',
  'websocket', 'costMultiplier',
  // services
  'serviceName', 'host', 'port', 'protocol', 'namespace', 'hasInstance', 'weight', 'loadBalancing', 'hasHealthCheck',
  'hasMutualTLS', 'version', 'replicas', 'image',
  // resilience
  'requestsPerSecond', 'requestsPerMinute', 'requestsPerHour', 'requestsPerDay', 'burstSize', 'limitBy', 'policy',
  'failureThreshold', 'halfOpenRequests', 'retryAttempts', 'backoffMultiplier', 'initialDelayMs', 'retryOn',
  'perTryTimeoutSeconds', 'healthCheckPath', 'healthCheckInterval', 'successThreshold', 'failureThresholdHealth',
  // traffic
  'matchHeader', 'matchHeaderValue', 'mirrorPercent',
  // security
  'mtlsMode', 'hasCertificate', 'certificateExpiry', 'rotationPeriod', 'issuer', 'audience', 'jwksUri', 'secretEnv',
  'algorithm', 'requiredScope', 'keyHeader', 'consumerName', 'apiKeyEnv', 'hasQuotaTier', 'tierName', 'monthlyQuota',
  'allowOrigin', 'allowMethod', 'allowHeader', 'allowCredentials', 'maxAgeSeconds', 'allowCidr', 'denyCidr',
  // mesh and observability
  'meshType', 'samplingRate', 'collectorEndpoint',
];

/** Every enumerated value of vocabulary.md, as `property=value`; the test checks the seeds use each. */
export const VOCABULARY_ENUMS: readonly string[] = [
  ...['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map((v) => `httpMethod=${v}`),
  ...['http', 'https', 'grpc'].map((v) => `protocol=${v}`),
  ...['round-robin', 'least-connections', 'random', 'consistent-hash'].map((v) => `loadBalancing=${v}`),
  ...['ip', 'consumer', 'global'].map((v) => `limitBy=${v}`),
  ...['local', 'redis'].map((v) => `policy=${v}`),
  ...['5xx', 'gateway-error', 'connect-failure', 'reset'].map((v) => `retryOn=${v}`),
  ...['STRICT', 'PERMISSIVE', 'DISABLE'].map((v) => `mtlsMode=${v}`),
  ...['RS256', 'ES256', 'HS256'].map((v) => `algorithm=${v}`),
  ...['istio', 'linkerd', 'consul', 'kuma'].map((v) => `meshType=${v}`),
];

export interface RandomModel {
  readonly seed: number;
  /** One or more Turtle files; generating from all of them (merged) gives the model. */
  readonly files: readonly { readonly name: string; readonly text: string }[];
  /** The name every route gets (its agw:routeName, or its IRI's local name kebab-cased), sorted. */
  readonly routeNames: readonly string[];
  readonly serviceNames: readonly string[];
  readonly consumerNames: readonly string[];
  readonly gatewayName: string;
  /** `agw:term` and `term=value` for every property and enum value the model uses (coverage). */
  readonly used: ReadonlySet<string>;
}

// --- randomness ------------------------------------------------------------------------------

export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }
  /** mulberry32: a float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** A random subset (each item with probability p), in the original order. */
  some<T>(items: readonly T[], p = 0.5): T[] {
    return items.filter(() => this.chance(p));
  }
  /** A non-empty random subset. */
  someNonEmpty<T>(items: readonly T[], p = 0.5): T[] {
    const out = this.some(items, p);
    return out.length > 0 ? out : [this.pick(items)];
  }
  shuffle<T>(items: readonly T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

// --- the graph before it is written ----------------------------------------------------------

type Literal = { readonly kind: 'literal'; readonly text: string };
type Value = Literal | Node;

/** How a node is written: an IRI (prefixed or in full), a labelled blank node, or `[ … ]` where it is used. */
type Style = 'iri' | 'bnode' | 'inline';

interface Node {
  readonly kind: 'node';
  readonly type: string;
  style: Style;
  /** Local name (IRI) or label (blank node). */
  readonly local: string;
  readonly props: [string, Value[]][];
  /** How many times other nodes refer to it. */
  refs: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MULTI_VALUED = new Set(['httpMethod', 'audience', 'algorithm', 'requiredScope', 'allowOrigin', 'allowMethod', 'allowHeader', 'allowCidr', 'denyCidr', 'retryOn']);

// --- value pools -----------------------------------------------------------------------------

const WORDS = ['orders', 'users', 'items', 'catalog', 'cart', 'checkout', 'payments', 'search', 'auth', 'admin', 'reports', 'files', 'tiles', 'geo', 'ws', 'events', 'billing', 'inventory', 'shipping', 'status', 'health', 'api', 'v1', 'v2', 'public', 'internal'];
/**
 * Literal path segments: RFC 3986 pchar, including the sub-delims and percent-encodings urlPath accepts: of reserved
 * characters, which Kong keeps escaped, of others, which it decodes (UTF-8, a control character), in lower case,
 * and `%E9`, which decodes to a byte that is not UTF-8 (see kongSegmentRegex in src/targets/kong.ts).
 */
const ODD_SEGMENTS = ['v1.0', '~user', 'a_b', '%20', '%C3%A9t%C3%A9', '@me', 'x:y', 'a,b', 'a;b=c', 'k=v', '$ref', '!', '*', '(x)', '+plus', 'a&b', '-', '_', '.well-known', 'A-Z', '%2F%3a', '%c3%bc%5E', '%E9', '%7Bx%7D%01', '%F0%9F%9A%80%25'];
const PARAMS = ['id', 'orderId', 'userId', 'item_id', '_x', 'X1', 'slug', 'version'];
/** Two parameter names of 33 characters sharing their first 32 (the limit of a PCRE group name). */
const LONG_PARAMS = ['customerIdentifierForTheRequestA', 'customerIdentifierForTheRequestB'].map((p) => `${p}x`);
const UNICODE = ['Ünïcødé', '日本語の説明', 'emoji 🚀✨', 'ελληνικά', 'עברית', 'mixed — “quotes” ‘and’ dashes', 'zero\u200bwidth', 'tab\there', 'line\nbreak', 'back\\slash', 'a "quoted" word', "apostrophe's", '{{handlebars}} ${x} `cmd`', '# not a comment', 'key: value', '- list item', '&anchor *alias', '!tag', '%percent', '@at'];
/** Request header names: letters, digits, "-" and "_" (see formats.requestHeaderName). */
const HEADER_NAMES = ['x-canary', 'X-Canary', 'x-beta-user', 'X-Version', 'x-env', 'x_underscore', 'User-Agent', 'x-a', 'X-Request-Group', '0', 'Cookie'];
/** Printable ASCII, not starting or ending with a blank (see formats.headerValue). */
const HEADER_VALUES = ['true', '1', 'beta', 'v2', 'a b c', '"quoted"', "it's", '*', '~*regex-looking', '', 'a   b', '{{x}}', 'a: b', '#hash', 'x,y', '%41', 'null', 'yes', '0x1F', '1e3'];
const KEY_HEADERS = ['X-API-Key', 'x-api-key', 'apikey', 'X-Key', 'X_Api_Key', 'X-Client-Token', 'Api-Key'];
const ISSUERS = ['https://auth.example.com/', 'https://login.example.org/realms/main', 'urn:example:issuer', 'issuer', 'https://ünïcode.example/iss', 'an issuer with spaces', 'https://auth.example.com/"quoted"', 'iss:{{x}}'];
const AUDIENCES = ['orders-api', 'api://default', 'https://api.example.com', 'aud with space', 'ünïcode-aud', 'a,b', "quote'd"];
const SCOPES = ['orders:read', 'orders:write', 'admin', 'read:all', 'ünïcode', 'a/b', 'x.y.z', 'scope"q'];
const JWKS = ['https://auth.example.com/.well-known/jwks.json', 'http://keycloak.auth:8080/realms/main/protocol/openid-connect/certs', 'https://login.example.org/jwks?kid=1', 'https://[2001:db8::1]:8443/jwks'];
const ORIGINS = ['*', 'https://app.example.com', 'http://localhost:3000', 'http://127.0.0.1:8080', 'https://xn--bcher-kva.example', 'http://[::1]:3000', 'https://example.org:8443'];
const CORS_HEADERS = ['Authorization', 'Content-Type', 'X-API-Key', 'x-requested-with', '*', 'X_Custom', 'X.Dotted'];
const CORS_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', '*'];
const CIDRS_V4 = ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12', '203.0.113.7/32', '0.0.0.0/0', '198.51.100.0/24', '10.1.2.3/8', '100.64.0.0/10', '8.8.8.8/32'];
const CIDRS_V6 = ['2001:db8::/32', '::/0', 'fe80::1/128', '::1/128', '2001:db8:abcd:12::/64', 'FD00::/8'];
const HOSTS = ['orders.shop.svc.cluster.local', 'api.example.com', 'API.Example.COM', '10.0.0.12', '192.0.2.1', '2001:db8::10', '::1', 'localhost', 'backend-1', 'a.b.c.d.e.f', `${'x'.repeat(63)}.example.com`];
const IMAGES = ['ghcr.io/acme/orders:1.2.3', 'nginx', 'registry.example.com:5000/team/app:latest', `registry.example.com/app@sha256:${'a1'.repeat(32)}`, 'localhost/app:v1', 'docker.io/library/redis:7'];
const VERSIONS = ['v1', 'v2', '1.0.0', 'V2_beta', 'release.2024-01', 'v4-preview', `v${'9'.repeat(62)}`];
const NAMESPACES = ['default', 'shop', 'payments', 'geo', 'istio-system', 'mesh', 'kube-public', `ns-${'n'.repeat(59)}`];
const ENV_NAMES = ['JWT_SECRET', 'AUTH_HS256_KEY', '_UNDERSCORE', 'KEY_1', 'A', 'MOBILE_APP_API_KEY', 'PARTNER_KEY', 'X'];
const COLLECTORS = ['http://otel-collector.observability:4318', 'https://collector.example.com/otlp/', 'http://10.0.0.5:9411/api/v2/spans', 'https://[2001:db8::5]:4318'];
const DURATIONS = ['PT10S', 'PT0.5S', 'PT1M30S', 'PT1H', 'P1D', 'PT2S', 'PT30S', 'PT1.25S', 'P1DT1S', 'PT90S'];
const ROTATIONS = ['P30D', 'PT12H', 'P1Y', 'P1M', 'P14D', 'PT1H30M'];
const INSTANTS = ['2027-01-01T00:00:00Z', '2026-06-30T12:30:00+02:00', '2030-12-31T23:59:59.999Z', '2025-01-01T00:00:00-05:00', '1999-12-31T23:59:59Z'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const WINDOWS = ['requestsPerSecond', 'requestsPerMinute', 'requestsPerHour', 'requestsPerDay'] as const;

// --- the generator ---------------------------------------------------------------------------

export interface GenerateOptions {
  /** Roughly how many routes (default: 1 to 9). */
  readonly routes?: number;
}

export function randomModel(seed: number, options: GenerateOptions = {}): RandomModel {
  return new ModelBuilder(seed, options).build();
}

class ModelBuilder {
  private readonly r: Rng;
  private readonly nodes: Node[] = [];
  private readonly used = new Set<string>();
  private readonly localNames = new Set<string>();
  /** Write several files: then no labelled blank nodes (a label is local to its file). */
  private readonly multiFile: boolean;
  private readonly blankStyle: number;
  private readonly services: { node: Node; name: string; grpc: boolean }[] = [];
  /** The services the route being built sends to (a WebSocket route must not reach a gRPC one). */
  private picked: Node[] = [];
  private readonly routeNames = new Set<string>();
  private readonly consumerNames = new Set<string>();
  private readonly envNames = new Set<string>();
  /** pathKey → the method sets of the routes on it (empty = every method). */
  private readonly paths = new Map<string, Set<string>[]>();
  private readonly pools = new Map<string, Node[]>();
  private gatewayName = '';

  constructor(
    readonly seed: number,
    private readonly options: GenerateOptions,
  ) {
    this.r = new Rng(seed);
    this.multiFile = this.r.chance(0.2);
    // How much of the model is blank nodes: none, some, or most.
    this.blankStyle = this.r.pick([0, 0.3, 0.7]);
  }

  // --- literals ---

  private lit(text: string): Literal {
    return { kind: 'literal', text };
  }

  str(value: string, plainOnly = false): Literal {
    const escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    if (plainOnly) return this.lit(`"${escaped}"`);
    const form = this.r.int(0, 9);
    if (form === 0) return this.lit(`"${escaped}"^^xsd:string`);
    if (form === 1 && !/['\\\n\r\t]/.test(value)) return this.lit(`'${value}'`);
    if (form === 2 && !/["\\\r]/.test(value) && !value.endsWith('"')) return this.lit(`"""${value.replace(/\t/g, '\\t')}"""`);
    return this.lit(`"${escaped}"`);
  }

  int(value: number): Literal {
    const form = this.r.int(0, 11);
    if (form === 0) return this.lit(`"${value}"^^xsd:integer`);
    if (form === 1) return this.lit(`+${value}`);
    if (form === 2 && value > 0 && value < 1000) return this.lit(`0${value}`);
    return this.lit(String(value));
  }

  /** A number written as an integer, a decimal or a double. */
  num(value: number): Literal {
    const form = this.r.int(0, 7);
    if (form === 0) return this.lit(value.toExponential().replace('e+', 'E'));
    if (form === 1 && !/e/.test(String(value))) return this.lit(`"${value}"^^xsd:decimal`);
    if (form === 2 && Number.isInteger(value)) return this.lit(`${value}.0`);
    if (form === 3 && value > 0 && value < 1) return this.lit(String(value).replace(/^0\./, '.'));
    if (form === 4) return this.lit(`"${value}"^^xsd:double`);
    const text = String(value);
    // A bare "1e-7" is a double, a bare "0.5" a decimal, a bare "5" an integer: all accepted.
    return this.lit(/e/.test(text) ? text.replace('e', 'E') : text);
  }

  bool(value: boolean): Literal {
    const form = this.r.int(0, 5);
    if (form === 0) return this.lit(`"${value ? '1' : '0'}"^^xsd:boolean`);
    if (form === 1) return this.lit(`"${value}"^^xsd:boolean`);
    return this.lit(String(value));
  }

  duration(text: string): Literal {
    return this.lit(this.r.chance(0.7) ? `"${text}"^^xsd:duration` : `"${text}"`);
  }

  // --- nodes ---

  private localName(base: string): string {
    let name = base;
    for (let i = 2; this.localNames.has(name); i++) name = `${base}${i}`;
    this.localNames.add(name);
    return name;
  }

  /** A new node; `canInline` nodes may end up written as `[ … ]` when used exactly once. */
  node(type: string, base: string, opts: { style?: Style; canInline?: boolean } = {}): Node {
    let style: Style = opts.style ?? 'iri';
    if (!opts.style && this.r.chance(this.blankStyle)) style = opts.canInline !== false && this.r.chance(0.6) ? 'inline' : this.multiFile ? 'inline' : 'bnode';
    const n: Node = { kind: 'node', type, style, local: this.localName(base), props: [], refs: 0 };
    this.nodes.push(n);
    this.used.add(type);
    return n;
  }

  set(n: Node, property: string, ...given: Value[]): void {
    let values = given;
    if (values.length === 0) return;
    this.used.add(property);
    for (const v of values) {
      if (v.kind === 'node') v.refs++;
      else if (v.text.startsWith('"') || v.text.startsWith("'")) {
        const m = /^("""|"|')(.*)\1/s.exec(v.text);
        if (m) this.used.add(`${property}=${m[2]}`);
      }
    }
    // The same value written twice is one triple: valid, and must not count twice.
    if (MULTI_VALUED.has(property) && values[0]!.kind === 'literal' && this.r.chance(0.05)) values = [...values, values[0]!];
    const existing = n.props.find(([p]) => p === property);
    if (existing) existing[1].push(...values);
    else n.props.push([property, values]);
  }

  /** A node of a shared pool (rate limiters, breakers, …): reuse one, or make a new one. */
  pooled(kind: string, make: () => Node): Node {
    const pool = this.pools.get(kind) ?? [];
    this.pools.set(kind, pool);
    if (pool.length > 0 && this.r.chance(0.45)) return this.r.pick(pool);
    const n = make();
    pool.push(n);
    return n;
  }

  // --- names ---

  dnsLabel(prefix: string): string {
    const roll = this.r.int(0, 9);
    if (roll === 0) {
      // The longest DNS label: 63 characters.
      const head = `${prefix}-`;
      return `${head}${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3)}`.slice(0, 62).replace(/-$/, 'x') + 'z';
    }
    if (roll === 1) {
      const digit = this.r.int(0, 9);
      // Labels some YAML parser reads as numbers (YAML 1.2's octal, exponent, hex): must stay strings.
      if (digit < 3) return [`0o1${prefix.length % 8}`, `1e${prefix.length}`, `0x${prefix.length}f`][digit]!;
      return `${digit}${prefix}`;
    }
    if (roll === 2) return `${prefix}--${this.r.int(1, 99)}`;
    return `${prefix}${this.r.chance(0.5) ? `-${this.r.pick(WORDS)}` : ''}`;
  }

  uniqueName(taken: Set<string>, prefix: string): string {
    for (;;) {
      const name = this.dnsLabel(prefix);
      if (!DNS_LABEL.test(name)) continue;
      if (!taken.has(name)) {
        taken.add(name);
        return name;
      }
      prefix = `${prefix}${this.r.int(0, 9)}`;
    }
  }

  maybeAnnotate(n: Node): void {
    if (this.r.chance(0.15)) this.set(n, 'rdfs:comment', this.str(this.r.pick(UNICODE)));
    if (this.r.chance(0.05)) this.set(n, 'rdfs:comment', this.lit(`"${this.r.pick(['une route', 'ein Dienst', 'サービス'])}"@${this.r.pick(['fr', 'de', 'ja'])}`));
    if (this.r.chance(0.05)) this.set(n, 'rdfs:label', this.str(this.r.pick(UNICODE)));
    if (this.r.chance(0.04)) {
      this.set(n, 'agw:auditSuppress', this.str(this.r.pick(['route-without-timeout', 'route-without-rate-limit', 'mtls-not-strict'])));
      if (this.r.chance(0.8)) this.set(n, 'agw:auditReason', this.str(this.r.pick(UNICODE)));
    }
  }

  // --- the model ---

  build(): RandomModel {
    const r = this.r;
    const gw = this.node('ApiGateway', r.pick(['gateway', 'gw', 'Edge', 'mainGateway']), { style: r.chance(0.85) ? 'iri' : 'bnode', canInline: false });
    if (gw.style === 'bnode' && this.multiFile) gw.style = 'iri';
    this.gatewayName = this.uniqueName(new Set(), r.pick(['shop', 'edge', 'api', 'gw', 'research-platform', 'metered']));
    this.set(gw, 'gatewayName', this.str(this.gatewayName));
    if (r.chance(0.7)) this.set(gw, 'listenPort', this.int(r.pick([1, 80, 8080, 8443, 65535, r.int(1024, 65535)])));
    this.maybeAnnotate(gw);

    const serviceCount = r.int(1, 6);
    for (let i = 0; i < serviceCount; i++) this.service();

    if (r.chance(0.6)) {
      const mesh = this.mesh();
      this.set(gw, 'hasServiceMesh', mesh);
      // The ggen package's reading: a service names its mesh too.
      for (const s of this.services) if (r.chance(0.05)) this.set(s.node, 'hasServiceMesh', mesh);
    }
    if (r.chance(0.3)) this.set(gw, 'hasCorsPolicy', this.pooled('cors', () => this.cors()));
    if (r.chance(0.5)) this.set(gw, 'hasDistributedTracing', this.tracing());

    // Now and then several gateways' worth of routes.
    const routeCount = this.options.routes ?? (r.chance(0.12) ? r.int(12, 30) : r.int(1, 9));
    for (let i = 0; i < routeCount; i++) this.set(gw, 'hasRoute', this.route());

    const consumerCount = r.int(0, 4);
    for (let i = 0; i < consumerCount; i++) {
      const c = this.consumer();
      // Every consumer is the gateway's (one it does not list is an error). The draw that once
      // left some unlisted is kept, so that each seed still makes the model it made.
      r.chance(0.9);
      this.set(gw, 'hasConsumer', c);
    }
    // Nodes nothing refers to: valid, and every target must cope with them.
    if (r.chance(0.15)) this.rateLimiter();
    if (r.chance(0.1)) this.breaker();
    if (r.chance(0.1)) this.tier();

    return {
      seed: this.seed,
      files: this.write(),
      routeNames: [...this.routeNames].sort(),
      serviceNames: this.services.map((s) => s.name).sort(),
      consumerNames: [...this.consumerNames].sort(),
      gatewayName: this.gatewayName,
      used: new Set(this.used),
    };
  }

  service(): Node {
    const r = this.r;
    const name = this.uniqueName(new Set(this.services.map((s) => s.name)), r.pick(WORDS));
    const n = this.node('BackendService', r.pick(['svc', 'service', 'Backend', 'orders_service']), { canInline: false });
    const entry = { node: n, name, grpc: false };
    this.services.push(entry);
    this.set(n, 'serviceName', this.str(name));
    if (r.chance(0.4)) this.set(n, 'host', this.str(r.pick(HOSTS)));
    if (r.chance(0.6)) this.set(n, 'port', this.int(r.pick([1, 80, 443, 8080, 9000, 65535, r.int(1, 65535)])));
    if (r.chance(0.5)) {
      const protocol = r.pick(['http', 'https', 'grpc']);
      this.set(n, 'protocol', this.str(protocol));
      entry.grpc = protocol === 'grpc';
    }
    if (r.chance(0.6)) this.set(n, 'namespace', this.str(r.chance(0.15) ? this.gatewayName : r.pick(NAMESPACES)));
    if (r.chance(0.3)) {
      const count = r.int(1, 3);
      for (let i = 0; i < count; i++) {
        const inst = this.node('ServiceInstance', 'instance');
        if (r.chance(0.8)) this.set(inst, 'host', this.str(r.chance(0.7) ? `10.0.${r.int(0, 255)}.${r.int(1, 254)}` : r.pick(HOSTS)));
        if (r.chance(0.6)) this.set(inst, 'port', this.int(r.pick([1, 8080, 9000, 65535, r.int(1, 65535)])));
        if (r.chance(0.6)) this.set(inst, 'weight', this.int(r.pick([0, 1, 25, 50, 75, 100, r.int(0, 100)])));
        this.set(n, 'hasInstance', inst);
      }
    }
    if (r.chance(0.5)) this.set(n, 'loadBalancing', this.str(r.pick(['round-robin', 'least-connections', 'random', 'consistent-hash'])));
    if (r.chance(0.4)) this.set(n, 'hasHealthCheck', this.pooled('health', () => this.healthCheck()));
    if (r.chance(0.3)) this.set(n, 'hasMutualTLS', this.pooled('mtls', () => this.mtls()));
    if (r.chance(0.5)) this.set(n, 'version', this.str(r.pick(VERSIONS)));
    if (r.chance(0.4)) this.set(n, 'replicas', this.int(r.pick([1, 2, 3, 5, 10, 100])));
    if (r.chance(0.5)) this.set(n, 'image', this.str(r.pick(IMAGES)));
    if (r.chance(0.05)) this.set(n, 'hasSidecar', this.node('Sidecar', 'sidecar'));
    this.maybeAnnotate(n);
    return n;
  }

  healthCheck(): Node {
    const r = this.r;
    const n = this.node('HealthCheck', 'health');
    if (r.chance(0.7)) this.set(n, 'healthCheckPath', this.str(r.pick(['/healthz', '/health', '/', '/ready/now', '/status.json', '/~probe', '/v1/{id}/health'])));
    if (r.chance(0.7)) this.set(n, 'healthCheckInterval', this.duration(r.pick(DURATIONS)));
    if (r.chance(0.5)) this.set(n, 'successThreshold', this.int(r.pick([1, 2, 5, 300])));
    if (r.chance(0.5)) this.set(n, 'failureThresholdHealth', this.int(r.pick([1, 3, 10, 300])));
    return n;
  }

  mtls(): Node {
    const r = this.r;
    const n = this.node('MutualTLS', 'mtls');
    this.set(n, 'mtlsMode', this.str(r.pick(['STRICT', 'PERMISSIVE', 'DISABLE']), true));
    if (r.chance(0.4)) {
      const cert = this.node('Certificate', 'cert');
      if (r.chance(0.7)) this.set(cert, 'certificateExpiry', this.lit(`"${r.pick(INSTANTS)}"^^xsd:dateTime`));
      if (r.chance(0.7)) this.set(cert, 'rotationPeriod', this.duration(r.pick(ROTATIONS)));
      this.set(n, 'hasCertificate', cert);
    }
    return n;
  }

  mesh(): Node {
    const r = this.r;
    const n = this.node('ServiceMesh', 'mesh');
    // By the seed, so that any few seeds with a mesh see every mesh type.
    this.set(n, 'meshType', this.str(['istio', 'linkerd', 'consul', 'kuma'][this.seed % 4]!));
    if (r.chance(0.6)) this.set(n, 'namespace', this.str(r.pick(['istio-system', 'mesh', 'default', 'linkerd', this.gatewayName])));
    if (r.chance(0.6)) this.set(n, 'hasMutualTLS', this.pooled('mtls', () => this.mtls()));
    return n;
  }

  tracing(): Node {
    const r = this.r;
    const n = this.node('DistributedTracing', 'tracing');
    if (r.chance(0.8)) this.set(n, 'samplingRate', this.num(r.pick([0, 1, 0.5, 0.01, 0.001, 0.123456789, 1e-7])));
    if (r.chance(0.7)) this.set(n, 'collectorEndpoint', this.str(r.pick(COLLECTORS)));
    return n;
  }

  cors(): Node {
    const r = this.r;
    const n = this.node('CorsPolicy', 'cors');
    this.set(n, 'allowOrigin', ...r.someNonEmpty(ORIGINS, 0.3).map((o) => this.str(o)));
    if (r.chance(0.6)) this.set(n, 'allowMethod', ...r.someNonEmpty(CORS_METHODS, 0.3).map((m) => this.str(m)));
    if (r.chance(0.6)) this.set(n, 'allowHeader', ...r.someNonEmpty(CORS_HEADERS, 0.3).map((h) => this.str(h)));
    if (r.chance(0.6)) this.set(n, 'allowCredentials', this.bool(r.chance(0.5)));
    if (r.chance(0.5)) this.set(n, 'maxAgeSeconds', this.int(r.pick([0, 1, 600, 86400, 31536000])));
    return n;
  }

  limits(n: Node): void {
    const r = this.r;
    for (const w of r.someNonEmpty(WINDOWS, 0.4)) this.set(n, w, this.int(r.pick([1, 2, 5, 10, 60, 100, 1000, 3600, 100000, 1000000000, r.int(1, 100000)])));
  }

  rateLimiter(): Node {
    const r = this.r;
    const n = this.node('RateLimiter', r.pick(['limit', 'rateLimit', 'límite']));
    this.limits(n);
    if (r.chance(0.4)) this.set(n, 'burstSize', this.int(r.pick([1, 5, 50, 1000, r.int(1, 100000)])));
    if (r.chance(0.6)) this.set(n, 'limitBy', this.str(r.pick(['ip', 'consumer', 'global'])));
    if (r.chance(0.6)) this.set(n, 'policy', this.str(r.pick(['local', 'redis'])));
    this.maybeAnnotate(n);
    return n;
  }

  breaker(): Node {
    const r = this.r;
    const n = this.node('CircuitBreaker', 'breaker');
    this.set(n, 'failureThreshold', this.int(r.pick([1, 3, 5, 10, 300])));
    this.set(n, 'timeoutSeconds', this.num(r.pick([0.001, 0.5, 1, 15, 30, 2.5, 3600, 86400])));
    if (r.chance(0.5)) this.set(n, 'halfOpenRequests', this.int(r.pick([1, 2, 10])));
    return n;
  }

  retry(): Node {
    const r = this.r;
    const n = this.node('RetryPolicy', 'retry');
    // Left out now and then: two retries, as every target must read it.
    if (r.chance(0.85)) this.set(n, 'retryAttempts', this.int(r.pick([0, 1, 2, 3, 10])));
    if (r.chance(0.5)) this.set(n, 'backoffMultiplier', this.num(r.pick([1, 1.5, 2, 3, 10])));
    if (r.chance(0.5)) this.set(n, 'initialDelayMs', this.int(r.pick([0, 1, 25, 100, 250, 5000])));
    if (r.chance(0.6)) this.set(n, 'retryOn', ...r.someNonEmpty(['5xx', 'gateway-error', 'connect-failure', 'reset'], 0.4).map((v) => this.str(v)));
    if (r.chance(0.6)) this.set(n, 'perTryTimeoutSeconds', this.num(r.pick([0.0004, 0.05, 0.25, 1, 2, 2.5, 30])));
    return n;
  }

  auth(): Node {
    const r = this.r;
    if (r.chance(0.45)) {
      const n = this.node('ApiKey', 'apiKey');
      if (r.chance(0.6)) this.set(n, 'keyHeader', this.str(r.pick(KEY_HEADERS)));
      return n;
    }
    const n = this.node('JWTAuthentication', 'jwt');
    this.set(n, 'issuer', this.str(r.pick(ISSUERS)));
    if (r.chance(0.6)) this.set(n, 'audience', ...r.someNonEmpty(AUDIENCES, 0.3).map((a) => this.str(a)));
    const keys = r.pick(['jwks', 'secret', 'both']);
    if (keys !== 'secret') this.set(n, 'jwksUri', this.str(r.pick(JWKS)));
    if (keys !== 'jwks') this.set(n, 'secretEnv', this.str(this.envName()));
    if (r.chance(0.6)) {
      const allowed = [...(keys !== 'secret' ? ['RS256', 'ES256'] : []), ...(keys !== 'jwks' ? ['HS256'] : [])];
      this.set(n, 'algorithm', ...r.someNonEmpty(allowed, 0.6).map((a) => this.str(a)));
    }
    if (r.chance(0.5)) this.set(n, 'requiredScope', ...r.someNonEmpty(SCOPES, 0.3).map((s) => this.str(s)));
    return n;
  }

  private readonly consumerEnvs: string[] = [];

  consumerEnv(): string {
    const name = this.envName();
    this.consumerEnvs.push(name);
    return name;
  }

  envName(): string {
    const base = this.r.pick(ENV_NAMES);
    let name = base;
    for (let i = 2; this.envNames.has(name); i++) name = `${base}_${i}`;
    this.envNames.add(name);
    return name;
  }

  ipRestriction(): Node {
    const r = this.r;
    const n = this.node('IpRestriction', 'ipRestriction');
    const mode = r.pick(['allow', 'deny', 'both']);
    const cidrs = () => r.someNonEmpty([...CIDRS_V4, ...CIDRS_V6], 0.2).map((c) => this.str(c));
    if (mode !== 'deny') this.set(n, 'allowCidr', ...cidrs());
    if (mode !== 'allow') this.set(n, 'denyCidr', ...cidrs());
    return n;
  }

  /** A path no other route serves with a common method, and the methods to use on it. */
  pathAndMethods(): { path: string; methods: string[] } {
    const r = this.r;
    for (;;) {
      const segments: string[] = [];
      const params = new Set<string>();
      const depth = r.chance(0.05) ? 0 : r.int(1, 4);
      for (let i = 0; i < depth; i++) {
        const roll = r.next();
        if (roll < 0.25 && i > 0) {
          const pool = r.chance(0.1) ? LONG_PARAMS : PARAMS;
          const p = r.pick(pool.filter((x) => !params.has(x)));
          params.add(p);
          segments.push(`{${p}}`);
        } else if (roll < 0.35) segments.push(r.pick(ODD_SEGMENTS));
        else segments.push(r.pick(WORDS));
      }
      let path = `/${segments.join('/')}`;
      if (path !== '/' && r.chance(0.08)) path += '/';
      const key = path.replace(/\{[^}]*\}/g, '{}').replace(/\/+$/, '') || '/';
      const taken = this.paths.get(key) ?? [];
      const every = new Set<string>(METHODS);
      const usedMethods = new Set(taken.flatMap((s) => [...(s.size === 0 ? every : s)]));
      const free = METHODS.filter((m) => !usedMethods.has(m));
      if (taken.length > 0 && free.length === 0) continue;
      let methods: string[];
      if (taken.length > 0) methods = r.someNonEmpty(free, 0.5);
      else methods = r.chance(0.35) ? [] : r.someNonEmpty(METHODS, 0.3);
      taken.push(new Set(methods));
      this.paths.set(key, taken);
      return { path, methods };
    }
  }

  route(): Node {
    const r = this.r;
    const base = r.pick(['OrdersRoute', 'listUsers', 'route', 'Search_API', 'getItem2', 'healthCheck', 'WSEvents']);
    let named = r.chance(0.7);
    // A route written as a blank node has no IRI to name it after: it needs agw:routeName.
    const n = this.node('Route', base, { canInline: r.chance(0.3) });
    // The name gwgen derives for a route without agw:routeName (the local name has no # / :).
    const derived = kebabLocalName(n.local);
    if (n.style !== 'iri') named = true;
    if (!named && (!DNS_LABEL.test(derived) || this.routeNames.has(derived))) named = true;
    let name = derived;
    if (named) {
      name = this.uniqueName(this.routeNames, r.pick(['orders', 'list-users', 'r', 'search', 'get-item', 'ws', 'upload']));
      this.set(n, 'routeName', this.str(name));
    } else this.routeNames.add(name);

    const { path, methods } = this.pathAndMethods();
    this.set(n, 'routePath', this.str(path));
    if (methods.length > 0) this.set(n, 'httpMethod', ...methods.map((m) => this.str(m)));

    this.picked = [];
    const shape = r.pick(['backend', 'backend', 'backend', 'weighted', 'canary', 'weighted+canary']);
    if (shape === 'backend' || shape === 'canary') this.set(n, 'hasBackendService', this.pickService());
    if (shape === 'weighted' || shape === 'weighted+canary') {
      const count = r.int(1, 4);
      const weights = splitWeights(r, count);
      for (const w of weights) {
        const s = this.node('TrafficSplit', 'split');
        this.set(s, 'hasBackendService', this.pickService());
        this.set(s, 'weight', this.int(w));
        this.set(n, 'hasTrafficSplit', s);
      }
    }
    if (shape === 'canary' || shape === 'weighted+canary') {
      const count = r.int(1, 3);
      const seen = new Set<string>();
      for (let i = 0; i < count; i++) {
        const header = r.pick(HEADER_NAMES);
        const value = r.pick(HEADER_VALUES);
        const key = `${header.toLowerCase()}=${value}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const s = this.node('TrafficSplit', 'canary');
        this.set(s, 'hasBackendService', this.pickService());
        this.set(s, 'matchHeader', this.str(header));
        this.set(s, 'matchHeaderValue', this.str(value));
        this.set(n, 'hasTrafficSplit', s);
      }
    }
    if (r.chance(0.3)) this.set(n, 'stripPath', this.bool(r.chance(0.6)));
    if (r.chance(0.5)) this.set(n, 'timeoutSeconds', this.num(r.pick([0.001, 0.25, 1, 2.5, 5, 30, 60, 3600, 86400 * 30])));
    if (r.chance(0.5)) this.set(n, 'hasRateLimiter', this.pooled('limiter', () => this.rateLimiter()));
    if (r.chance(0.4)) this.set(n, 'hasCircuitBreaker', this.pooled('breaker', () => this.breaker()));
    if (r.chance(0.4)) this.set(n, 'hasRetryPolicy', this.pooled('retry', () => this.retry()));
    if (r.chance(0.2)) {
      const m = this.node('TrafficMirror', 'mirror');
      this.set(m, 'hasBackendService', this.pickService());
      this.set(m, 'mirrorPercent', this.int(r.pick([0, 1, 10, 50, 100])));
      this.set(n, 'hasTrafficMirror', m);
    }
    if (r.chance(0.5)) this.set(n, 'hasAuthentication', this.pooled('auth', () => this.auth()));
    if (r.chance(0.25)) this.set(n, 'hasIpRestriction', this.pooled('ip', () => this.ipRestriction()));
    if (r.chance(0.25)) this.set(n, 'hasCorsPolicy', this.pooled('cors', () => this.cors()));
    if (r.chance(0.2)) {
      const grpc = this.picked.some((p) => this.services.find((s) => s.node === p)?.grpc);
      this.set(n, 'websocket', this.bool(r.chance(0.7) && !grpc));
    }
    // A term of the ggen api-gateway-service-mesh package, which gwgen accepts and ignores.
    if (r.chance(0.05)) this.set(n, 'hasLoadBalancer', this.node('LoadBalancer', 'loadBalancer'));
    if (r.chance(0.3)) this.set(n, 'costMultiplier', this.num(r.pick([0, 0.5, 1, 2, 10.25, 1000])));
    this.maybeAnnotate(n);
    return n;
  }

  pickService(): Node {
    const node = this.r.pick(this.services).node;
    this.picked.push(node);
    return node;
  }

  tier(): Node {
    const r = this.r;
    const n = this.node('QuotaTier', r.pick(['freeTier', 'pro', 'Enterprise_Plan']));
    this.limits(n);
    if (r.chance(0.6)) this.set(n, 'tierName', this.str(r.pick(['free', 'pro', 'enterprise', 'Gold Plan ✨', 'tier: "x"', 'über'])));
    if (r.chance(0.6)) this.set(n, 'monthlyQuota', this.int(r.pick([1, 1000, 10000, 2000000, 10000000000])));
    return n;
  }

  consumer(): Node {
    const r = this.r;
    const n = this.node('Consumer', r.pick(['mobileApp', 'partner', 'consumer', 'acme_corp']));
    const name = this.uniqueName(this.consumerNames, r.pick(['mobile-app', 'partner', 'acme', 'c', 'hobby-mapper']));
    this.set(n, 'consumerName', this.str(name));
    // Rarely, two consumers hold the same key.
    if (r.chance(0.7)) this.set(n, 'apiKeyEnv', this.str(this.consumerEnvs.length > 0 && r.chance(0.05) ? r.pick(this.consumerEnvs) : this.consumerEnv()));
    if (r.chance(0.6)) this.set(n, 'hasQuotaTier', this.pooled('tier', () => this.tier()));
    this.maybeAnnotate(n);
    return n;
  }

  // --- writing Turtle ---

  private subject(n: Node): string {
    if (n.style === 'bnode') return `_:b_${n.local.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const iriStyle = this.iriStyles.get(n) ?? this.r.int(0, 5);
    this.iriStyles.set(n, iriStyle);
    if (iriStyle === 0) return `<https://example.org/models/${this.seed}#${encodeURIComponent(n.local)}>`;
    if (iriStyle === 1 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n.local)) return `ex2:${n.local}`;
    return `ex:${n.local}`;
  }

  private readonly iriStyles = new Map<Node, number>();

  private value(v: Value, indent: string): string {
    if (v.kind === 'literal') return v.text;
    if (v.style === 'inline') return this.inline(v, indent);
    return this.subject(v);
  }

  private inline(n: Node, indent: string): string {
    const inner = `${indent}    `;
    const lines = [`a agw:${n.type}`, ...n.props.map(([p, vs]) => `${this.pred(p)} ${vs.map((v) => this.value(v, inner)).join(', ')}`)];
    return `[\n${inner}${lines.join(` ;\n${inner}`)}\n${indent}]`;
  }

  private pred(p: string): string {
    return p.includes(':') ? p : `agw:${p}`;
  }

  private statement(n: Node): string {
    const typeWord = this.r.chance(0.1) ? 'rdf:type' : 'a';
    const lines = [`${typeWord} agw:${n.type}`, ...n.props.map(([p, vs]) => `${this.pred(p)} ${vs.map((v) => this.value(v, '    ')).join(', ')}`)];
    return `${this.subject(n)} ${lines.join(' ;\n    ')} .`;
  }

  write(): { name: string; text: string }[] {
    // A node written inline must be used exactly once; others become IRIs or labelled blank nodes.
    for (const n of this.nodes) {
      if (n.style === 'inline' && n.refs !== 1) n.style = this.multiFile ? 'iri' : 'bnode';
      if (n.style === 'bnode' && this.multiFile) n.style = 'iri';
    }
    const top = this.r.shuffle(this.nodes.filter((n) => n.style !== 'inline'));
    const fileCount = this.multiFile ? 2 : 1;
    const statements: string[][] = Array.from({ length: fileCount }, () => []);
    for (const n of top) {
      const f = this.r.int(0, fileCount - 1);
      statements[f]!.push(this.statement(n));
    }
    return statements.map((body, f) => {
      const sparqlStyle = this.r.chance(0.2);
      const prefix = (name: string, iri: string) => (sparqlStyle ? `PREFIX ${name}: <${iri}>` : `@prefix ${name}: <${iri}> .`);
      const header = [
        `# Random model, seed ${this.seed}${fileCount > 1 ? `, file ${f + 1} of ${fileCount}` : ''} (test/random-models.ts).`,
        prefix('agw', AGW),
        prefix('rdf', 'http://www.w3.org/1999/02/22-rdf-syntax-ns#'),
        prefix('rdfs', 'http://www.w3.org/2000/01/rdf-schema#'),
        prefix('xsd', 'http://www.w3.org/2001/XMLSchema#'),
        prefix('ex', `https://example.org/models/${this.seed}#`),
        prefix('ex2', `urn:example:${this.seed}:`),
      ];
      return { name: `model-${this.seed}${fileCount > 1 ? `-${f + 1}` : ''}.ttl`, text: `${header.join('\n')}\n\n${body.join('\n\n')}\n` };
    });
  }
}

/** `count` integer weights in 0..100 that sum to 100 (zeros allowed). */
function splitWeights(r: Rng, count: number): number[] {
  if (count === 1) return [100];
  const cuts = Array.from({ length: count - 1 }, () => (r.chance(0.15) ? r.pick([0, 100]) : r.int(0, 100))).sort((a, b) => a - b);
  const weights: number[] = [];
  let last = 0;
  for (const c of cuts) {
    weights.push(c - last);
    last = c;
  }
  weights.push(100 - last);
  return weights;
}
