import { createHash } from 'node:crypto';
import type * as M from '../model/types.js';
import { HTTP_METHODS, RATE_WINDOWS, WINDOW_SECONDS } from '../model/types.js';
import type { Limitation, PlannedFile, Target } from './types.js';
import type { YamlEntry } from '../pipeline/helpers.js';
import { compareStrings } from '../order.js';
import { v5 as uuidv5 } from 'uuid';
import { acceptsMtls, allowHeader, canaryParts, escapeRegex, hostPort, isParamSegment, MAX_AGE_SECONDS, moreSpecificMeeting, mtlsModeOf, otlpTracesUrl, ownWorkloadNames, pathGroups, serviceResourceName, routeSegments, segmentsRegex } from './mesh-common.js';

/**
 * Kong DB-less declarative config. Kong timeouts and retries live on services, so every gwgen
 * route becomes one Kong service with one route: per-route policies stay per route. Services
 * reach backends through upstreams, which carry the weighted targets (traffic splits) and the
 * health checks (active = agw:HealthCheck, passive = the route's circuit breaker).
 * Everything the model says that Kong OSS cannot enforce is listed in kong/NOTES.md.
 */
export const kongTarget: Target = {
  name: 'kong',
  description: 'Kong declarative config (DB-less, _format_version "3.0"): kong/kong.yml',
  applies: (model) => model.routes.length > 0,
  partials: { dir: 'kong', names: ['_plugin.hbs'] },
  view: (model) => kongView(model),
  plan(model): PlannedFile[] {
    const view = kongView(model);
    return [
      { path: 'kong/kong.yml', template: 'kong/kong.yml.hbs', context: view },
      { path: 'kong/NOTES.md', template: 'kong/NOTES.md.hbs', context: view },
    ];
  },
};

// --- the view the templates render ---------------------------------------------------------

interface KongPlugin {
  readonly name: string;
  /** Scope of a top-level plugin: the route and consumer it applies to (by name). */
  readonly route?: string;
  readonly consumer?: string;
  /** Plugin config as plain data; the template writes it with the `yaml` helper per scalar. */
  readonly config: ConfigEntry[];
  readonly tags: readonly string[];
}
/** A config field: scalar, list of scalars, or nested object (the `yamlEntries` helper writes them). */
type ConfigEntry = YamlEntry;

interface KongRoute {
  readonly name: string;
  readonly paths: readonly string[];
  readonly methods: readonly string[];
  readonly headers: readonly { name: string; values: readonly string[] }[];
  readonly stripPath: boolean;
  readonly regexPriority: number;
  readonly plugins: readonly KongPlugin[];
  readonly tags: readonly string[];
}

interface KongService {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: string;
  readonly retries: number;
  readonly timeoutMs?: number;
  /** The id of the client certificate Kong presents (mTLS to an https backend). */
  readonly clientCertificate?: string;
  readonly routes: readonly KongRoute[];
  readonly tags: readonly string[];
}

interface KongUpstream {
  readonly name: string;
  readonly algorithm: string;
  readonly hashOn?: string;
  /** The named capture of the route's path whose value is hashed (hashOn "uri_capture"). */
  readonly hashOnUriCapture?: string;
  readonly targets: readonly { target: string; weight: number; tags: readonly string[] }[];
  /**
   * Active probes: agw:HealthCheck (a probe of every target on its path), or, for a circuit
   * breaker without one, a probe of ejected targets only (GET /, healthy targets not probed).
   */
  readonly active?: { path?: string; healthyInterval: number; unhealthyInterval: number; successes: number; failures: number; type: string; timeout?: number; healthyStatuses?: readonly number[]; unhealthyStatuses?: readonly number[] };
  readonly passive?: { failures: number; type: string; healthyStatuses: readonly number[]; unhealthyStatuses: readonly number[] };
  /**
   * The id of the client certificate Kong's active probes present: they open their own TLS
   * connections (lua-resty-healthcheck), with the upstream's certificate and never the service's,
   * so a probe of a backend that requires mTLS would fail its handshake and eject every target.
   */
  readonly clientCertificate?: string;
  readonly tags: readonly string[];
}

interface KongConsumer {
  readonly username: string;
  /** `env`: the DECK_ variable whose value decK writes in as the key (see deckEnvName). */
  readonly keyauth: readonly { env: string; tags: readonly string[] }[];
  readonly jwt: readonly { key: string; algorithm: string; secretEnv: string; tags: readonly string[] }[];
  /** The acl groups the consumer is in: an issuer's consumer is in its own (see issuerConsumer). */
  readonly acls: readonly string[];
  readonly plugins: readonly KongPlugin[];
  readonly tags: readonly string[];
}

export interface KongView {
  readonly gateway: string;
  readonly services: readonly KongService[];
  readonly upstreams: readonly KongUpstream[];
  readonly consumers: readonly KongConsumer[];
  readonly plugins: readonly KongPlugin[];
  /** The client certificate of mTLS to backends, as Kong env-vault references (at most one). */
  readonly certificates: readonly { id: string; cert: string; key: string; tags: readonly string[] }[];
  /** Limitations grouped by feature and consequence, each with the routes etc. it concerns. */
  readonly notes: readonly NoteGroup[];
}

/** Kong tags are printable ASCII without "," and "/": free text from the model is folded into that. */
function tagValue(text: string): string {
  return text.replace(/[^\x21-\x7e]+|[,/]+/g, '-').slice(0, 100) || '-';
}

/** Kong's env vault: `{vault://env/acme-api-key}` reads ACME_API_KEY. */
export function vaultRef(envVar: string): string {
  return `{vault://env/${envVar.toLowerCase().replace(/_/g, '-')}}`;
}

/**
 * Kong resolves `{vault://...}` references only in fields its schema marks referenceable (a
 * certificate's cert and key are), not in consumer credentials: a keyauth_credentials key or a
 * jwt_secrets secret written as a reference would be that literal text, a key anyone who reads
 * kong.yml could send. Those secrets are decK env templates instead, which decK fills in from
 * DECK_* variables (it reads no others) when it syncs the file or renders it for `kong start`.
 */
export function deckEnvName(envVar: string): string {
  return envVar.startsWith('DECK_') ? envVar : `DECK_${envVar}`;
}

/**
 * A tag on every credential whose secret is a decK template. decK renders it as
 * "secret-from-env"; as generated it holds "/", which Kong's tags may not, so `kong start` on the
 * unrendered file fails naming this text, rather than take the template text as the secret.
 */
export const DECK_RENDER_GUARD = 'secret-from-env${{/* render kong.yml with decK */}}';

/** Kong requires ids on certificates: derived from the gateway's name, so regeneration keeps them. */
const GWGEN_UUID_NAMESPACE = uuidv5('https://ggen.ai/gwgen', uuidv5.URL);

/**
 * mTLS to a backend that Kong can originate itself: over https, presenting the client
 * certificate read from the env vars GW_MTLS_CERT and GW_MTLS_KEY (the names the generated
 * gateway reads too). Over http it would need a mesh sidecar, which NOTES.md says.
 */
function originatesMtls(service: M.BackendService, model: M.GatewayModel): boolean {
  return service.protocol === 'https' && acceptsMtls(service, model);
}

export function kongView(model: M.GatewayModel): KongView {
  const tags = (...extra: string[]) => [`gwgen`, `gateway:${model.gateway.name}`, ...extra];
  const certificateId = uuidv5(`gateway:${model.gateway.name}:mtls-client-certificate`, GWGEN_UUID_NAMESPACE);
  // Services whose mTLS some Kong service originates; the others are listed in NOTES.md.
  const mtlsCovered = new Set<string>();
  const mtlsFor = (protocol: string, members: readonly M.BackendService[]) => {
    const wanting = protocol === 'https' ? members.filter((m) => originatesMtls(m, model)) : [];
    for (const m of wanting) mtlsCovered.add(m.name);
    return wanting.length > 0 ? { clientCertificate: certificateId } : {};
  };
  const servicesByName = new Map(model.services.map((s) => [s.name, s]));
  const notes: Limitation[] = [];
  const upstreams = new Map<string, KongUpstream>();

  const upstreamFor = (route: M.Route, members: readonly { service: M.BackendService; weight: number }[]): string => {
    // A breaker belongs to a route, so a route with one gets its own upstream; so does a route
    // with path parameters to a consistent-hash service, whose hash key they are. Others share the service's.
    const own = members.length > 1 || route.circuitBreaker !== undefined || hashesParams(route, members[0]!.service);
    const name = own ? `${route.name}.${members.length > 1 ? 'split' : members[0]!.service.name}.upstream` : `${members[0]!.service.name}.upstream`;
    if (!upstreams.has(name)) {
      const upstream = buildUpstream(name, route, members, own ? tags(`route:${route.name}`) : tags(`service:${members[0]!.service.name}`), notes);
      const mtls = members.some((m) => originatesMtls(m.service, model));
      upstreams.set(name, mtls ? { ...upstream, clientCertificate: certificateId } : upstream);
    }
    return name;
  };

  const redisHost = ownWorkloadNames(model).redis;
  // The windows of the quota tiers' rate-limiting plugins, which run on every key-auth route.
  const tierWindows = [...new Set(model.consumers.flatMap((c) => (c.quotaTier ? [...RATE_WINDOWS.filter((w) => c.quotaTier!.limits[w] !== undefined), ...(c.quotaTier.monthlyQuota !== undefined ? ['month'] : [])] : [])))];
  const services: KongService[] = [];
  // Kong routes whose own rate limit a consumer's quota tier would replace (see tierScopedLimits).
  const keyAuthLimited: { kong: KongRoute; limiter: M.RateLimiter }[] = [];
  const groups = pathGroups(model.routes);
  const { priorities, refusals } = kongRouteOrder(groups);
  const overreached = moreSpecificMeeting(model.routes);
  const pathGroupOf = new Map(groups.flatMap((group) => group.map((route) => [route, group] as const)));
  for (const route of model.routes) {
    const members = splitMembers(route, servicesByName, notes);
    const primary = members[0]!.service;
    const kongRoute = (name: string, headers: KongRoute['headers']): KongRoute => {
      const built: KongRoute = {
        name,
        paths: [kongPath(route.path)],
        methods: kongMethods(route),
        headers,
        stripPath: route.stripPath,
        regexPriority: priorities.get(name)!,
        plugins: routePlugins(route, tags(`route:${route.name}`), redisHost, tierWindows, notes),
        tags: tags(`route:${route.name}`),
      };
      if (route.rateLimit && route.auth?.kind === 'apiKey') keyAuthLimited.push({ kong: built, limiter: route.rateLimit });
      return built;
    };
    const own = kongRoute(route.name, []);
    services.push({
      name: route.name,
      host: upstreamFor(route, members),
      port: primary.port,
      protocol: kongProtocol(primary),
      retries: route.retry?.attempts ?? 0,
      ...timeoutField(route, notes),
      ...mtlsFor(kongProtocol(primary), members.map((m) => m.service)),
      routes: [
        own,
        ...(hasPreflightRoute(route) ? [preflightRoute(route, own, priorities.get(preflightRouteName(route))!)] : []),
        ...(refusals.has(route.name) ? [refusalRoute(route, refusals.get(route.name)!, priorities.get(refusals.get(route.name)!.name)!, tags(`route:${route.name}`))] : []),
      ],
      tags: tags(`route:${route.name}`),
    });
    // A header-matched split is a second, more specific route to the canary's own service.
    const parts = canaryParts(route);
    for (const [i, split] of route.splits.filter((s) => s.matchHeader !== undefined).entries()) {
      const canary = servicesByName.get(split.service)!;
      const name = `${route.name}.${parts[i]}`;
      services.push({
        name,
        host: upstreamFor(route, [{ service: canary, weight: 100 }]),
        port: canary.port,
        protocol: kongProtocol(canary),
        retries: route.retry?.attempts ?? 0,
        ...timeoutField(route, notes),
        ...mtlsFor(kongProtocol(canary), [canary]),
        routes: [kongRoute(name, [{ name: split.matchHeader!.name, values: [kongHeaderValue(split.matchHeader!.value)] }])],
        tags: tags(`route:${route.name}`, `canary`),
      });
      // The canary's version is told apart only if no other backend of the route is on its address.
      const others = new Set(members.filter((m) => m.service.name !== canary.name).flatMap((m) => addressesOf(m.service)));
      if (addressesOf(canary).some((a) => others.has(a))) {
        notes.push({ subject: `route ${name}`, feature: 'agw:matchHeader to one address', detail: `Kong reaches a backend by its address, not by its agw:version: the canary service ${canary.name} shares an address with another backend of the route, so requests with the header also reach that backend's targets; give the canary's version an address of its own (a Kubernetes Service per version)` });
      }
      const value = split.matchHeader!.value;
      if (value.toLowerCase() !== value.toUpperCase()) {
        notes.push({ subject: `route ${name}`, feature: 'agw:matchHeaderValue with letters', detail: `Kong compares route header values case-insensitively, so ${split.matchHeader!.name}: ${value} also matches other spellings of "${value}" (the gateway and Istio compare exactly)` });
      }
    }
    // A more specific path with methods of its own: preflights there for the methods it lacks get this route's policy in the gateway.
    const underMethods = overreached(route.path).some((other) => other.methods.length > 0);
    noteRouteLimits(route, primary.protocol === 'grpc', model.consumers.length > 0, underMethods, notes);
    const undecodable = routeSegments(route.path).filter((seg) => !isParamSegment(seg) && kongSegmentRegex(seg) === undefined);
    if (undecodable.length > 0) {
      notes.push({ subject: `route ${route.name}`, feature: 'agw:routePath with escapes that are not UTF-8', detail: `Kong routes a request by its path with every escape but those of reserved characters decoded, and its router takes only paths that are UTF-8 text; the escapes of ${undecodable.map((s) => `"${s}"`).join(', ')} decode to bytes that are not, so no request reaches this route in Kong (the gateway and Istio route them)` });
    }
    if (parts.length > 0) noteCanaryOrder(route, parts, overreached(route.path), notes);
    if (hasPreflightRoute(route)) notePreflightOrder(route, overreached(route.path), notes);
    noteOptionsBesideNoCors(route, pathGroupOf.get(route)!, notes);
    if (route.rateLimit && parts.length > 0) {
      notes.push({ subject: `route ${route.name}`, feature: 'agw:hasRateLimiter with a header-matched split', detail: `Each header-matched canary is a Kong route of its own, and Kong counts a route's rate-limiting per route: the canary (${parts.map((p) => `${route.name}.${p}`).join(', ')}) has a budget of its own beside the route's, so the route admits up to ${parts.length + 1}× its limit in all` });
    }
  }
  // The acl check that keeps a route to its issuer answers for the jwt plugin once it has taken a
  // token of another issuer in kong.yml, with acl's own 403.
  const jwtRoutes = model.routes.filter((r) => r.auth?.kind === 'jwt');
  if (new Set(jwtRoutes.map((r) => (r.auth as M.JwtAuthentication).issuer)).size > 1) {
    for (const r of jwtRoutes) notes.push({ subject: `route ${r.name}`, feature: 'agw:issuer (several issuers)', detail: "Kong's jwt plugin takes a valid token of any issuer that has a credential in kong.yml; an acl check keeps each route to its own issuer, and answers a token of another issuer with 403 (\"You cannot consume this service\") where the gateway answers 401" });
  }
  // Kong's plugins and proxy answer through kong.response.error, whose JSON body is
  // error_template_json with the message alone: no shape of kong.yml gives the gateway's body.
  const forbidders = [model.routes.some((r) => r.ipRestriction) && 'ip-restriction', jwtRoutes.length > 0 && 'acl'].filter((x): x is string => typeof x === 'string');
  const ownAnswers = [model.routes.some((r) => r.auth) && '401 (key-auth, jwt)', forbidders.length > 0 && `403 (${forbidders.join(', ')})`, model.routes.some((r) => r.rateLimit) || model.consumers.some((c) => c.quotaTier) ? '429 (rate-limiting)' : false, '502, 503 and 504 (backend unreachable, no healthy target, timeout)'].filter(Boolean);
  notes.push({ subject: `gateway ${model.gateway.name}`, feature: "Error bodies of Kong's own answers", detail: `Kong's own answers, ${ownAnswers.join(', ')}, have the body {"message": "..."} where the gateway sends {"error": "...", "status": N} (kong.yml's 405 routes send the gateway's); kong.conf's error_template_json can name the field error ({"error":"%s"}), not add the status` });
  const certificateNote = "Kong does not track certificate expiry or rotation; the client certificate it presents (GW_MTLS_CERT/GW_MTLS_KEY) is renewed by whoever sets those variables";
  if (model.gateway.mesh?.mtls?.certificate) notes.push({ subject: `mesh ${model.gateway.mesh.type}`, feature: 'agw:hasCertificate', detail: certificateNote });
  const tracing = model.gateway.tracing;
  // Kong's opentelemetry plugin cannot be configured without an endpoint, and without it Kong
  // neither samples nor starts a trace; the gateway can still be given one (OTEL_* variables).
  if (tracing && !tracing.collectorEndpoint) notes.push({ subject: `gateway ${model.gateway.name}`, feature: 'agw:hasDistributedTracing without agw:collectorEndpoint', detail: `Kong's opentelemetry plugin needs a collector, so none is written: Kong neither samples requests at agw:samplingRate ${tracing.samplingRate} nor starts a traceparent (a client's is passed on as it came); add agw:collectorEndpoint, or an opentelemetry plugin with the collector's traces endpoint` });
  // nginx's proxy_ssl_verify is off by default, and a Kong service without tls_verify inherits
  // it: Kong would take any certificate from an https backend, where the gateway (Node's TLS)
  // refuses one no trusted CA signed, or issued for another name. Every https service verifies.
  for (const s of services.filter((k) => k.protocol === 'https')) {
    notes.push({ subject: `route ${s.name}`, feature: 'agw:protocol "https"', detail: "Kong verifies the certificate of an https backend (tls_verify: true, as the gateway does) against the CA list nginx is given, which is empty by default: set kong.conf's nginx_proxy_proxy_ssl_trusted_certificate (env KONG_NGINX_PROXY_PROXY_SSL_TRUSTED_CERTIFICATE) to a CA bundle, e.g. /etc/ssl/certs/ca-certificates.crt, plus the CA of backends with certificates of your own; without it, Kong's handshakes with these backends fail (502). Kong's health probes (the health check's, and the probe that brings back a target the circuit breaker took out) open their own connections and verify against kong.conf's lua_ssl_trusted_certificate instead (KONG_LUA_SSL_TRUSTED_CERTIFICATE, by default the system's CAs): add the CA of backends with certificates of your own there too, or every probe fails and the targets are taken out or never brought back" });
  }
  const grpcServices = model.services.filter((s) => s.protocol === 'grpc').map((s) => s.name);
  if (grpcServices.length > 0) {
    // Kong passes a request on with grpc_pass when its service's protocol is grpc, whatever the
    // route's protocols; but its default proxy_listen speaks HTTP/1.1 only, which gRPC clients do not.
    notes.push({ subject: `services ${grpcServices.join(', ')}`, feature: 'agw:protocol "grpc"', detail: 'gRPC clients speak HTTP/2: Kong needs a proxy_listen with the http2 flag (e.g. KONG_PROXY_LISTEN="0.0.0.0:8000 http2", HTTP/2 without TLS as gRPC clients use it over plaintext), which its default listener does not have; the routes (protocols http, https) then take the calls, and Kong passes them on over HTTP/2 because the services\' protocol is grpc' });
  }
  for (const s of model.services) {
    if (s.namespace !== 'default' && s.host === s.name && s.instances.length === 0) {
      notes.push({ subject: `service ${s.name} (${s.namespace})`, feature: 'agw:namespace', detail: 'Kong reaches a service at its agw:host, which defaults to the bare serviceName; a Kong inside Kubernetes resolves a bare name in its own namespace, not in the agw:namespace of the service: where Kong runs in the cluster, set agw:host to <serviceName>.<namespace>.svc.cluster.local' });
    }
    if (s.mtls?.certificate) notes.push({ subject: `service ${s.name}`, feature: 'agw:hasCertificate', detail: certificateNote });
    const mode = mtlsModeOf(s, model);
    // An https service that wants mTLS is covered wherever a Kong service reaches it (see splitMembers).
    if (mode !== undefined && mode !== 'DISABLE' && !mtlsCovered.has(s.name) && kongProtocol(s) !== 'https') notes.push({ subject: `service ${s.name}`, feature: 'agw:hasMutualTLS', detail: `Kong presents its client certificate only to services it reaches over https, and reaches this one over http (mode ${mode}); run Kong with a mesh sidecar, or the service must accept Kong's plaintext` });
  }

  const consumers = buildConsumers(model, tags, redisHost, notes);
  const redisUsers = [
    ...model.routes.filter((r) => r.rateLimit?.policy === 'redis').map((r) => `route ${r.name}`),
    ...model.consumers.filter((c) => c.quotaTier).map((c) => `consumer ${c.name}`),
  ];
  // The gateway reads REDIS_URL at start; Kong's plugins carry their Redis in kong.yml, so a
  // user whose Redis is not the one gwgen deploys has to know where to change it.
  for (const subject of redisUsers) {
    notes.push({ subject, feature: 'REDIS_URL', detail: `Kong's rate-limiting plugins count in Redis at ${redisHost}:6379 without a password: the Redis the k8s target deploys beside the gateway. Kong reads no REDIS_URL; for another Redis, set redis.host, redis.port and redis.password (a {vault://env/...} reference) of these plugins in kong.yml, e.g. with a decK patch` });
  }
  return {
    gateway: model.gateway.name,
    services: deckLiteral(services.sort((a, b) => compareStrings(a.name, b.name))),
    upstreams: deckLiteral([...upstreams.values()].sort((a, b) => compareStrings(a.name, b.name))),
    consumers: deckLiteral(consumers),
    plugins: deckLiteral([...globalPlugins(model, tags()), ...tierScopedLimits(keyAuthLimited, model, consumers, notes)]),
    certificates: mtlsCovered.size > 0 ? [{ id: certificateId, cert: vaultRef('GW_MTLS_CERT'), key: vaultRef('GW_MTLS_KEY'), tags: tags('mtls') }] : [],
    notes: groupNotes(notes),
  };
}

/**
 * decK reads all of kong.yml as a Go template, so `${{` in a value from the model (a canary's
 * header value, an issuer) would be an action: `${{ env "DECK_X" }}` would put another secret
 * there. Each is written as an action that prints it, a Go raw string (`${{` contains no
 * backquote); the credentials' own templates are gwgen's and stay.
 */
function deckLiteral<T>(value: T): T {
  // A model rarely has a "${{" anywhere: look before copying (copying the view of 1,000 routes
  // cost ~0.15 s).
  return hasDeckAction(value) ? deckLiteralCopy(value) : value;
}

function hasDeckAction(value: unknown): boolean {
  if (typeof value === 'string') return value !== DECK_RENDER_GUARD && value.includes('${{');
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasDeckAction);
  for (const key in value) if (hasDeckAction((value as Record<string, unknown>)[key])) return true;
  return false;
}

function deckLiteralCopy<T>(value: T): T {
  if (typeof value === 'string') return (value === DECK_RENDER_GUARD ? value : value.replaceAll('${{', '${{`${{`}}')) as T;
  if (Array.isArray(value)) return value.map(deckLiteralCopy) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deckLiteralCopy(v)])) as T;
  return value;
}

/** Kong's longest timeout, in ms (2^31 - 2). */
export const KONG_MAX_TIMEOUT_MS = 2_147_483_646;

/**
 * A header value for a Kong route. Kong reads a value starting with "~*" as a regex; a literal
 * value that starts so is written as the regex that matches exactly it (Kong compares header
 * values case-insensitively either way).
 */
export function kongHeaderValue(value: string): string {
  return value.startsWith('~*') ? `~*^${escapeRegex(value)}$` : value;
}

function timeoutField(route: M.Route, notes: Limitation[]): { timeoutMs?: number } {
  // Kong's timeouts apply to each try; the per-try timeout is the closest thing it has. No try
  // may outlast the whole request, so a per-try timeout longer than agw:timeoutSeconds gives
  // way to it (with per-try 10 s and timeout 5 s, a try that hangs ends after 5 s, not 10).
  const perTry = route.retry?.perTryTimeoutSeconds;
  const seconds = perTry !== undefined && route.timeoutSeconds !== undefined ? Math.min(perTry, route.timeoutSeconds) : (perTry ?? route.timeoutSeconds);
  if (seconds === undefined) return {};
  const ms = Math.max(1, Math.round(seconds * 1000));
  if (ms <= KONG_MAX_TIMEOUT_MS) return { timeoutMs: ms };
  notes.push({ subject: `route ${route.name}`, feature: 'agw:timeoutSeconds (above Kong\'s maximum)', detail: `Kong's timeouts are at most ${KONG_MAX_TIMEOUT_MS} ms (about 24.8 days); the route's timeout is longer, so Kong uses its maximum` });
  return { timeoutMs: KONG_MAX_TIMEOUT_MS };
}

function kongProtocol(service: M.BackendService): string {
  return service.protocol === 'grpc' ? 'grpc' : service.protocol;
}

/**
 * A gwgen route path as a Kong regex path that matches what the gateway matches: Kong anchors a
 * regex path at the start, and `(?:/|$)` ends it at a segment boundary, so `/orders` takes
 * `/orders`, `/orders/` and `/orders/x`, not `/ordersx` (Kong's default router uses Rust's regex
 * crate: no lookaround). `{param}` segments are named captures. "/" is `~/`, every path.
 *
 * strip_path: Kong cuts the whole regex match from the path (kong/router/atc.lua, `matched_path`),
 * which ends after the boundary "/", and puts a "/" before the rest (kong/router/utils.lua
 * get_upstream_uri_v0 with the service's path "/"): `/orders/x` → `/x`, `/orders` → `/`, as the
 * gateway sends.
 */
export function kongPath(path: string): string {
  if (routeSegments(path).length === 0) return '~/';
  const used = new Set<string>();
  const group = (param: string) => {
    const base = kongCaptureName(param);
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base.slice(0, 31 - String(i).length)}_${i}`;
    used.add(name);
    return name;
  };
  return `~${segmentsRegex(path, (param) => `(?<${group(param)}>[^/]+)`, (seg) => kongSegmentRegex(seg) ?? escapeRegex(seg))}(?:/|$)`;
}

/** A path parameter's capture group name: PCRE's letters, digits and "_", at most 32 characters (made unique in a path by kongPath). */
export function kongCaptureName(param: string): string {
  return param.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 32);
}

/** RFC 3986's reserved characters and "%", whose escapes Kong's path normalization keeps (kong/tools/uri.lua RESERVED_CHARS). */
const KONG_RESERVED = new Set("!*'();:@&=+$,/?%#[]");
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A literal segment of a model path as a regex over the path Kong routes by. The model's path
 * is in RFC 3986's normal form (escapes of unreserved characters decoded, the others upper-case),
 * which the gateway and Envoy route by; Kong 3's router matches the request path after
 * kong/tools/uri.lua `normalize` (kong/router/utils.lua strip_uri_args), which decodes the escape
 * of every character but the reserved ones: `/caf%C3%A9` is routed as `/café`, `/a%20b` as
 * `/a b`, while `%2F` and `%3A` stay escaped. So the segment is written decoded the same way,
 * control characters as `\xHH`. undefined when the decoded bytes are not UTF-8 text: Kong's
 * router (atc-router `context_add_value`) refuses such a path, so no Kong route can match it.
 */
export function kongSegmentRegex(segment: string): string | undefined {
  let out = '';
  const bytes: number[] = [];
  let text = true;
  const flush = () => {
    if (bytes.length === 0) return;
    let decoded = '';
    try {
      decoded = UTF8.decode(Uint8Array.from(bytes));
    } catch {
      text = false;
    }
    for (const c of decoded) out += /[\x00-\x1f\x7f]/.test(c) ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : escapeRegex(c);
    bytes.length = 0;
  };
  for (const [token, hex] of segment.matchAll(/%([0-9A-Fa-f]{2})|[^%]+|%/g)) {
    const byte = hex === undefined ? -1 : parseInt(hex, 16);
    if (byte >= 0 && !KONG_RESERVED.has(String.fromCharCode(byte))) {
      bytes.push(byte);
      continue;
    }
    flush();
    out += byte >= 0 ? `%${hex!.toUpperCase()}` : escapeRegex(token);
  }
  flush();
  return text ? out : undefined;
}

/**
 * The methods of every Kong route: Kong ranks a route that lists methods above any route that
 * does not, whatever their paths (kong/router/compat.lua get_priority), so a route without
 * agw:httpMethod lists every method Kong's route schema names (the nine of Kong's cors plugin).
 * A route with methods lists those alone, as the gateway routes them: its CORS preflights go to
 * its own preflight route (see preflightRoute), and a plain OPTIONS to the path's 405.
 */
export const KONG_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

export function kongMethods(route: M.Route): string[] {
  return route.methods.length === 0 ? [...KONG_METHODS] : [...route.methods];
}

/**
 * Whether a route gets a preflight route: it has CORS and methods without OPTIONS. A route
 * without methods, or one that lists OPTIONS, takes OPTIONS itself, and its cors plugin
 * (priority 2000, before auth, ip-restriction and rate-limiting) answers the preflights there.
 */
export function hasPreflightRoute(route: M.Route): boolean {
  return route.cors !== undefined && route.methods.length > 0 && !route.methods.includes('OPTIONS');
}

/** The name of a route's preflight route: "_" is in no service name, so it is no canary's (`<route>.<service>`). */
export const preflightRouteName = (route: M.Route) => `${route.name}.cors_preflight`;

/**
 * regex_priority of every Kong route, by name, and the 405 route of each path whose routes do not
 * take every method (by the name of the route whose Kong service holds it). Kong's default router
 * (traditional_compatible, kong/router/compat.lua get_priority) orders routes by the number of
 * fields they set (methods, hosts, headers, paths, snis), then their header count, then whether a
 * path is a regex, then regex_priority. Every gwgen route sets methods and one regex path, and a
 * header canary one header more, so among routes with as many headers regex_priority alone
 * decides: it is the route's place in the gateway's order (compareRouteSpecificity), most specific
 * highest, a route's canaries in split order. In the gateway the most specific path decides and a
 * method none of its routes takes is a 405: after the routes of each such path comes a route of
 * the same path for the other methods Kong names, answering 405 with the path's methods as Allow,
 * so no less specific route gets them. Ties would fall to Kong's route ids; there are none.
 * `groups`: the model's routes by path, in the gateway's order (pathGroups).
 */
export function kongRouteOrder(groups: readonly (readonly M.Route[])[]): { priorities: Map<string, number>; refusals: Map<string, { name: string; methods: string[]; allow: string }> } {
  const names: string[] = [];
  const refusals = new Map<string, { name: string; methods: string[]; allow: string }>();
  for (const group of groups) {
    // A preflight route has two headers, so it ranks above every route without (and every canary,
    // with one): only the order among preflight routes counts, the gateway's order of their routes.
    for (const route of group) names.push(...(hasPreflightRoute(route) ? [preflightRouteName(route)] : []), ...canaryParts(route).map((part) => `${route.name}.${part}`), route.name);
    const allow = allowHeader(group);
    if (allow === undefined) continue;
    const taken = new Set(group.flatMap(kongMethods));
    const methods = KONG_METHODS.filter((m) => !taken.has(m));
    if (methods.length === 0) continue;
    // "_" is in no service name, so this name is no canary's (`<route>.<service>`).
    const name = `${group[0]!.name}.method_not_allowed`;
    names.push(name);
    refusals.set(group[0]!.name, { name, methods, allow });
  }
  return { priorities: new Map(names.map((n, i) => [n, names.length - i])), refusals };
}

/** The message of the gateway's 405 (MESSAGES.methodNotAllowed in templates/gateway/src/respond.ts.hbs). */
export const METHOD_NOT_ALLOWED = 'method not allowed on this route';

/** The Kong route that answers 405 for the methods a path's routes lack (see kongRouteOrder). */
function refusalRoute(route: M.Route, refusal: { name: string; methods: string[]; allow: string }, priority: number, routeTags: readonly string[]): KongRoute {
  return {
    name: refusal.name,
    paths: [kongPath(route.path)],
    methods: refusal.methods,
    headers: [],
    stripPath: false,
    regexPriority: priority,
    plugins: [
      // The gateway's own answer (templates/gateway/src/respond.ts.hbs): Kong's `message` would be
      // {"message": ...}, a body without the `error` and `status` clients of the gateway read.
      {
        name: 'request-termination',
        config: [
          { key: 'status_code', value: 405 },
          { key: 'body', value: JSON.stringify({ error: METHOD_NOT_ALLOWED, status: 405 }) },
          { key: 'content_type', value: 'application/json; charset=utf-8' },
        ],
        tags: routeTags,
      },
      // Kong runs the header_filter of every plugin of the route on the 405 that request-termination sends.
      { name: 'response-transformer', config: [{ key: 'add', object: [{ key: 'headers', list: [`Allow:${refusal.allow}`, 'Cache-Control:no-store'] }] }], tags: routeTags },
    ],
    tags: routeTags,
  };
}

/**
 * The Kong route of a route's CORS preflights: OPTIONS with an Origin (any value) and an
 * Access-Control-Request-Method naming one of the route's methods. Kong's router compares header
 * values lower-cased on both sides (kong/router/compat.lua get_expression, kong/router/atc.lua),
 * so "get" asks for GET, as the gateway upper-cases the asked method; `~*^` is a regex that any
 * value matches, and the route does not match a request without the header. It ranks above the
 * routes without headers (compat.lua get_priority counts headers before regex_priority), so the
 * preflights of a path that asks a method of this route get this route's policy, where several
 * routes of one path have different policies, as the gateway answers them. It carries only the
 * route's cors plugin, which answers every such request itself (preflight_continue false): the
 * gateway answers a preflight before authentication, IP restriction and rate limits, and so does
 * Kong (cors runs at priority 2000, before them all); no request it takes reaches the backend.
 * A plain OPTIONS (no Origin or no Access-Control-Request-Method) is not matched here and falls to
 * the path's 405 route, as the gateway answers it.
 */
function preflightRoute(route: M.Route, own: KongRoute, priority: number): KongRoute {
  return {
    name: preflightRouteName(route),
    paths: own.paths,
    methods: ['OPTIONS'],
    headers: [
      { name: 'origin', values: ['~*^'] },
      { name: 'access-control-request-method', values: route.methods },
    ],
    stripPath: own.stripPath,
    regexPriority: priority,
    plugins: own.plugins.filter((p) => p.name === 'cors'),
    tags: own.tags,
  };
}

/**
 * The services a route's Kong service reaches with their weights: the backend, or the weighted
 * splits. A Kong service has one protocol, and weights exist only among the targets of one
 * upstream, so splits to services of different protocols (http and https, say) cannot share
 * one: Kong then sends all the route's traffic to the split with the highest weight (the first
 * of equal ones), rather than speak one protocol to a backend of another, and NOTES.md says so.
 */
function splitMembers(route: M.Route, servicesByName: ReadonlyMap<string, M.BackendService>, notes: Limitation[]): { service: M.BackendService; weight: number }[] {
  const weighted = route.splits.filter((s) => s.matchHeader === undefined);
  if (weighted.length === 0) return [{ service: servicesByName.get(route.service ?? '')!, weight: 100 }];
  const members = weighted.map((s) => ({ service: servicesByName.get(s.service)!, weight: s.weight ?? 0 }));
  const protocols = [...new Set(members.map((m) => kongProtocol(m.service)))];
  if (protocols.length === 1) return members;
  const chosen = members.reduce((best, m) => (m.weight > best.weight ? m : best));
  const shares = members.map((m) => `${m.service.name} (${kongProtocol(m.service)}, ${m.weight} %)`).join(', ');
  notes.push({ subject: `route ${route.name}`, feature: 'agw:hasTrafficSplit across protocols', detail: `A Kong service speaks one protocol to its upstream, and Kong OSS weights only the targets of one upstream; the splits ${shares} are reached over different protocols, so Kong sends all of the route's traffic to ${chosen.service.name}, the split with the highest weight` });
  return [{ service: chosen.service, weight: 100 }];
}

/**
 * A header canary is a Kong route with a header, and Kong ranks a route with more fields above
 * every route with fewer (kong/router/compat.lua get_priority), whatever their paths and
 * regex_priority: with the canary's header, a request that the gateway gives to a more specific
 * path (deeper, or literal where this one has a parameter) goes to the canary in Kong.
 */
function noteCanaryOrder(route: M.Route, parts: readonly string[], above: readonly M.Route[], notes: Limitation[]): void {
  // Whatever the methods: in the gateway the more specific path decides, with its routes or a 405.
  for (const part of parts) {
    for (const other of above) {
      notes.push({ subject: `route ${route.name}.${part} (over route ${other.name})`, feature: 'agw:matchHeader under a more specific route', detail: "Kong ranks a route with a header above every route without one, whatever their paths: a request with the canary's header to a path of the more specific route goes to the canary in Kong, where the gateway and Istio give it to the more specific route, or answer 405 for a method it lacks (a canary applies to its own route's requests only)" });
    }
  }
}

/**
 * A preflight route has two headers, and Kong ranks it above every route with fewer, whatever
 * their paths and regex_priority: a preflight to a path of a more specific route that asks for one
 * of this route's methods gets this route's policy in Kong, where the gateway decides at the more
 * specific path (the policy of its route that takes the method, or, without CORS there, the
 * OPTIONS routing: a 405 or the route that takes OPTIONS).
 */
function notePreflightOrder(route: M.Route, above: readonly M.Route[], notes: Limitation[]): void {
  for (const other of above) {
    notes.push({ subject: `route ${preflightRouteName(route)} (over route ${other.name})`, feature: 'agw:hasCorsPolicy under a more specific route', detail: "Kong ranks a route with headers, as a route's CORS preflight route is, above every route without, whatever their paths: a preflight to a path of the more specific route that asks for one of this route's methods gets this route's CORS policy in Kong, where the gateway answers it at the more specific path (with the policy of its route for that method, else as an OPTIONS request there)" });
  }
}

/**
 * A route with CORS that takes OPTIONS keeps its cors plugin on its own Kong route, which answers
 * every preflight that reaches it (preflight_continue false), also one asking a method of another
 * route of the path without CORS. The gateway answers a preflight with the policy of the route
 * that takes the asked method; a route without one does not open itself to other origins, so the
 * request is routed as the OPTIONS it is, to this route's backend.
 */
function noteOptionsBesideNoCors(route: M.Route, group: readonly M.Route[], notes: Limitation[]): void {
  if (!route.cors || !route.methods.includes('OPTIONS')) return;
  for (const other of group) {
    if (other === route || other.cors) continue;
    notes.push({ subject: `route ${route.name} (beside route ${other.name})`, feature: 'agw:hasCorsPolicy beside a route without CORS', detail: "Kong's cors plugin on a route that takes OPTIONS (and on the Kong routes of its header canaries) answers every CORS preflight to its path, also one that asks for a method of the other route of the path, which has no CORS policy: Kong answers it with this route's policy, where the gateway routes it as the OPTIONS request it is, to this route's backend or its canary's (a route without CORS is not opened to other origins by a preflight)" });
  }
}

function buildUpstream(name: string, route: M.Route, members: readonly { service: M.BackendService; weight: number }[], upstreamTags: string[], notes: Limitation[]): KongUpstream {
  const primary = members[0]!.service;
  const targets: { target: string; weight: number; tags: readonly string[] }[] = [];
  const shared = [...new Set(members.flatMap((m) => addressesOf(m.service)))].filter((a) => new Set(members.filter((m) => addressesOf(m.service).includes(a)).map((m) => m.service.name)).size > 1);
  if (shared.length > 0) {
    notes.push({ subject: `route ${route.name}`, feature: 'agw:hasTrafficSplit to one address', detail: `Kong reaches a backend by its address, not by its agw:version: split services on the same address (${shared.join(', ')}) are one target, so their weights do not divide the traffic between them; give each version an address of its own (a Kubernetes Service per version) for Kong to split it` });
  }
  for (const { service, weight } of members) {
    const instances = kongInstances(service);
    const total = instances.reduce((sum, i) => sum + i.weight, 0) || 1;
    if (members.length > 1 && weight > 0 && instances.every((i) => i.weight === 0)) {
      notes.push({ subject: `route ${route.name}`, feature: 'agw:hasTrafficSplit to a drained service', detail: `Every instance of ${service.name} has agw:weight 0: one Kong upstream holds the targets of all the weighted splits, so Kong sends that split's ${weight} % to the other splits, where the gateway and Istio keep it on the split it drew and answer 503 for it` });
    }
    for (const instance of instances) {
      // Split weight × the instance's share of its service, on Kong's 0..65535 scale; a share
      // that rounds to 0 is 1, since weight 0 takes an instance out of Kong's balancing, where
      // the gateway still sends it its share. An IPv6 address is bracketed, as Kong's target
      // syntax (host:port) needs.
      const share = (weight * 100 * instance.weight) / total;
      targets.push({ target: hostPort(instance.host, instance.port), weight: share > 0 ? Math.max(1, Math.round(share)) : 0, tags: upstreamTags });
    }
  }
  const algorithm = { 'round-robin': 'round-robin', 'least-connections': 'least-connections', random: 'round-robin', 'consistent-hash': 'consistent-hashing' }[primary.loadBalancing];
  if (primary.loadBalancing === 'random') notes.push({ subject: `service ${primary.name}`, feature: 'load balancing "random"', detail: 'Kong has no random balancer; round-robin is used' });
  // A split upstream holds the targets of several services, and an upstream has one balancer
  // and one active health check for all its targets.
  const others = members.slice(1).map((m) => m.service);
  if (others.some((s) => s.loadBalancing !== primary.loadBalancing)) {
    notes.push({ subject: `route ${route.name}`, feature: 'agw:loadBalancing in a traffic split', detail: `One Kong upstream holds the targets of all the weighted splits and has one balancer: the split services' targets are balanced with ${primary.name}'s (${algorithm})` });
  }
  const checkOf = (s: M.BackendService) => (s.healthCheck ? JSON.stringify({ ...s.healthCheck, id: undefined }) : undefined);
  const sameChecks = others.every((s) => checkOf(s) === checkOf(primary));
  if (!sameChecks) {
    notes.push({ subject: `route ${route.name}`, feature: 'agw:hasHealthCheck in a traffic split', detail: "One Kong upstream holds the targets of all the weighted splits and probes them all alike; the split services' health checks differ (one would probe the other's targets on a path it may not serve), so the split's upstream has no active health check" });
  }
  // Kong's health checker (lua-resty-healthcheck) probes over HTTP/1.x only and refuses the
  // "grpc" type Kong's schema takes: the whole declarative config then fails to load
  // (Kong/kong#13336). A gRPC backend (h2c) answers no HTTP/1.x probe, so Kong can neither probe
  // it nor bring back a target its passive checks took out: for a gRPC upstream, neither the
  // health check nor the circuit breaker is written (a breaker that never closes again would
  // take the route down for good), and NOTES.md says so.
  const grpc = primary.protocol === 'grpc';
  if (grpc && sameChecks && primary.healthCheck) {
    notes.push({ subject: `service ${primary.name}`, feature: 'agw:hasHealthCheck on a gRPC service', detail: "Kong's health checker probes over HTTP/1.x only (it refuses the grpc probe type Kong's schema takes, and then the whole kong.yml fails to load), which a gRPC backend does not answer: no active health check is written, so Kong keeps sending to an instance the gateway's probes would take out" });
  }
  if (grpc && route.circuitBreaker) {
    notes.push({ subject: `route ${route.name}`, feature: 'agw:hasCircuitBreaker on a gRPC route', detail: "Kong could eject a gRPC target on failures (passive checks) but never bring it back: only an active probe does, and Kong's probes speak HTTP/1.x, which a gRPC backend does not answer; so no circuit breaker is written, and Kong keeps sending to a failing instance" });
  }
  const hc = sameChecks && !grpc ? primary.healthCheck : undefined;
  // Kong balances over the targets of all the splits at once, where the gateway (and Envoy's
  // weighted clusters) draw a split first and keep the request on it.
  if (members.length > 1 && ((route.retry?.attempts ?? 0) > 0 || route.circuitBreaker !== undefined || hc !== undefined)) {
    notes.push({
      subject: `route ${route.name}`,
      feature: 'agw:hasTrafficSplit with retries or ejection',
      detail:
        'One Kong upstream holds the targets of all the weighted splits: a retry goes to another target of that upstream, which may belong to another split, and a target that the circuit breaker (passive health checks) or the health check takes out leaves its share to the other splits. The gateway keeps a request and its retries on the split it drew, as Istio does, and answers 503 for the share of a split with no healthy instance or an open breaker',
    });
  }
  const type = primary.protocol === 'https' ? 'https' : 'http';
  const breaker = grpc ? undefined : route.circuitBreaker;
  return {
    name,
    algorithm,
    ...(algorithm === 'consistent-hashing' ? hashKey(route, primary, notes) : {}),
    targets: mergeTargets(targets),
    ...(hc
      ? {
          active: {
            type,
            path: hc.path,
            healthyInterval: probeInterval(primary, notes),
            unhealthyInterval: probeInterval(primary, []),
            successes: counter(hc.successThreshold, `service ${primary.name}`, 'agw:successThreshold', notes),
            failures: counter(hc.failureThreshold, `service ${primary.name}`, 'agw:failureThresholdHealth', notes),
            // The gateway gives a probe the interval, at most 5 s, to answer (Kong's default is 1 s),
            // and takes 2xx/3xx as healthy, every other answer as unhealthy.
            timeout: Math.min(probeInterval(primary, []), 5),
            healthyStatuses: [...STATUS_2XX, ...STATUS_3XX],
            unhealthyStatuses: [...STATUS_4XX, ...STATUS_5XX],
          },
        }
      : breaker
        ? { active: breakerProbe(route, breaker, type, notes) }
        : {}),
    ...(breaker ? { passive: { type, failures: counter(breaker.failureThreshold, `route ${route.name}`, 'agw:failureThreshold', notes), ...BREAKER_STATUSES } } : {}),
    tags: upstreamTags,
  };
}

/**
 * The active probe of a circuit breaker's upstream. Passive checks never bring a target back
 * (Kong's healthchecks docs): without an active probe, failureThreshold failures would eject it
 * until Kong restarts, a breaker that never closes. A probe of the ejected targets every
 * agw:timeoutSeconds brings them back, the closest Kong has to the half-open timer: a GET / that
 * any answer but a 5xx passes, as a trial request closes the gateway's breaker. It is an HTTP
 * probe, not a TCP connect: Kong runs "tcp" probes only in its stream subsystem and turns them
 * off for http upstreams (kong/runloop/balancer/healthcheckers.lua create_healthchecker). Healthy
 * targets are not probed (interval 0) and the probe never ejects one (failure counts 0).
 */
function breakerProbe(route: M.Route, breaker: M.CircuitBreaker, type: string, notes: Limitation[]): NonNullable<KongUpstream['active']> {
  const interval = breakerInterval(route, breaker, notes);
  return { type, path: '/', healthyInterval: 0, unhealthyInterval: interval, successes: 1, failures: 0, timeout: Math.min(interval, 5), ...BREAKER_STATUSES };
}

function hashesParams(route: M.Route, service: M.BackendService): boolean {
  return service.loadBalancing === 'consistent-hash' && routeSegments(route.path).some(isParamSegment);
}

/**
 * What a consistent-hash upstream hashes, as the gateway does: the route's path parameters, else
 * the client's address. Kong hashes one named capture of the matched route's path (hash_on
 * uri_capture, kong/runloop/balancer get_value_to_hash), so the upstream of a {param} route is its
 * own. With several parameters no one capture is the key (the first alone, a zoom level of
 * /tiles/{z}/{x}/{y}, would put every request that shares it on one instance): Kong hashes the
 * whole path, which is the parameters plus the route's literals, except for a longer path under
 * the route (listed).
 */
function hashKey(route: M.Route, service: M.BackendService, notes: Limitation[]): Pick<KongUpstream, 'hashOn' | 'hashOnUriCapture'> {
  notes.push({ subject: `service ${service.name}`, feature: 'agw:loadBalancing "consistent-hash" and GW_HASH_HEADER', detail: "The gateway hashes on the header GW_HASH_HEADER names when it is set; Kong reads no such variable: to hash on that header in Kong too, set hash_on: header and hash_on_header on the service's upstreams in kong.yml (e.g. with a decK patch)" });
  const params = routeSegments(route.path).filter(isParamSegment);
  if (!hashesParams(route, service)) return { hashOn: 'ip' };
  if (params.length === 1) return { hashOn: 'uri_capture', hashOnUriCapture: kongCaptureName(params[0]!.slice(1, -1)) };
  notes.push({ subject: `route ${route.name}`, feature: 'agw:loadBalancing "consistent-hash" on a route with several parameters', detail: 'The gateway hashes a request by its path parameters; Kong hashes one capture or the whole path, and hashes the path here: requests with the same parameters reach one instance, except those to a longer path under the route (a request for /a/1/b/2/x may reach another instance than one for /a/1/b/2)' });
  return { hashOn: 'path' };
}

/**
 * The registered HTTP statuses (RFC 9110 and the IANA registry) by class. Kong's health checks
 * count only the statuses they list and ignore every other answer, so the lists carry every
 * status a backend may send: an unlisted one (a probe's 204, a proxied 404) would neither count
 * as a success nor as a failure, where the gateway counts every answer.
 */
const STATUS_2XX = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226];
const STATUS_3XX = [300, 301, 302, 303, 304, 305, 306, 307, 308];
const STATUS_4XX = [400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451];
const STATUS_5XX = [500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511];

/**
 * The passive check of a circuit breaker: the gateway's breaker opens after failureThreshold
 * consecutive failed tries (a 5xx answer, a connection failure, a timeout), and any other answer
 * starts the count again. Kong resets a target's failure counters on a success only when it
 * counts successes (kong/resty/healthcheck.lua incr_counter: healthy.successes 0 turns them off),
 * so with Kong's default of 0 the failures would add up over any number of successes and eject
 * the target after failureThreshold failures in all. One success counts, and every non-5xx
 * answer is one.
 */
const BREAKER_STATUSES = { healthyStatuses: [...STATUS_2XX, ...STATUS_3XX, ...STATUS_4XX], unhealthyStatuses: STATUS_5XX };

/**
 * The largest health-check counter Kong runs with: its upstream schema takes up to 255, but the
 * health checker it builds from it (lua-resty-healthcheck `new`) asserts that each counter is
 * below 255: with 255, building the upstream's health checker fails with an assertion error.
 */
export const KONG_MAX_HEALTH_COUNTER = 254;

function counter(value: number, subject: string, feature: string, notes: Limitation[]): number {
  if (value <= KONG_MAX_HEALTH_COUNTER) return value;
  notes.push({ subject, feature, detail: `Kong's health checker counts up to ${KONG_MAX_HEALTH_COUNTER}; ${value} is written as ${KONG_MAX_HEALTH_COUNTER}` });
  return KONG_MAX_HEALTH_COUNTER;
}

/** Kong probes every 1 to 65535 whole seconds: agw:healthCheckInterval rounded into that range. */
function probeInterval(service: M.BackendService, notes: Limitation[]): number {
  const seconds = service.healthCheck!.intervalSeconds;
  const interval = Math.min(65535, Math.max(1, Math.round(seconds)));
  if (interval !== seconds) notes.push({ subject: `service ${service.name}`, feature: 'agw:healthCheckInterval', detail: `Kong probes every 1 to 65535 whole seconds; the interval of ${seconds} s is written as ${interval} s` });
  return interval;
}

/** Kong probes every 1 to 65535 whole seconds: the breaker's agw:timeoutSeconds rounded into that range. */
function breakerInterval(route: M.Route, breaker: M.CircuitBreaker, notes: Limitation[]): number {
  const interval = Math.min(65535, Math.max(1, Math.round(breaker.timeoutSeconds)));
  if (interval !== breaker.timeoutSeconds) notes.push({ subject: `route ${route.name}`, feature: 'agw:timeoutSeconds of agw:CircuitBreaker', detail: `Kong probes ejected targets every 1 to 65535 whole seconds; the breaker's timeout of ${breaker.timeoutSeconds} s is written as ${interval} s` });
  return interval;
}

/** The host:port addresses Kong sends a service's traffic to. */
function addressesOf(service: M.BackendService): string[] {
  return kongInstances(service).map((i) => hostPort(i.host, i.port));
}

/**
 * What Kong balances a service over: its agw:instances, else its one address, agw:host, except
 * that a service the k8s target deploys under its bare name (agw:host defaults to
 * agw:serviceName) is reached by its Service's name, which is prefixed when the name starts with
 * a digit ("9lives" → svc-9lives), as the gateway and Istio reach it.
 */
function kongInstances(service: M.BackendService): readonly Pick<M.ServiceInstance, 'host' | 'port' | 'weight'>[] {
  if (service.instances.length > 0) return service.instances;
  const host = service.image !== undefined && service.host === service.name ? serviceResourceName(service.host) : service.host;
  return [{ host, port: service.port, weight: 100 }];
}

/** Two splits to services on the same address add their weights. */
function mergeTargets(targets: { target: string; weight: number; tags: readonly string[] }[]) {
  const byTarget = new Map<string, { target: string; weight: number; tags: readonly string[] }>();
  for (const t of targets) {
    const seen = byTarget.get(t.target);
    byTarget.set(t.target, seen ? { ...seen, weight: seen.weight + t.weight } : t);
  }
  return [...byTarget.values()].sort((a, b) => compareStrings(a.target, b.target));
}

/**
 * The response headers Kong's plugins add to the route's answers, which a page reads only when
 * the cors plugin exposes them (the gateway exposes its own likewise): rate-limiting's
 * RateLimit-* and X-RateLimit-*-<Window> headers and the Retry-After of its 429, for the route's
 * own limit and, on a key-auth route, the quota tiers' windows; and the WWW-Authenticate
 * challenge of key-auth and jwt.
 */
function exposedHeaders(route: M.Route, tierWindows: readonly string[]): string[] {
  const windows = new Set([...(route.rateLimit ? RATE_WINDOWS.filter((w) => route.rateLimit!.limits[w] !== undefined) : []), ...(route.auth?.kind === 'apiKey' ? tierWindows : [])]);
  const ordered = [...RATE_WINDOWS, 'month'].filter((w) => windows.has(w)).map((w) => w[0]!.toUpperCase() + w.slice(1));
  return [
    ...(ordered.length > 0 ? ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'] : []),
    ...ordered.flatMap((w) => [`X-RateLimit-Limit-${w}`, `X-RateLimit-Remaining-${w}`]),
    ...(route.auth ? ['WWW-Authenticate'] : []),
  ];
}

function routePlugins(route: M.Route, pluginTags: string[], redisHost: string, tierWindows: readonly string[], notes: Limitation[]): KongPlugin[] {
  const plugins: KongPlugin[] = [];
  const auth = route.auth;
  if (route.cors) {
    const c = route.cors;
    const exposed = exposedHeaders(route, tierWindows);
    if (c.maxAgeSeconds !== undefined && c.maxAgeSeconds > MAX_AGE_SECONDS) notes.push({ subject: `route ${route.name}`, feature: 'agw:maxAgeSeconds (above the longest max-age)', detail: `Caches read an Access-Control-Max-Age of at most ${MAX_AGE_SECONDS} s (RFC 9111 §1.2.2); the route's is longer, so Kong sends that` });
    plugins.push({
      name: 'cors',
      config: [
        { key: 'origins', list: kongOrigins(c.origins) },
        { key: 'methods', list: c.methods.length > 0 ? c.methods : [...new Set([...(route.methods.length ? route.methods : HTTP_METHODS), 'OPTIONS'])] },
        ...(c.headers.length ? [{ key: 'headers', list: c.headers }] : []),
        ...(exposed.length ? [{ key: 'exposed_headers', list: exposed }] : []),
        { key: 'credentials', value: c.credentials },
        ...(c.maxAgeSeconds !== undefined ? [{ key: 'max_age', value: Math.min(MAX_AGE_SECONDS, c.maxAgeSeconds) }] : []),
        { key: 'preflight_continue', value: false },
      ],
      tags: pluginTags,
    });
  }
  // Kong's jwt and key-auth skip every OPTIONS request when run_on_preflight is false, not only
  // preflights: a plain OPTIONS would reach the backend unauthenticated, where the gateway
  // authenticates it. A preflight never gets to them: the cors plugin (priority 2000, above
  // jwt's 1450 and key-auth's 1250) answers every OPTIONS with Origin and
  // Access-Control-Request-Method itself (preflight_continue false).
  if (auth?.kind === 'jwt') {
    plugins.push({
      name: 'jwt',
      config: [
        { key: 'header_names', list: ['authorization'] },
        { key: 'uri_param_names', list: [] },
        { key: 'key_claim_name', value: 'iss' },
        // Kong fails a token that lacks a claim listed here ("nbf must be a number"), and nbf is
        // optional (RFC 7519 §4.1.5; the gateway checks it only when present): listing it would
        // refuse every token without one. exp is required by the gateway too.
        { key: 'claims_to_verify', list: ['exp'] },
        { key: 'run_on_preflight', value: true },
      ],
      tags: pluginTags,
    });
    // Only the route's issuer: the jwt plugin takes a token of any issuer that has a credential
    // (see issuerConsumer). The acl plugin (priority 950) runs after jwt (1450).
    plugins.push({
      name: 'acl',
      config: [
        { key: 'allow', list: [issuerConsumer(auth.issuer)] },
        { key: 'hide_groups_header', value: true },
      ],
      tags: pluginTags,
    });
  }
  if (auth?.kind === 'apiKey') {
    plugins.push({
      name: 'key-auth',
      config: [
        { key: 'key_names', list: [auth.keyHeader] },
        { key: 'key_in_header', value: true },
        { key: 'key_in_query', value: false },
        { key: 'key_in_body', value: false },
        { key: 'hide_credentials', value: true },
        { key: 'run_on_preflight', value: true },
      ],
      tags: pluginTags,
    });
  }
  if (route.ipRestriction) {
    plugins.push({
      name: 'ip-restriction',
      config: [
        ...(route.ipRestriction.allow.length ? [{ key: 'allow', list: route.ipRestriction.allow }] : []),
        ...(route.ipRestriction.deny.length ? [{ key: 'deny', list: route.ipRestriction.deny }] : []),
        { key: 'status', value: 403 },
        { key: 'message', value: 'IP address not allowed' },
      ],
      tags: pluginTags,
    });
  }
  if (route.rateLimit) plugins.push(rateLimitPlugin(route, route.rateLimit, pluginTags, redisHost, notes));
  return plugins.sort((a, b) => compareStrings(a.name, b.name));
}

/**
 * agw:allowOrigin values as Kong's cors plugin reads them (kong/plugins/cors/handler.lua): an
 * origin of other characters than [A-Za-z0-9.:/-] counts as a regex there, so
 * `https://my_app.example.com` would let "." match any character; such an origin is written
 * escaped, a regex that matches exactly it. "*" allows every origin whatever the others are,
 * and is written alone: Kong versions before the plugin checked for "*" in a list compile it as a
 * regex, which fails, and then allow none of the origins it stands for.
 */
export function kongOrigins(origins: readonly string[]): string[] {
  if (origins.includes('*')) return ['*'];
  return origins.map((o) => (/^[A-Za-z0-9.:/-]+$/.test(o) ? o : escapeRegex(o)));
}

const LIMIT_BY: Record<M.RateLimiter['limitBy'], string> = { ip: 'ip', consumer: 'consumer', global: 'service' };

/**
 * The rate-limiting windows (second … day, and month for a quota) with their limits. Kong refuses
 * a longer window with a lower limit than a shorter one ("the limit for hour cannot be lower than
 * the limit for minute"). Such a shorter-window limit can never be reached: Kong's windows are
 * calendar-aligned, so each lies inside one window of every longer length, which admits fewer
 * requests. It is written as the lowest limit of the longer windows, which admits the same
 * requests, and NOTES.md says so.
 */
const WINDOW_PROPERTY: Record<string, string> = { second: 'agw:requestsPerSecond', minute: 'agw:requestsPerMinute', hour: 'agw:requestsPerHour', day: 'agw:requestsPerDay', month: 'agw:monthlyQuota' };

function windowEntries(limits: M.RateLimits, subject: string, notes: Limitation[], month?: number): ConfigEntry[] {
  const windows: [string, number][] = RATE_WINDOWS.filter((w) => limits[w] !== undefined).map((w) => [w, limits[w]!]);
  if (month !== undefined) windows.push(['month', month]);
  let lowest = Infinity;
  const entries: ConfigEntry[] = [];
  for (const [w, limit] of [...windows].reverse()) {
    const value = Math.min(limit, lowest);
    if (value < limit) {
      notes.push({ subject, feature: WINDOW_PROPERTY[w]!, detail: `Kong refuses a shorter window with a higher limit than a longer one; ${limit} per ${w} can never be reached under the longer window's limit, so it is written as ${value}` });
    }
    lowest = value;
    entries.unshift({ key: w, value });
  }
  return entries;
}

/**
 * Whom a route's rate-limiting counts. On a JWT route Kong's consumer is the one consumer of the
 * token's issuer (see buildConsumers), so `limit_by: consumer` would give every client of the
 * issuer one shared budget: one client could use it up for all. The gateway counts per
 * client (the token's consumer or `sub`); the closest Kong OSS has is one budget per token
 * (the Authorization header, verified by the jwt plugin, which runs first). NOTES.md says so.
 */
function limitBy(route: M.Route, limiter: M.RateLimiter, notes: Limitation[]): ConfigEntry[] {
  if (limiter.limitBy === 'consumer' && route.auth?.kind === 'jwt') {
    notes.push({ subject: `route ${route.name}`, feature: 'agw:limitBy "consumer" on a JWT route', detail: "Kong identifies a JWT by its issuer's one consumer, so per-consumer counting would give all clients of the issuer one budget; Kong counts per token instead (limit_by header Authorization): a client with several valid tokens at once has a budget per token, where the gateway counts per client (the token's consumer or sub)" });
    return [
      { key: 'limit_by', value: 'header' },
      { key: 'header_name', value: 'Authorization' },
    ];
  }
  return [{ key: 'limit_by', value: LIMIT_BY[limiter.limitBy] }];
}

function rateLimitPlugin(route: M.Route, limiter: M.RateLimiter, pluginTags: readonly string[], redisHost: string, notes: Limitation[]): KongPlugin {
  return {
    name: 'rate-limiting',
    config: [
      ...windowEntries(limiter.limits, `route ${route.name}`, notes),
      ...limitBy(route, limiter, notes),
      { key: 'policy', value: limiter.policy },
      ...(limiter.policy === 'redis' ? [{ key: 'redis', object: redisConfig(redisHost) }] : []),
      { key: 'fault_tolerant', value: true },
      { key: 'hide_client_headers', value: false },
    ],
    tags: pluginTags,
  };
}

/** The Redis the k8s target deploys beside the gateway (its Service in the gateway's namespace, see ownWorkloadNames). */
function redisConfig(host: string): ConfigEntry[] {
  return [
    { key: 'host', value: host },
    { key: 'port', value: 6379 },
    { key: 'timeout', value: 2000 },
  ];
}

const DECK_SECRETS_FEATURE = 'agw:apiKeyEnv and agw:secretEnv (consumer secrets from decK)';
const DECK_SECRETS_DETAIL =
  "Kong reads {vault://...} references only in the fields its schema marks referenceable, and consumer credentials are not among them: the key-auth keys and JWT secrets in kong.yml are decK env templates. Load kong.yml with `deck gateway sync`, or render it with `deck file render kong.yml -o kong.rendered.yml` and start Kong on that, with each DECK_ variable listed here set to the value of the variable the gateway reads (in brackets). Kong refuses kong.yml as generated (a credential's tag holds the template's comment), so the template's text never becomes a key or secret";

/** An issuer as a tag value and name part: its host and path, lower-case, in letters, digits and "-". */
function issuerSlug(issuer: string): string {
  return issuer.replace(/^[a-z]+:\/\//i, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40).replace(/-$/, '');
}

/**
 * The consumer that holds an issuer's jwt credential, whose name is also the acl group its
 * routes allow. Kong's jwt plugin finds the credential by the token's `iss` among every
 * consumer's (kong/plugins/jwt/handler.lua, jwt_secrets:select_by_key), not among the route's
 * issuer's: without the acl check, a route would take a valid token of any issuer in kong.yml.
 */
export function issuerConsumer(issuer: string): string {
  return `jwt-${issuerSlug(issuer)}-${createHash('sha256').update(issuer).digest('hex').slice(0, 6)}`;
}

function buildConsumers(model: M.GatewayModel, tags: (...extra: string[]) => string[], redisHost: string, notes: Limitation[]): KongConsumer[] {
  const consumers: KongConsumer[] = [];
  const usesApiKeys = model.routes.some((r) => r.auth?.kind === 'apiKey');
  // A key-auth key is unique in Kong. Consumers that share agw:apiKeyEnv hold one key: it
  // identifies the first of them by name, as in the gwgen gateway.
  const keyHolder = new Map<string, string>();
  for (const c of model.consumers) if (c.apiKeyEnv && !keyHolder.has(c.apiKeyEnv)) keyHolder.set(c.apiKeyEnv, c.name);
  for (const c of model.consumers) {
    const consumerTags = tags(`consumer:${c.name}`);
    const plugins: KongPlugin[] = [];
    if (c.quotaTier) {
      const limits = { ...c.quotaTier.limits };
      plugins.push({
        name: 'rate-limiting',
        config: [
          ...windowEntries(limits, `consumer ${c.name}`, notes, c.quotaTier.monthlyQuota),
          { key: 'limit_by', value: 'consumer' },
          // Counted in the Redis the k8s target deploys for quota tiers, as the gateway counts
          // them: locally, every Kong node would grant the whole quota, and a restart would reset
          // a month's count.
          { key: 'policy', value: 'redis' },
          { key: 'redis', object: redisConfig(redisHost) },
          { key: 'fault_tolerant', value: true },
          { key: 'hide_client_headers', value: false },
        ],
        tags: tags(`consumer:${c.name}`, `tier:${tagValue(c.quotaTier.name)}`),
      });
    }
    // Kong holds a key once: the first consumer by name that names the variable holds it.
    const keyEnv = c.apiKeyEnv && usesApiKeys ? c.apiKeyEnv : undefined;
    const holder = keyEnv !== undefined ? keyHolder.get(keyEnv) : undefined;
    // The gateway names the consumer of a request upstream in X-Consumer-Name, which Kong does
    // not set (it sends X-Consumer-Username): a plugin scoped to the consumer, which beats the
    // global one that drops a client's own, sets it wherever the consumer's key is accepted.
    if (keyEnv !== undefined && holder === c.name) plugins.push(consumerNamePlugin(c.name, consumerTags));
    consumers.push({
      username: c.name,
      keyauth: keyEnv !== undefined && holder === c.name ? [{ env: deckEnvName(keyEnv), tags: [...consumerTags, DECK_RENDER_GUARD] }] : [],
      jwt: [],
      acls: [],
      plugins,
      tags: consumerTags,
    });
    if (keyEnv !== undefined && holder === c.name) notes.push({ subject: `consumer ${c.name}: ${deckEnvName(keyEnv)} (${keyEnv})`, feature: DECK_SECRETS_FEATURE, detail: DECK_SECRETS_DETAIL });
    if (keyEnv !== undefined && holder !== c.name) {
      notes.push({ subject: `consumer ${c.name}`, feature: 'agw:apiKeyEnv (shared)', detail: `The consumer shares ${keyEnv} with consumer ${holder}; Kong holds a key once, so that key identifies ${holder}` });
    }
    if (c.apiKeyEnv && !usesApiKeys) notes.push({ subject: `consumer ${c.name}`, feature: 'agw:apiKeyEnv', detail: 'no route uses agw:ApiKey, so no key-auth credential is written' });
  }
  // Kong's jwt plugin finds the credential by the token's `iss`, and a credential key is unique:
  // one consumer per issuer holds one credential: HS256 with the secret of the first route of
  // the issuer that has one, as Kong cannot verify RS256/ES256 without a stored PEM key.
  const byIssuer = new Map<string, M.JwtAuthentication[]>();
  for (const r of model.routes) if (r.auth?.kind === 'jwt') byIssuer.set(r.auth.issuer, [...(byIssuer.get(r.auth.issuer) ?? []), r.auth]);
  for (const [issuer, auths] of [...byIssuer].sort((a, b) => compareStrings(a[0], b[0]))) {
    const slug = issuerSlug(issuer);
    const username = issuerConsumer(issuer);
    const credTags = tags(`issuer:${slug}`);
    const others = [...new Set(auths.flatMap((a) => a.algorithms.filter((x) => x !== 'HS256')))].sort(compareStrings);
    const hs256 = auths.filter((a) => a.algorithms.includes('HS256') && a.secretEnv);
    const chosen = hs256[0];
    if (!chosen) {
      // Kong OSS verifies RS256/ES256 only against a PEM key stored in a credential (checked
      // when the config loads), and cannot fetch a JWKS: such tokens are refused until one is added.
      notes.push({ subject: `issuer ${issuer}`, feature: 'agw:jwksUri', detail: `Kong OSS cannot fetch a JWKS; until a consumer with a jwt_secrets entry { key: the issuer, algorithm: ${others.join(' or ')}, rsa_public_key: the issuer's PEM key } and the acl group ${username} (acls: [{ group: ${username} }], which the issuer's routes allow) is added (e.g. with decK), Kong refuses these tokens` });
      continue;
    }
    const credential: KongConsumer['jwt'][number] = { key: issuer, algorithm: 'HS256', secretEnv: deckEnvName(chosen.secretEnv!), tags: [...credTags, DECK_RENDER_GUARD] };
    for (const other of others) {
      notes.push({ subject: `issuer ${issuer}`, feature: `agw:algorithm ${other}`, detail: 'Kong holds one credential per issuer; only HS256 tokens are accepted' });
    }
    const secrets = [...new Set(hs256.map((a) => a.secretEnv!))];
    if (secrets.length > 1) {
      notes.push({ subject: `issuer ${issuer}`, feature: 'agw:secretEnv', detail: `Routes of this issuer name different HS256 secrets (${secrets.join(', ')}); Kong holds one credential per issuer and verifies with ${chosen.secretEnv}` });
    }
    notes.push({ subject: `issuer ${issuer}: ${deckEnvName(chosen.secretEnv!)} (${chosen.secretEnv})`, feature: DECK_SECRETS_FEATURE, detail: DECK_SECRETS_DETAIL });
    consumers.push({ username, keyauth: [], jwt: [credential], acls: [username], plugins: [], tags: credTags });
  }
  return consumers.sort((a, b) => compareStrings(a.username, b.username));
}


/**
 * Kong runs one plugin of a name per request, the most specific: a consumer's rate-limiting (its
 * quota tier) beats a route's. A consumer with a tier would thus escape the own rate limit of a
 * key-auth route. Where its tier is laxer than the route's limit, a plugin scoped to that route
 * and consumer beats both and keeps the route's limit there (the tier is then not counted on that
 * route). Where the tier is at least as strict in every window of the route's limit (and the limit
 * is not one global budget), the tier alone keeps the consumer within it, and nothing is added:
 * routes × consumers plugins only where they change what Kong admits. NOTES.md says both.
 */
function tierScopedLimits(routes: readonly { kong: KongRoute; limiter: M.RateLimiter }[], model: M.GatewayModel, consumers: readonly KongConsumer[], notes: Limitation[]): KongPlugin[] {
  const keyed = new Set(consumers.filter((c) => c.keyauth.length > 0).map((c) => c.username));
  const tiered = model.consumers.filter((c) => c.quotaTier !== undefined && keyed.has(c.name));
  if (tiered.length === 0) return [];
  const plugins: KongPlugin[] = [];
  for (const { kong, limiter } of routes) {
    const limit = kong.plugins.find((p) => p.name === 'rate-limiting')!;
    const laxer = limiter.limitBy === 'global' ? tiered : tiered.filter((c) => !tierWithin(c.quotaTier!, limiter.limits));
    for (const c of laxer) plugins.push({ ...limit, config: stricterOfBoth(limit.config, limiter, c.quotaTier!), route: kong.name, consumer: c.name, tags: [...limit.tags, `consumer:${c.name}`] });
    notes.push({ subject: `route ${kong.name}`, feature: 'agw:hasQuotaTier on a rate-limited route', detail: `Kong applies one rate-limiting plugin per request, and a consumer's (its quota tier) would replace the route's: for each consumer whose tier admits more than the route's limit in some window, a plugin scoped to the route and the consumer holds it there, in each window, to the stricter of the two${limiter.limitBy === 'global' ? '' : " (the route's count, so the tier's requests there are counted apart from its other routes)"}; a consumer whose tier is at least as strict in every window is limited by its tier alone there${limiter.limitBy === 'ip' ? ", and its requests are not counted in the route's per-IP budget" : ''}` });
  }
  return plugins.sort((a, b) => compareStrings(a.route!, b.route!) || compareStrings(a.consumer!, b.consumer!));
}

/**
 * The config of a route + consumer plugin: the route's, with each window the lower of the route's
 * and the tier's limit, and the tier's month, so a tier stricter in one window and laxer in
 * another (10 a minute against the route's 100 a minute and 200 a day) keeps both. A global
 * budget is the route's alone: per consumer it would be another budget.
 */
function stricterOfBoth(config: readonly ConfigEntry[], limiter: M.RateLimiter, tier: M.QuotaTier): ConfigEntry[] {
  if (limiter.limitBy === 'global') return [...config];
  const limits: Partial<Record<M.RateWindow, number>> = {};
  for (const w of RATE_WINDOWS) {
    const given = [limiter.limits[w], tier.limits[w]].filter((n): n is number => n !== undefined);
    // A window a shorter one already holds lower (the tier's 20,000 a minute under 30 a second) is left out.
    const implied = Math.min(...RATE_WINDOWS.filter((v) => WINDOW_SECONDS[v] < WINDOW_SECONDS[w] && limits[v] !== undefined).map((v) => limits[v]! * (WINDOW_SECONDS[w] / WINDOW_SECONDS[v])));
    if (given.length > 0 && Math.min(...given) < implied) limits[w] = Math.min(...given);
  }
  const windows = new Set<string>([...RATE_WINDOWS, 'month']);
  // A shorter window's limit above a longer one's cannot be reached, whichever policy it came
  // from: written as the longer one's without a note, which would name limits the user did not write.
  return [...windowEntries(limits, '', [], tier.monthlyQuota), ...config.filter((e) => !windows.has(e.key))];
}

/**
 * Whether a tier never admits more than `limits` in any window of theirs. Kong's windows are
 * calendar-aligned, so a minute holds exactly 60 seconds: 5 a second admits at most 300 a minute.
 */
function tierWithin(tier: M.QuotaTier, limits: M.RateLimits): boolean {
  return RATE_WINDOWS.every((w) => {
    const cap = limits[w];
    if (cap === undefined) return true;
    let implied = Infinity;
    for (const v of RATE_WINDOWS) {
      const t = tier.limits[v];
      if (t !== undefined && WINDOW_SECONDS[v] <= WINDOW_SECONDS[w]) implied = Math.min(implied, t * (WINDOW_SECONDS[w] / WINDOW_SECONDS[v]));
    }
    return implied <= cap;
  });
}

/** The header the gateway names a request's consumer in; it drops a client's own (templates/gateway/src/proxy.ts.hbs). */
export const CONSUMER_NAME_HEADER = 'X-Consumer-Name';

function consumerNamePlugin(consumer: string, pluginTags: readonly string[]): KongPlugin {
  return {
    name: 'request-transformer',
    config: [
      { key: 'remove', object: [{ key: 'headers', list: [CONSUMER_NAME_HEADER] }] },
      { key: 'add', object: [{ key: 'headers', list: [`${CONSUMER_NAME_HEADER}:${consumer}`] }] },
    ],
    tags: pluginTags,
  };
}

function globalPlugins(model: M.GatewayModel, pluginTags: string[]): KongPlugin[] {
  const plugins: KongPlugin[] = [
    // A client's own X-Consumer-Name never reaches a backend, which may take it for the gateway's
    // word on who called (consumerNamePlugin sets it for a consumer Kong identified by its key).
    { name: 'request-transformer', config: [{ key: 'remove', object: [{ key: 'headers', list: [CONSUMER_NAME_HEADER] }] }], tags: pluginTags },
    {
      name: 'prometheus',
      config: [
        { key: 'status_code_metrics', value: true },
        { key: 'latency_metrics', value: true },
        { key: 'bandwidth_metrics', value: true },
        { key: 'upstream_health_metrics', value: true },
      ],
      tags: pluginTags,
    },
  ];
  const tracing = model.gateway.tracing;
  if (tracing?.collectorEndpoint) {
    plugins.push({
      name: 'opentelemetry',
      config: [
        { key: 'traces_endpoint', value: otlpTracesUrl(tracing.collectorEndpoint) },
        { key: 'sampling_rate', value: tracing.samplingRate },
        { key: 'header_type', value: 'w3c' },
      ],
      tags: pluginTags,
    });
  }
  return plugins;
}

function noteRouteLimits(route: M.Route, grpcBackend: boolean, hasConsumers: boolean, underMethods: boolean, notes: Limitation[]): void {
  const subject = `route ${route.name}`;
  const add = (feature: string, detail: string) => notes.push({ subject, feature, detail });
  if (route.rateLimit && route.rateLimit.burstSize !== (route.rateLimit.limits.second ?? route.rateLimit.burstSize)) add('agw:burstSize', 'Kong rate-limiting counts fixed windows; it has no token-bucket burst');
  if (route.retry) {
    add('agw:retryOn / backoff', 'Kong retries connection failures and timeouts up to agw:retryAttempts times, without backoff; it does not retry on HTTP 5xx answers');
  }
  // nginx's proxy_read_timeout/proxy_send_timeout bound one read or write, not the exchange.
  if (route.timeoutSeconds !== undefined) add('agw:timeoutSeconds (whole request)', "Kong's read and write timeouts bound the wait for each read from or write to the backend, not the whole exchange: a backend that answers a little at a time, each part within the timeout, is never cut off, where the gateway ends the request at agw:timeoutSeconds (504 before the answer has begun)");
  if (route.timeoutSeconds !== undefined && route.retry?.perTryTimeoutSeconds !== undefined) add('agw:timeoutSeconds', "Kong has per-try timeouts only; each try is bounded by the shorter of the per-try and the whole-request timeout, and the whole request, retries included, may take up to agw:retryAttempts + 1 times that");
  if (route.circuitBreaker && !grpcBackend) add('agw:hasCircuitBreaker', "Passive health checks eject a target after agw:failureThreshold consecutive failures (Kong counts them per target, not per route, and counts 5xx answers, connection failures and timeouts each on their own: a run of mixed failures, such as a refused connection and then two 503s with a threshold of 3, does not eject it); active probes bring it back: the service's health check where its upstream has one, else a GET / every agw:timeoutSeconds, which any answer but a 5xx passes. There is no half-open state: a target that answers the probe takes full traffic again at once, so agw:halfOpenRequests is not expressible");
  if (route.mirror) add('agw:hasTrafficMirror', 'Kong OSS has no traffic mirroring; the mirror is not configured');
  // Kong's nginx forwards Upgrade/Connection on every http route; no route setting turns it off.
  // nginx's proxy_read_timeout/proxy_send_timeout keep running on an upgraded connection.
  const ownTimeout = route.timeoutSeconds !== undefined || route.retry?.perTryTimeoutSeconds !== undefined;
  if (route.websocket)
    add(`agw:websocket and Kong timeouts${ownTimeout ? '' : ' (60 s by default)'}`, `Kong's read and write timeouts (${ownTimeout ? "the route's" : 'its defaults of 60 s'}) also bound an open WebSocket: a tunnel that carries nothing from one side for that long is closed (clients must send pings more often), where the gateway bounds only the handshake by agw:timeoutSeconds and keeps a tunnel open as long as both ends do`);
  if (!route.websocket) add('agw:websocket (absent or false)', 'Kong proxies WebSocket upgrades on every route, so a client can open a WebSocket to this route through Kong, where the gateway refuses the upgrade with 400');
  // ip-restriction reads ngx.var.binary_remote_addr, and limit_by ip the same address: nginx's
  // real-IP module sets it from the header of a trusted proxy only (kong.conf trusted_ips).
  if (route.ipRestriction || route.rateLimit?.limitBy === 'ip')
    add('client address behind a load balancer', "Kong's ip-restriction and per-IP rate limits use the address of the connection's peer; behind a load balancer or proxy that is the balancer's, unless kong.conf sets trusted_ips to the balancer's addresses and real_ip_header to X-Forwarded-For (or proxy_protocol). Without that, every client shares the balancer's budget, and an allow list that contains the balancer's address admits everyone");
  if (route.auth?.kind === 'jwt') {
    if (route.auth.audiences.length) add('agw:audience', 'Kong OSS jwt does not check the aud claim');
    if (route.auth.requiredScopes.length) add('agw:requiredScope', 'Kong OSS jwt does not check scopes');
    if (hasConsumers) add('JWT and agw:Consumer', `Kong identifies a JWT by its issuer's one consumer, not by its client_id, azp or sub: for a token that names an agw:consumerName, Kong applies none of that consumer's quota tier and sends no ${CONSUMER_NAME_HEADER} upstream, where the gateway does both`);
    add('JWT nbf', "Kong's jwt plugin can check nbf only as a required claim, which would refuse every token without one (nbf is optional); it is not checked, so Kong accepts a token whose nbf lies in the future, where the gateway refuses it");
  }
  if (route.costMultiplier !== 1) add('agw:costMultiplier', 'Kong rate limits count requests; a per-route cost is not expressible');
  // The gateway answers such a preflight with the policy of the path's first route with CORS, or
  // of a less specific path's; Kong's router cannot match "any method but these" in a header value
  // (its regexes have no lookaround), so nothing sends it to that policy.
  if (route.cors && (route.methods.length > 0 || underMethods))
    add('agw:hasCorsPolicy (preflight for a method the path lacks)', "The gateway answers a CORS preflight whose Access-Control-Request-Method none of the path's routes takes with the policy of the path's first route with CORS (or of a less specific path's, such as this route's for a more specific path without CORS): 403, unless that policy's agw:allowMethod names the method. Kong's router cannot match every method but the path's, so Kong gives such a preflight to the path's 405 route (405, with Allow), to a route of the path that takes OPTIONS (its backend gets it), or to the preflight route of a less specific path that takes the method");
  if (route.methods.length === 0)
    add('agw:httpMethod (none)', `Kong ranks a route that lists methods above every route that does not, whatever their paths, so this route lists the methods Kong names (${KONG_METHODS.join(', ')}) to keep the gateway's order; Kong answers other methods (such as WebDAV's PROPFIND) with 404, where the gateway passes them to the route`);
  if (route.timeoutSeconds === undefined && route.retry?.perTryTimeoutSeconds === undefined)
    add('agw:timeoutSeconds (none)', "The route has no timeout, but Kong's services always have one: its defaults of 60 s to connect, to read and to write apply");
}

export interface NoteGroup {
  readonly feature: string;
  readonly detail: string;
  readonly subjects: readonly string[];
}

/** One entry per distinct limitation, listing everything it applies to. */
export function groupNotes(notes: readonly Limitation[]): NoteGroup[] {
  const groups = new Map<string, { feature: string; detail: string; subjects: Set<string> }>();
  for (const n of notes) {
    const key = `${n.feature}\u0000${n.detail}`;
    const group = groups.get(key) ?? { feature: n.feature, detail: n.detail, subjects: new Set<string>() };
    group.subjects.add(n.subject);
    groups.set(key, group);
  }
  return [...groups.values()]
    .map((g) => ({ feature: g.feature, detail: g.detail, subjects: [...g.subjects].sort(compareStrings) }))
    .sort((a, b) => compareStrings(a.feature, b.feature) || compareStrings(a.detail, b.detail));
}

