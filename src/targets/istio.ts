import { isIP } from 'node:net';
import type * as M from '../model/types.js';
import { HTTP_METHODS, RATE_WINDOWS, WINDOW_SECONDS } from '../model/types.js';
import { groupNotes, type NoteGroup } from './kong.js';
import {
  acceptsMtls,
  allowHeader,
  atMost,
  beyondGoDuration,
  canaryParts,
  clusterHost,
  authorityOf,
  compareSpecificity,
  compareStrings,
  dnsLabelOf,
  dnsName,
  goDuration,
  hasParams,
  inCluster,
  ISTIO_PROXY_PORTS,
  isParamSegment,
  labelValue,
  literalPrefix,
  methodsOverlap,
  mtlsModeOf,
  otlpTracesUrl,
  pathGroups,
  pathPrefixRegex,
  pathRegex,
  pathsMeet,
  prefixesMeet,
  routeSegments,
  routeServices,
  standardLabels,
  type Label,
} from './mesh-common.js';
import { instanceEntry, instancesAuthority, instancesHost, instancesOutside, instancesServiceEntry, instancesSni, servicePort, type ServiceEntry } from './istio-instances.js';
import type { Limitation, PlannedFile, Target } from './types.js';

/** Envoy's token bucket and outlier-detection counts are uint32s. */
const UINT32_MAX = 4_294_967_295;
/** Envoy's shortest token-bucket fill interval (its local rate limit refuses less). */
const MIN_FILL_SECONDS = 0.05;

/**
 * Istio: the Istio ingress gateway is the edge. One Gateway and one VirtualService carry every
 * route (Istio does not order routes across several VirtualServices bound to one gateway, and a
 * more specific route must be tried first); a DestinationRule per backend service carries
 * subsets, load balancing, the connect timeout (connectionPool), the circuit breaker (outlier
 * detection) and mesh TLS; security.istio.io policies carry mTLS, JWT and IP restrictions; an EnvoyFilter carries the local rate limits and a
 * Telemetry resource the sampling rate. What Istio cannot express is listed in istio/NOTES.md.
 *
 * Namespaces: the gateway's own resources live in the Istio root namespace, where the ingress
 * gateway runs (the ServiceMesh's agw:namespace when the model has an Istio mesh, else
 * istio-system); selector-based policies only reach workloads of their own namespace (or every
 * namespace, from the root namespace). DestinationRules and per-service PeerAuthentications live
 * in the service's agw:namespace.
 */
export const istioTarget: Target = {
  name: 'istio',
  description: 'Istio resources (Gateway, VirtualService, DestinationRule, security, EnvoyFilter, Telemetry): istio/*.yaml',
  // Without -t, only a model whose service mesh is Istio gets Istio output; `-t istio` always does.
  applies: (model) => model.gateway.mesh?.type === 'istio',
  partials: { dir: 'istio', names: ['_istioMeta.hbs', '_istioMatch.hbs', '_istioRule.hbs'] },
  view: (model) => istioView(model),
  plan(model): PlannedFile[] {
    const view = istioView(model);
    const files: PlannedFile[] = [
      { path: 'istio/gateway.yaml', template: 'istio/gateway.yaml.hbs', context: view },
      { path: 'istio/virtualservice.yaml', template: 'istio/virtualservice.yaml.hbs', context: view },
    ];
    if (view.destinationRules.length > 0) files.push({ path: 'istio/destinationrules.yaml', template: 'istio/destinationrules.yaml.hbs', context: view });
    if (view.serviceEntries.length > 0) files.push({ path: 'istio/serviceentries.yaml', template: 'istio/serviceentries.yaml.hbs', context: view });
    if (view.peerAuthentications.length > 0 || view.requestAuthentication || view.authorizationPolicies.length > 0) {
      files.push({ path: 'istio/security.yaml', template: 'istio/security.yaml.hbs', context: view });
    }
    if (view.rateLimits.length > 0) files.push({ path: 'istio/ratelimits.yaml', template: 'istio/ratelimits.yaml.hbs', context: view });
    if (view.telemetry) files.push({ path: 'istio/telemetry.yaml', template: 'istio/telemetry.yaml.hbs', context: view });
    files.push({ path: 'istio/NOTES.md', template: 'istio/NOTES.md.hbs', context: view });
    return files;
  },
};

// --- the view the templates render ---------------------------------------------------------

export interface Meta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: readonly Label[];
}

interface StringMatch {
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: string;
}

interface HttpMatch {
  readonly uri: StringMatch;
  readonly method?: StringMatch;
  readonly headers: readonly { name: string; match: StringMatch }[];
  /** Headers that must not match (Istio reads a missing one as empty). */
  readonly withoutHeaders?: readonly { name: string; match: StringMatch }[];
}

interface Destination {
  readonly host: string;
  readonly subset?: string;
  readonly port: number;
  readonly weight?: number;
}

interface HttpEntry {
  /** `<gateway>.<route>`, or `<gateway>.<route>.<canary part>` for a header-matched canary (see canaryParts). */
  readonly name: string;
  readonly route: string;
  readonly matches: readonly HttpMatch[];
  readonly rewrite?: { match?: string; rewrite?: string; authority?: string };
  readonly destinations: readonly Destination[];
  readonly timeout?: string;
  readonly retries: { attempts: number; perTryTimeout?: string; retryOn?: string; backoff?: string };
  readonly mirror?: { destination: Destination; percent: number };
  /** Request headers the backend must not see (an API-key route's key). */
  readonly removeHeaders?: readonly string[];
  /** A 405 for the methods a path's routes lack (no destinations then), with the Allow header. */
  readonly directResponse?: { status: number; allow: string };
  readonly cors?: {
    origins: readonly StringMatch[];
    methods: readonly string[];
    headers: readonly string[];
    credentials: boolean;
    maxAge?: string;
    expose: readonly string[];
  };
}

interface DestinationRule {
  readonly meta: Meta;
  readonly host: string;
  /** Set on a rule that originates TLS: the namespace of the ingress gateway alone (see `destinationRule`). */
  readonly exportTo?: readonly string[];
  readonly loadBalancer: { simple?: string; consistentHash?: boolean };
  /** Only what the model determines: the TCP connect timeout (see `connectTimeout`). */
  readonly connectionPool?: { connectTimeout: string };
  readonly outlierDetection?: { consecutive5xxErrors: number; interval: string; baseEjectionTime: string; maxEjectionPercent: number };
  readonly tlsMode?: string;
  readonly sni?: string;
  /** Version subsets; `policy` where a subset's service balances or encrypts differently from the host-wide policy. */
  readonly subsets: readonly { name: string; labels: readonly Label[]; policy?: TrafficPolicy }[];
  /** Services without a subset of their own on another port of the host, where they balance or encrypt otherwise (https on 443 beside http on 80). */
  readonly portLevelSettings: readonly { port: number; policy: TrafficPolicy; sni?: string }[];
}

interface PeerAuthentication {
  readonly meta: Meta;
  readonly selector?: readonly Label[];
  readonly mode: string;
}

interface JwtRule {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri?: string;
  readonly spaceDelimitedClaims: readonly string[];
}

/**
 * The request paths of an Istio `operation`: a path matched by one of `paths` and by none of
 * `notPaths` (see authzOperations).
 */
export interface AuthzOperation {
  readonly paths: readonly string[];
  readonly notPaths: readonly string[];
}

/** One DENY rule: it denies a request to the route's paths (any of its operations) and methods when its source and conditions hold. */
export interface AuthzRule {
  readonly source?: { key: string; values: readonly string[] };
  readonly operations: readonly AuthzOperation[];
  readonly methods: readonly string[];
  /** Methods the rule leaves alone (OPTIONS, whose preflights preflightExempt handles). */
  readonly notMethods?: readonly string[];
  readonly when: readonly { key: string; notValues: readonly string[] }[];
}

interface AuthorizationPolicy {
  readonly meta: Meta;
  readonly route: string;
  readonly rules: readonly AuthzRule[];
}

interface RateLimit {
  readonly route: string;
  /** Envoy route names (the VirtualService http entries) the limit is attached to. */
  readonly httpNames: readonly string[];
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillInterval: string;
  /** Seconds until the bucket's next fill: the Retry-After of a 429, as the gateway sends one. */
  readonly retryAfter: string;
}

export interface IstioView {
  readonly gateway: string;
  readonly namespace: string;
  readonly selector: readonly Label[];
  readonly listenPort: number;
  readonly gatewayMeta: Meta;
  readonly virtualServiceMeta: Meta;
  readonly gatewayRef: string;
  readonly http: readonly HttpEntry[];
  readonly destinationRules: readonly DestinationRule[];
  readonly serviceEntries: readonly ServiceEntry[];
  /** Whether a service's explicit instances have a ServiceEntry (and their DestinationRule) in the mesh namespace. */
  readonly instanceEntries: boolean;
  readonly peerAuthentications: readonly PeerAuthentication[];
  readonly requestAuthentication?: { meta: Meta; rules: readonly JwtRule[] };
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  readonly envoyFilterMeta: Meta;
  readonly rateLimits: readonly RateLimit[];
  readonly telemetry?: { meta: Meta; percentage: number };
  /** Whether an AuthorizationPolicy uses a path template (`{*}`, `{**}`), which needs Istio 1.22 or later. */
  readonly pathTemplates: boolean;
  /** The oldest Istio whose CRDs have every field written, and the fields that need more than 1.22. */
  readonly minimumIstio: { version: string; newer: readonly { field: string; kind: string; since: string }[] };
  readonly notes: readonly NoteGroup[];
}

/**
 * Fields newer than networking.istio.io/v1 (Istio 1.22): an Istio whose CRDs lack one refuses the
 * whole resource under kubectl's strict field validation (the default since Kubernetes 1.27).
 * corsPolicy.unmatchedPreflights came with istio/api#3171 (merged after the 1.22 branch),
 * retries.backoff with istio/api#3461, spaceDelimitedClaims with istio/istio#57781.
 */
const NEWER_FIELDS = {
  unmatchedPreflights: { field: 'corsPolicy.unmatchedPreflights', kind: 'VirtualService', since: '1.23' },
  backoff: { field: 'retries.backoff', kind: 'VirtualService', since: '1.26' },
  spaceDelimitedClaims: { field: 'spaceDelimitedClaims', kind: 'RequestAuthentication', since: '1.28' },
} as const;

function minimumIstio(http: readonly HttpEntry[], jwt: readonly JwtRule[]): IstioView['minimumIstio'] {
  const newer = [
    ...(http.some((e) => e.cors !== undefined) ? [NEWER_FIELDS.unmatchedPreflights] : []),
    ...(http.some((e) => e.retries.backoff !== undefined) ? [NEWER_FIELDS.backoff] : []),
    ...(jwt.some((r) => r.spaceDelimitedClaims.length > 0) ? [NEWER_FIELDS.spaceDelimitedClaims] : []),
  ];
  const minor = Math.max(22, ...newer.map((f) => Number(f.since.split('.')[1])));
  return { version: `1.${minor}`, newer };
}

const CERT_NOTE = "Istio's CA issues and rotates workload certificates itself; set their lifetime with istiod's DEFAULT_WORKLOAD_CERT_TTL and the proxies' SECRET_TTL, not with a resource";

/** The label the default Istio ingress gateway deployment carries. */
const INGRESS_SELECTOR: readonly Label[] = [{ key: 'istio', value: 'ingressgateway' }];

const LOAD_BALANCER: Record<M.BackendService['loadBalancing'], string | undefined> = {
  'round-robin': 'ROUND_ROBIN',
  'least-connections': 'LEAST_REQUEST',
  random: 'RANDOM',
  'consistent-hash': undefined,
};

/** The namespace of the gateway's Istio resources (see the module comment). */
export function istioNamespace(model: M.GatewayModel): string {
  return model.gateway.mesh?.type === 'istio' ? model.gateway.mesh.namespace : 'istio-system';
}

/** The VirtualService http entry names of a route: its header canaries, then the route itself. */
export function httpEntryName(gateway: string, route: string, canaryPart?: string): string {
  return canaryPart === undefined ? `${gateway}.${route}` : `${gateway}.${route}.${canaryPart}`;
}

export function istioView(model: M.GatewayModel): IstioView {
  const gw = model.gateway.name;
  const ns = istioNamespace(model);
  const notes: Limitation[] = [];
  const services = new Map(model.services.map((s) => [s.name, s]));
  const meta = (name: string, namespace: string, component: string): Meta => ({ name, namespace, labels: standardLabels(gw, component) });

  if (model.gateway.mesh && model.gateway.mesh.type !== 'istio') {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:meshType', detail: `The model's service mesh is ${model.gateway.mesh.type}, not Istio; this Istio output was requested explicitly (-t istio) and assumes an Istio mesh with its root namespace istio-system` });
  }

  const destination = (serviceName: string, weight?: number): Destination => {
    const s = services.get(serviceName)!;
    return {
      host: meshHost(s, gw),
      ...(s.version !== undefined && !outsideCluster(s) && !instanceEntry(s) ? { subset: dnsLabelOf(s.version) } : {}),
      port: s.port,
      ...(weight !== undefined ? { weight } : {}),
    };
  };

  const http: HttpEntry[] = [];
  const rateLimits: RateLimit[] = [];
  // The gateway's order, path by path: a path's routes (each after its header canaries), then,
  // where they do not take every method, an entry that answers the other methods 405 with the
  // path's methods as Allow, as the gateway does (the most specific path decides: no less
  // specific route may take them).
  const refusal = (group: readonly M.Route[]): HttpEntry[] => {
    const allow = allowHeader(group);
    if (allow === undefined) return [];
    const route = group[0]!;
    return [{ route: route.name, name: `${httpEntryName(gw, route.name)}.method_not_allowed`, matches: [{ uri: { regex: pathRegex(route.path) }, headers: [] }], destinations: [], retries: { attempts: 0 }, directResponse: { status: 405, allow } }];
  };
  for (const group of pathGroups(model.routes)) {
    for (const route of group) {
      const common = commonEntry(route, notes);
      const names: string[] = [];
      const parts = canaryParts(route);
      for (const [i, canary] of route.splits.filter((s) => s.matchHeader !== undefined).entries()) {
        const name = httpEntryName(gw, route.name, parts[i]);
        names.push(name);
        http.push({ ...common, name, matches: matches(route, [{ name: canary.matchHeader!.name.toLowerCase(), match: { exact: canary.matchHeader!.value } }]), destinations: [destination(canary.service)] });
      }
      const weighted = route.splits.filter((s) => s.matchHeader === undefined);
      const byService = new Map<string, number>();
      for (const s of weighted.filter((x) => (x.weight ?? 0) > 0)) byService.set(s.service, (byService.get(s.service) ?? 0) + (s.weight ?? 0));
      const destinations = weighted.length > 0 ? [...byService].sort((a, b) => compareStrings(a[0], b[0])).map(([svc, w]) => destination(svc, w)) : [destination(route.service!)];
      const name = httpEntryName(gw, route.name);
      names.push(name);
      http.push({ ...common, name, matches: matches(route, []), destinations });
      if (route.rateLimit) rateLimits.push(rateLimit(route, route.rateLimit, names, notes));
      for (const svc of routeServices(route)) {
        const s = services.get(svc)!;
        // The gateway keys a request of a {param} route by its parameters (the cart, not the
        // client); Istio's hash policy is the host's (the DestinationRule), not the route's, and
        // no consistentHash source reads a path segment.
        if (s.loadBalancing === 'consistent-hash' && routeSegments(route.path).some(isParamSegment)) {
          notes.push({ subject: `route ${route.name}`, feature: 'agw:loadBalancing "consistent-hash" on a {param} route', detail: "The gateway hashes a request of such a route by its path parameters, so all requests for one order, cart or tenant reach one instance, whoever sends them; Istio hashes by the client's address (consistentHash.useSourceIp of the service's DestinationRule, which serves every route to it), so requests for one value from different clients reach different pods. Where clients also send the value in a header, set consistentHash.httpHeaderName to it (as GW_HASH_HEADER does in the gateway)" });
        }
        if (s.instances.length > 0 && s.image !== undefined) notes.push({ subject: `service ${svc}`, feature: 'agw:hasInstance of a service gwgen deploys', detail: `gwgen deploys the service (agw:image), so Istio sends its traffic to its Kubernetes Service ${meshHost(s, gw)}, balanced across its pods, as the k8s target points the gateway; the explicit instances and their agw:weight are not used` });
        if (s.protocol === 'https' && meshMtls(s, model)) {
          notes.push({ subject: `service ${svc}`, feature: 'agw:protocol "https" with mTLS', detail: 'Istio originates either mesh mTLS or TLS to the application, not both; the DestinationRule uses ISTIO_MUTUAL, so the application port must accept the sidecar\'s plaintext (or be declared as TLS passthrough)' });
        }
      }
      noteRoute(route, notes);
    }
    http.push(...refusal(group));
  }

  const routesByService = new Map<string, M.Route[]>();
  for (const r of model.routes) {
    for (const svc of routeServices(r)) {
      const list = routesByService.get(svc);
      if (list) list.push(r);
      else routesByService.set(svc, [r]);
    }
  }
  // One DestinationRule per host: Istio does not merge two rules for one host, so services that
  // share a host (releases of one Kubernetes Service, told apart by agw:version) share one.
  const byHost = new Map<string, M.BackendService[]>();
  for (const s of model.services) {
    const host = meshHost(s, gw);
    byHost.set(host, [...(byHost.get(host) ?? []), s]);
  }
  const destinationRules = [...byHost.values()].map((group) => {
    const routes = model.routes.filter((r) => group.some((s) => routesByService.get(s.name)?.includes(r)));
    return destinationRule(model, group, routes, ns, meta, notes);
  });
  const serviceEntries = [...byHost].flatMap(([host, group]) => (instanceEntry(group[0]!) ? [instancesServiceEntry(group[0]!, gw, ns, notes)] : serviceEntry(host, group, meta, notes)));

  const peerAuthentications: PeerAuthentication[] = [];
  if (model.gateway.mesh?.mtls) peerAuthentications.push({ meta: meta('default', ns, gw), mode: model.gateway.mesh.mtls.mode });
  // The mesh-wide policy is `default` in the root namespace, Istio's convention. A service named
  // "default" there takes another name for its own policy: with the same name, kubectl would
  // replace the mesh-wide policy with the service's, and the mesh lose its mode.
  const ownPolicies = new Set(model.services.filter((s) => s.mtls).map((s) => `${s.namespace}/${s.name}`));
  const policyName = (s: M.BackendService): string => {
    if (!model.gateway.mesh?.mtls || s.name !== 'default' || s.namespace !== ns) return s.name;
    let name = 'default-mtls';
    for (let i = 2; ownPolicies.has(`${ns}/${name}`); i++) name = `default-mtls-${i}`;
    return name;
  };
  for (const s of model.services) {
    // Envoy in Istio checks no endpoint actively; only a Deployment's probe (the k8s target's, for a
    // service with agw:image) does. Without one, the model's check would be lost without a word.
    if (s.healthCheck && s.image === undefined) {
      notes.push({ subject: `service ${s.name}`, feature: 'agw:hasHealthCheck', detail: `Istio has no active health checks and gwgen deploys no pod of this service (no agw:image) to probe: the check of ${s.healthCheck.path} is not made; Istio takes an endpoint out only after failed requests (outlierDetection, from a route's circuit breaker)` });
    }
    if (outsideCluster(s)) {
      // No sidecar of the mesh runs there: a PeerAuthentication would select nothing of the
      // service's (or another workload that happens to carry its app label).
      if (acceptsMtls(s, model)) notes.push({ subject: `service ${s.name}`, ...outsideMtlsNote(s.protocol === 'https') });
      continue;
    }
    // Istio reads a Kubernetes Service port's protocol from its name or appProtocol; gwgen writes
    // that port (grpc) only for a service it deploys, and a ServiceEntry of its own says GRPC.
    if (s.protocol === 'grpc' && s.image === undefined && !instanceEntry(s)) {
      notes.push({ subject: `service ${s.name}`, feature: 'agw:protocol "grpc" of a service gwgen does not deploy', detail: `gRPC needs HTTP/2, and Istio (the ingress gateway, and the sidecars of the gwgen gateway and of the service's pods) speaks HTTP/2 to a Kubernetes Service port only when the port says so; gwgen does not write the Service (no agw:image). Name port ${s.port} of ${registryHost(s)} grpc (or grpc-…), or give it appProtocol grpc: a port named http (or http-…) is HTTP/1.1, on which every gRPC call fails` });
    }
    if (s.mtls) {
      const selector = peerSelector(s);
      peerAuthentications.push({ meta: meta(policyName(s), s.namespace, s.name), selector, mode: s.mtls.mode });
      if (s.image === undefined) {
        notes.push({ subject: `service ${s.name}`, feature: 'agw:mtlsMode of a service gwgen does not deploy', detail: `gwgen does not deploy the service (no agw:image), so its PeerAuthentication (mode ${s.mtls.mode}) selects its pods by Istio's app and version labels: ${selector.map((l) => `${l.key}=${l.value}`).join(', ')}. Pods labelled otherwise keep the namespace's or the mesh's mode` });
      }
    }
    if (s.mtls?.certificate) notes.push({ subject: `service ${s.name}`, feature: 'agw:hasCertificate', detail: CERT_NOTE });
  }
  if (model.gateway.mesh?.mtls?.certificate) notes.push({ subject: `mesh ${model.gateway.mesh.type}`, feature: 'agw:hasCertificate', detail: CERT_NOTE });
  // Istio's ingress gateway enables WebSocket upgrades for every HTTP route (VirtualService's
  // websocketUpgrade is gone); no route field turns them off.
  const noUpgrade = model.routes.filter((r) => !r.websocket);
  for (const r of noUpgrade) notes.push({ subject: `route ${r.name}`, feature: 'agw:websocket (absent or false)', detail: 'Istio proxies WebSocket upgrades on every route, so a client can open a WebSocket to this route through the ingress gateway, where the gateway refuses the upgrade with 400' });
  // Envoy's route timeout runs on for an upgraded stream (envoyproxy/envoy#20062); the gateway's
  // bounds only the handshake.
  for (const r of model.routes.filter((r) => r.websocket && r.timeoutSeconds !== undefined))
    notes.push({ subject: `route ${r.name}`, feature: 'agw:timeoutSeconds on a WebSocket route', detail: "Envoy's route timeout also applies to an upgraded connection: a WebSocket tunnel is closed agw:timeoutSeconds after it opened, whatever crosses it, where the gateway bounds only the handshake (504 when the backend does not switch protocols in time) and keeps a tunnel open as long as both ends do" });
  notes.push(...consumerNotes(model));
  notes.push(...longDurationNotes(model));

  const jwtRoutes = model.routes.filter((r) => r.auth?.kind === 'jwt');
  const requestAuthentication = jwtRoutes.length > 0 ? { meta: meta(dnsName(gw, 'jwt'), ns, gw), rules: jwtRules(jwtRoutes, notes) } : undefined;
  if (requestAuthentication) {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:JWTAuthentication on public routes', detail: 'Istio rejects a request that carries an invalid or unknown-issuer bearer token with 401 on every route of the ingress gateway, including routes without authentication' });
  }

  const authorizationPolicies: AuthorizationPolicy[] = [];
  const neighbours = prefixIndex(model.routes);
  for (const route of model.routes) {
    if (!route.auth && !route.ipRestriction) continue;
    const rules = authzRules(route, authzOperations(route, neighbours(literalPrefix(route.path)), notes));
    if (rules.length === 0) continue;
    authorizationPolicies.push({ meta: meta(dnsName(gw, route.name), ns, route.name), route: route.name, rules });
    if (route.auth?.kind === 'jwt') {
      for (const value of inexpressibleClaims(route.auth)) {
        notes.push({ subject: `route ${route.name}`, feature: 'agw:audience / agw:requiredScope with "*"', detail: `Istio reads a leading or trailing "*" in an AuthorizationPolicy value as a wildcard (prefix, suffix, or any value) and has no way to match the "*" itself, so "${value}" cannot be required exactly: the route's AuthorizationPolicy denies every request to it instead of admitting tokens the model does not (rename the ${route.auth.requiredScopes.includes(value) ? 'scope' : 'audience'} to open it)` });
      }
    }
  }

  const tracing = model.gateway.tracing;
  if (tracing?.collectorEndpoint) {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:collectorEndpoint', detail: `Istio sends spans to the tracing provider of its MeshConfig; add an opentelemetry extensionProvider that sends OTLP/HTTP to ${otlpTracesUrl(tracing.collectorEndpoint)} (its host and port as service and port, its path as http.path) to meshConfig.extensionProviders and make it the default tracing provider` });
  }
  // The ingress gateway's Service, not the Gateway, decides which ports clients reach.
  const port = model.gateway.listenPort;
  if (ISTIO_PROXY_PORTS.includes(port)) {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:listenPort', detail: `Port ${port} is one Istio's Envoy listens on itself in the ingress gateway's pods (15021 health, 15090 metrics, 15000 admin, …): a Gateway server there clashes with it; choose another agw:listenPort (80, or 8080)` });
  } else if (port !== 80) {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:listenPort', detail: `The Gateway's server is on port ${port}, as the model says. Clients reach the ingress gateway through its Service, whose ports gwgen does not write: Istio's default istio-ingressgateway Service exposes 80 and 443 (its pods listening on 8080 and 8443). Check that a port of that Service leads to ${port}${port === 443 ? ' (the default 443 is meant for TLS, which this Gateway does not terminate: the model has no edge certificate)' : ''}, or set agw:listenPort 80 for its HTTP port` });
  }
  if (ns !== 'istio-system') {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:namespace of the service mesh', detail: `The gateway's Istio resources and the mesh-wide PeerAuthentication are written to namespace ${ns}, taken as Istio's root namespace and the ingress gateway's namespace; set meshConfig.rootNamespace to it and run the ingress gateway there` });
  }

  return {
    gateway: gw,
    namespace: ns,
    selector: INGRESS_SELECTOR,
    listenPort: model.gateway.listenPort,
    gatewayMeta: meta(gw, ns, gw),
    virtualServiceMeta: meta(gw, ns, gw),
    gatewayRef: `${ns}/${gw}`,
    http: withAuthorities(http, model, notes),
    destinationRules,
    serviceEntries,
    instanceEntries: model.services.some(instanceEntry),
    peerAuthentications,
    ...(requestAuthentication ? { requestAuthentication } : {}),
    authorizationPolicies,
    envoyFilterMeta: meta(dnsName(gw, 'local-ratelimit'), ns, gw),
    rateLimits,
    ...(tracing ? { telemetry: { meta: meta(dnsName(gw, 'tracing'), ns, gw), percentage: Math.round(tracing.samplingRate * 100 * 1e6) / 1e6 } } : {}),
    minimumIstio: minimumIstio(http, requestAuthentication?.rules ?? []),
    pathTemplates: authorizationPolicies.some((p) => p.rules.some((r) => r.operations.some((o) => ![...o.paths, ...o.notPaths].every(anyCharacter)))),
    notes: groupNotes(notes),
  };

  function commonEntry(route: M.Route, notes: Limitation[]): Omit<HttpEntry, 'name' | 'matches' | 'destinations'> {
    const timeout = routeTimeout(route);
    return {
      route: route.name,
      // The gateway sends the rest of the path after the route's segments, "/" when none is left.
      ...(route.stripPath ? { rewrite: { match: routeSegments(route.path).length > 0 ? `${pathPrefixRegex(route.path)}/?` : '^/', rewrite: '/' } } : {}),
      ...(timeout !== undefined ? { timeout: goDuration(timeout) } : {}),
      retries: retries(route, notes),
      ...(route.mirror ? { mirror: { destination: destination(route.mirror.service), percent: route.mirror.percent } } : {}),
      ...(route.cors ? { cors: cors(route, route.cors) } : {}),
      ...(route.auth?.kind === 'apiKey' ? { removeHeaders: keyHeaders(route.auth.keyHeader) } : {}),
    };
  }
}

/**
 * The match entries of a route: its path, its methods (one exact method, or a regex of several)
 * and the canary's header. A route with CORS and methods of its own also takes the preflights
 * that ask for one of its methods (OPTIONS with a non-empty Origin and an
 * Access-Control-Request-Method among them), so that Envoy's CORS filter answers them with this
 * route's policy: the gateway answers a preflight with the policy of the route that serves the
 * method it asks for, and a plain OPTIONS only where a route takes OPTIONS (else 405). A route
 * that takes OPTIONS itself takes the OPTIONS requests that are no preflight for Envoy (Origin or
 * the requested method absent or empty); one without methods takes every request of its path.
 */
function matches(route: M.Route, headers: HttpMatch['headers']): HttpMatch[] {
  // A regex, as a URI prefix would be a string prefix (/orders would take /ordersx).
  const uri: StringMatch = { regex: pathRegex(route.path) };
  if (route.methods.length === 0) return [{ uri, headers }];
  if (!route.cors) return [{ uri, method: methodMatch(route.methods), headers }];
  const others = route.methods.filter((m) => m !== 'OPTIONS');
  const nonEmpty: StringMatch = { regex: '.+' };
  const preflight: HttpMatch = {
    uri,
    method: { exact: 'OPTIONS' },
    headers: [...headers, { name: 'origin', match: nonEmpty }, { name: 'access-control-request-method', match: methodMatch(route.methods) }],
  };
  const plainOptions: HttpMatch[] = route.methods.includes('OPTIONS')
    ? ['origin', 'access-control-request-method'].map((name) => ({ uri, method: { exact: 'OPTIONS' }, headers, withoutHeaders: [{ name, match: nonEmpty }] }))
    : [];
  return [...(others.length > 0 ? [{ uri, method: methodMatch(others), headers }] : []), ...plainOptions, preflight];
}

function methodMatch(methods: readonly string[]): StringMatch {
  return methods.length === 1 ? { exact: methods[0]! } : { regex: methods.join('|') };
}

function retries(route: M.Route, notes: Limitation[]): HttpEntry['retries'] {
  const r = route.retry;
  // Istio retries twice by default: a route without a retry policy must say 0.
  if (!r || r.attempts === 0) {
    if (r?.perTryTimeoutSeconds !== undefined && singleTryTimeout(route) === undefined) notes.push(singleTryNote(route));
    return { attempts: 0 };
  }
  if (r.backoffMultiplier !== 2) notes.push({ subject: `route ${route.name}`, feature: 'agw:backoffMultiplier', detail: 'Envoy backs off exponentially from agw:initialDelayMs with a fixed factor of 2 and full jitter (capped at 10 × the base)' });
  const retryOn = writtenRetryOn(route);
  // Without a retryOn condition left, Istio writes attempts 0, and with it no per-try timeout.
  if (r.perTryTimeoutSeconds !== undefined && retryOn.length === 0) {
    if (singleTryTimeout(route) === undefined) notes.push(singleTryNote(route));
  } else if (r.perTryTimeoutSeconds !== undefined) {
    notes.push({ subject: `route ${route.name}`, feature: 'agw:perTryTimeoutSeconds', detail: "Envoy starts a try's per-try timeout once the try has a connection; waiting for a new connection is bounded by the connect timeout of the service's DestinationRule (the shortest per-try timeout of the routes to the service), so a try that opens a connection can take up to its per-try timeout plus that connect timeout. agw:timeoutSeconds, where the route has one, still bounds the whole request" });
  }
  if (retryOn.length < r.retryOn.length) {
    notes.push({ subject: `route ${route.name}`, feature: 'agw:retryOn on a route that takes POST or PATCH', detail: `Envoy would retry any method; the route takes POST or PATCH, which the gateway retries only after a failed connection, and one Istio retry policy serves all its methods: Istio retries ${retryOn.length > 0 ? 'on connect-failure only' : 'nothing'}, also for its idempotent methods` });
  }
  if (retryOn.length === 0) return { attempts: 0 };
  // Envoy's 5xx and gateway-error, and its reset, retry any reset try, a failed connection
  // included (RetryStateImpl::wouldRetryFromReset); the gateway retries a failed connection only
  // on connect-failure and a reset only on reset. Narrower Envoy conditions (retriable-status-codes)
  // would no longer retry per-try timeouts, so the difference is noted, not mapped.
  const answers = retryOn.some((c) => c === '5xx' || c === 'gateway-error');
  const extra = [
    ...(retryOn.includes('connect-failure') ? [] : ['a try whose connection failed (connect-failure)']),
    ...(answers && !retryOn.includes('reset') ? ['a try the backend reset (reset)'] : []),
  ];
  if (extra.length > 0)
    notes.push({ subject: `route ${route.name}`, feature: 'agw:retryOn (what Envoy retries besides)', detail: `Envoy's retry conditions ${retryOn.filter((c) => c !== 'connect-failure').join(', ')} also retry ${extra.join(' and ')}, which the gateway retries only when agw:retryOn lists that condition` });
  return {
    attempts: r.attempts,
    ...(r.perTryTimeoutSeconds !== undefined ? { perTryTimeout: goDuration(r.perTryTimeoutSeconds) } : {}),
    retryOn: retryOn.join(','),
    backoff: goDuration(r.initialDelayMs / 1000),
  };
}

/**
 * The spellings of an API-key header the backend must not get: the gateway (and Kong's
 * hide_credentials) keep the client's key from the backend, and the gateway drops the header
 * whether its name is written with "-" or "_" (Envoy passes a name with "_" on, and many servers
 * read it as the "-" one).
 */
function keyHeaders(header: string): string[] {
  const lower = header.toLowerCase();
  return [...new Set([lower.replaceAll('_', '-'), lower.replaceAll('-', '_')])];
}

/**
 * The per-try timeout of a route whose entry makes a single try (no retry policy is written:
 * agw:retryAttempts 0, or a route that takes POST or PATCH with no connect-failure to retry on),
 * where Envoy takes no perTryTimeout. The gateway limits that one try all the same (504), so the
 * entry's route timeout does: both clocks start once the request has come in whole and count the
 * connection's setup. Not on a WebSocket route, whose route timeout Envoy also applies to the
 * upgraded tunnel, where the gateway's try limit ends with the handshake.
 */
function singleTryTimeout(route: M.Route): number | undefined {
  const perTry = route.retry?.perTryTimeoutSeconds;
  return perTry === undefined || route.websocket || writtenPerTry(route) !== undefined ? undefined : perTry;
}

/** The entry's route timeout: agw:timeoutSeconds, or the single try's timeout when that is shorter. */
function routeTimeout(route: M.Route): number | undefined {
  const single = singleTryTimeout(route);
  return single === undefined ? route.timeoutSeconds : Math.min(single, route.timeoutSeconds ?? Infinity);
}

/** The note for a route whose one try Istio cannot bound (see singleTryTimeout). */
const singleTryNote = (route: M.Route): Limitation => ({
  subject: `route ${route.name}`,
  feature: 'agw:perTryTimeoutSeconds',
  detail: "Istio makes the route's one try without a per-try timeout, and its route timeout would also close the upgraded WebSocket tunnel, so the one try is bounded only by agw:timeoutSeconds, where the route has one",
});

/** The methods the gateway retries on every retryOn condition (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

function cors(route: M.Route, c: M.CorsPolicy): NonNullable<HttpEntry['cors']> {
  return {
    origins: c.origins.map((o) => (o === '*' ? { regex: '.*' } : { exact: o })),
    methods: c.methods.length > 0 ? c.methods : [...new Set([...(route.methods.length ? route.methods : HTTP_METHODS), 'OPTIONS'])],
    // No agw:allowHeader: the gateway allows the headers a preflight asks for. Envoy sends no
    // Access-Control-Allow-Headers for an empty list (a browser then sends none but the simple
    // ones) and reflects the requested ones for "*".
    headers: c.headers.length > 0 ? c.headers : ['*'],
    credentials: c.credentials,
    ...(c.maxAgeSeconds !== undefined ? { maxAge: goDuration(c.maxAgeSeconds) } : {}),
    expose: exposedHeaders(route),
  };
}

/**
 * The response headers the ingress itself adds to the route's answers, which a page may read
 * only when they are exposed (the gateway exposes its own likewise): the local rate limit's
 * draft-03 headers and Retry-After, and the JWT challenge that tells an expired token from a missing one.
 */
function exposedHeaders(route: M.Route): string[] {
  return [...(route.rateLimit ? ['retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'] : []), ...(route.auth?.kind === 'jwt' ? ['www-authenticate'] : [])];
}

function rateLimit(route: M.Route, limiter: M.RateLimiter, httpNames: readonly string[], notes: Limitation[]): RateLimit {
  const windows = RATE_WINDOWS.filter((w) => limiter.limits[w] !== undefined);
  const shortest = windows[0]!;
  const subject = `route ${route.name}`;
  if (windows.length > 1) notes.push({ subject, feature: 'agw:requestsPer… (longer windows)', detail: `Envoy's local rate limit is one token bucket; only the shortest window (${shortest}) is enforced, the longer windows are not` });
  if (limiter.limitBy !== 'global') notes.push({ subject, feature: `agw:limitBy "${limiter.limitBy}"`, detail: 'The Istio local rate limit has one bucket per route for all clients together (per ingress gateway replica), not one per client' });
  else notes.push({ subject, feature: 'agw:limitBy "global"', detail: 'The local rate limit counts per ingress gateway replica; the whole gateway admits up to replicas × the limit' });
  if (limiter.policy === 'redis') notes.push({ subject, feature: 'agw:policy "redis"', detail: 'Shared counters need Envoy\'s global rate limit filter and a rate-limit service, which gwgen does not deploy; the limit is enforced locally per ingress gateway replica' });
  if (httpNames.length > 1) notes.push({ subject, feature: 'rate limit with a header-matched canary', detail: 'The header-matched canary entry of the route has its own token bucket of the same size' });
  // Istio makes an Envoy route of each match of an entry, and the EnvoyFilter gives each its own bucket (see matches).
  if (route.cors && route.methods.includes('OPTIONS')) notes.push({ subject, feature: 'rate limit on OPTIONS of a route with CORS', detail: "The route's OPTIONS requests that are no CORS preflight match an Envoy route of their own (Istio makes one of each match of the route's entry), whose token bucket of the same size counts them apart from the route's other methods" });
  // Envoy's token bucket counts in uint32: a larger model value would make Envoy refuse the filter.
  const bucket = (field: string, value: number) =>
    atMost(value, UINT32_MAX, notes, () => ({ subject, feature: `${field} (above Envoy's maximum)`, detail: `Envoy's token bucket holds at most ${UINT32_MAX} tokens; ${value} is written as ${UINT32_MAX}` }));
  const limit = limiter.limits[shortest]!;
  const seconds = WINDOW_SECONDS[shortest];
  // Envoy adds tokens_per_fill every fill_interval and drops what exceeds max_tokens, so a burst
  // below the limit filled once per window would cut the rate to the burst per window. The
  // gateway refills continuously at limit/window: a fill of one burst every burst/limit windows
  // keeps that rate (Envoy refuses fill intervals under 50 ms).
  const fullWindow = limiter.burstSize >= limit;
  const interval = fullWindow ? seconds : (seconds * limiter.burstSize) / limit;
  if (interval < MIN_FILL_SECONDS)
    notes.push({ subject, feature: 'agw:burstSize (below the rate)', detail: `Envoy refills its token bucket at most every 50 ms, so with a burst of ${limiter.burstSize} the ingress admits at most ${limiter.burstSize * 20} requests per second, not ${limit} per ${shortest}` });
  const maxTokens = bucket('agw:burstSize', limiter.burstSize);
  const fillSeconds = Math.max(MIN_FILL_SECONDS, interval);
  return {
    route: route.name,
    httpNames,
    maxTokens,
    tokensPerFill: fullWindow ? bucket(`agw:requestsPer${shortest[0]!.toUpperCase()}${shortest.slice(1)}`, limit) : maxTokens,
    fillInterval: goDuration(fillSeconds),
    // A rejected client gets tokens at the next fill, at most one interval away; Retry-After is in
    // whole seconds, so it is rounded up (never 0, which would invite an immediate retry).
    retryAfter: String(Math.max(1, Math.ceil(fillSeconds))),
  };
}

interface TrafficPolicy {
  readonly loadBalancer: { simple?: string; consistentHash?: boolean };
  readonly tlsMode?: string;
}

/**
 * The load balancer and TLS mode of one service. agw:mtlsMode "DISABLE" turns off the mesh's
 * mutual TLS, not the application's own TLS: an https backend still gets TLS (SIMPLE), as the
 * gateway and Kong speak https to it; DISABLE there would send plaintext to a TLS port.
 */
function servicePolicy(model: M.GatewayModel, s: M.BackendService): TrafficPolicy {
  const mode = outsideCluster(s) && acceptsMtls(s, model) ? 'DISABLE' : mtlsModeOf(s, model);
  const tlsMode = mode === 'STRICT' || mode === 'PERMISSIVE' ? 'ISTIO_MUTUAL' : s.protocol === 'https' ? 'SIMPLE' : mode === 'DISABLE' ? 'DISABLE' : undefined;
  return {
    loadBalancer: s.loadBalancing === 'consistent-hash' ? { consistentHash: true } : { simple: LOAD_BALANCER[s.loadBalancing]! },
    ...(tlsMode ? { tlsMode } : {}),
  };
}

/**
 * An entry whose destinations are one host outside the cluster sends that host as Host, as the
 * gateway and Kong do: Envoy keeps the client's Host, which a server outside the cluster (virtual
 * hosting, a CDN) would not serve. Istio rewrites the authority per entry, not per destination,
 * so an entry that mixes such a host with others keeps the client's and NOTES.md says so.
 */
function withAuthorities(entries: readonly HttpEntry[], model: M.GatewayModel, notes: Limitation[]): HttpEntry[] {
  const gw = model.gateway.name;
  // By host and port: services may share a host outside the cluster on ports of their own (http on 80, https on 443).
  const services = model.services.filter(outsideCluster);
  const outside = new Map(services.map((s) => [`${meshHost(s, gw)}\u0000${s.port}`, s]));
  const outsideHosts = new Set(services.map((s) => meshHost(s, gw)));
  return entries.map((entry) => withAuthority(entry, outside, outsideHosts, notes));
}

/** One entry of withAuthorities; `outside`: the services outside the cluster, by their mesh host and port. */
function withAuthority(entry: HttpEntry, outside: ReadonlyMap<string, M.BackendService>, outsideHosts: ReadonlySet<string>, notes: Limitation[]): HttpEntry {
  const hosts = new Set(entry.destinations.map((d) => `${d.host}\u0000${d.port}`));
  const first = entry.destinations[0];
  const service = first && outside.get(`${first.host}\u0000${first.port}`);
  if (!first || !entry.destinations.some((d) => outsideHosts.has(d.host))) return entry;
  if (hosts.size > 1 || !service) {
    notes.push({ subject: `route ${entry.route}`, feature: 'agw:host outside the cluster (among other destinations)', detail: 'Istio sets one Host per route entry, not per destination, so the requests it sends to the host outside the cluster carry the client\'s Host, where the gateway sends that host\'s name' });
    return entry;
  }
  if (instanceEntry(service)) {
    const authority = instancesAuthority(service);
    if (authority === undefined) {
      notes.push({ subject: `route ${entry.route}`, feature: 'agw:hasInstance outside the cluster (Host)', detail: "The gateway sends each instance its own address as Host; Istio sets one Host per route entry, and the service's instances differ in host or port, so the requests carry the client's Host, and TLS to them (agw:protocol \"https\") names no server (SNI) of its own" });
      return entry;
    }
    return { ...entry, rewrite: { ...entry.rewrite, authority } };
  }
  return { ...entry, rewrite: { ...entry.rewrite, authority: authorityOf(first.host, first.port, service.protocol) } };
}

/**
 * The host Istio sends a service's traffic to. A service gwgen deploys (agw:image) is its own
 * Kubernetes Service, named after agw:serviceName and selecting only its own pods, which is where
 * the k8s target points the gateway too; its agw:host would be another service's Service (whose
 * pods lack this version's label: a subset with no endpoint, 503) or a name outside the cluster.
 * A service gwgen does not deploy whose explicit instances are its targets has a ServiceEntry host
 * of its own (instancesHost).
 */
function meshHost(s: M.BackendService, gateway: string): string {
  return instanceEntry(s) ? instancesHost(s, gateway) : registryHost(s);
}

/** The host of a service without an instances entry: its own Kubernetes Service, or its agw:host. */
function registryHost(s: M.BackendService): string {
  return clusterHost(s.image !== undefined ? s.name : s.host, s.namespace);
}

/**
 * The pods a service's own PeerAuthentication selects. A service gwgen deploys has its own
 * Deployment, whose pods carry `app: <serviceName>`. Any other service's pods are those behind its
 * host's Kubernetes Service, labelled by Istio's convention (`app` = that Service's name,
 * `version` = the release), the labels the DestinationRule's subsets select too: releases that
 * share a host (orders-v1, orders-v2 behind `orders`) have no pods labelled `app: orders-v1`.
 */
function peerSelector(s: M.BackendService): Label[] {
  if (s.image !== undefined) return [{ key: 'app', value: labelValue(s.name) }];
  const app = labelValue(clusterHost(s.host, s.namespace).split('.')[0]!);
  return [{ key: 'app', value: app }, ...(s.version !== undefined ? [{ key: 'version', value: labelValue(s.version) }] : [])];
}

/**
 * Whether a service's host is outside the cluster (a domain name or an address, see clusterHost):
 * reached through a ServiceEntry, with no sidecar, no pod labels and no mesh certificate there.
 */
function outsideCluster(s: M.BackendService): boolean {
  let outside = OUTSIDE.get(s);
  if (outside === undefined) {
    outside = instanceEntry(s) ? instancesOutside(s) : !inCluster(registryHost(s));
    OUTSIDE.set(s, outside);
  }
  return outside;
}

// Asked for every destination of every route entry: a service's answer is worked out once.
const OUTSIDE = new WeakMap<M.BackendService, boolean>();

/** What becomes of a STRICT or PERMISSIVE mode of a service outside the cluster (outsideCluster). */
function outsideMtlsNote(https: boolean): { feature: string; detail: string } {
  const why = "The host is outside the cluster, without a sidecar, so it cannot speak Istio's mutual TLS (ISTIO_MUTUAL presents and expects mesh certificates), and gwgen writes no PeerAuthentication for it";
  return https
    ? { feature: 'agw:hasMutualTLS (https host outside the cluster)', detail: `${why}: its DestinationRule originates TLS (SIMPLE). The gwgen gateway presents its client certificate (GW_MTLS_CERT) there; for Istio to do so, set the DestinationRule's tls mode to MUTUAL with a credentialName in the ingress gateway's namespace` }
    : { feature: 'agw:hasMutualTLS (http host outside the cluster)', detail: `${why}: its DestinationRule sends plain text (DISABLE), so the traffic leaves the cluster unencrypted; give the service an https address (agw:protocol "https") for Istio to originate TLS` };
}

/** Whether Istio's mutual TLS (ISTIO_MUTUAL) carries the service's traffic. */
function meshMtls(s: M.BackendService, model: M.GatewayModel): boolean {
  return !outsideCluster(s) && acceptsMtls(s, model);
}

const samePolicy = (a: TrafficPolicy, b: TrafficPolicy) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Istio drops traffic to a host that is neither in the platform's registry (a Kubernetes Service)
 * nor in a ServiceEntry. A host the model names with a domain or an IPv4 address (anything but a
 * bare name or a cluster name, see clusterHost) is outside the cluster: it gets a ServiceEntry,
 * MESH_EXTERNAL, resolved by DNS, with the ports of the services on it.
 */
function serviceEntry(host: string, group: readonly M.BackendService[], meta: (name: string, namespace: string, component: string) => Meta, notes: Limitation[]): ServiceEntry[] {
  const first = group[0]!;
  if (!outsideCluster(first)) return [];
  if (host.includes(':')) {
    notes.push({ subject: `service ${first.name}`, feature: 'agw:host (IPv6 address)', detail: `Istio routes to a host outside the cluster only through a ServiceEntry, whose hosts are names: give ${host} a DNS name, or add a ServiceEntry with the address under a name of your choice` });
    return [];
  }
  const ports = new Map<number, { number: number; name: string; protocol: string }>();
  for (const s of group) if (!ports.has(s.port)) ports.set(s.port, servicePort(s));
  return [{ meta: meta(dnsName(first.name, 'external'), first.namespace, first.name), hosts: [host], location: 'MESH_EXTERNAL', resolution: 'DNS', endpoints: [], ports: [...ports.values()].sort((a, b) => a.number - b.number) }];
}

/**
 * The DestinationRule of one host: its services (usually one; several when they share the host)
 * in name order, and the routes that reach any of them. The first service names the rule and
 * gives the host-wide policy; a service with its own agw:version gets its subset, which carries
 * its own policy where that differs.
 */
function destinationRule(model: M.GatewayModel, group: readonly M.BackendService[], routes: readonly M.Route[], ingressNamespace: string, meta: (name: string, namespace: string, component: string) => Meta, notes: Limitation[]): DestinationRule {
  const s = group[0]!;
  const names = group.map((x) => x.name).join(', ');
  const users = routes.filter((r) => r.circuitBreaker);
  const breakers = users.map((r) => r.circuitBreaker!);
  let outlierDetection: DestinationRule['outlierDetection'];
  if (breakers.length > 0) {
    const threshold = Math.min(...breakers.map((b) => b.failureThreshold));
    const ejection = Math.max(...breakers.map((b) => b.timeoutSeconds));
    // consecutive5xxErrors is a uint32.
    const errors = atMost(threshold, UINT32_MAX, notes, () => ({ subject: `service ${names}`, feature: "agw:failureThreshold (above Istio's maximum)", detail: `Istio's consecutive5xxErrors is at most ${UINT32_MAX}; the threshold of ${threshold} is written as ${UINT32_MAX}` }));
    // Envoy ejects at the threshold but returns an endpoint only at an interval's sweep, once
    // baseEjectionTime has passed: an interval longer than the ejection would keep it out up to
    // the interval (1 s for a 0.25 s breaker), where the gateway half-opens after its timeout.
    outlierDetection = { consecutive5xxErrors: errors, interval: goDuration(Math.min(1, ejection)), baseEjectionTime: goDuration(ejection), maxEjectionPercent: 100 };
    const distinct = new Set(breakers.map((b) => `${b.failureThreshold}/${b.timeoutSeconds}`));
    if (distinct.size > 1) {
      notes.push({ subject: `service ${names}`, feature: 'agw:hasCircuitBreaker (shared service)', detail: `Routes ${users.map((r) => r.name).join(', ')} reach this service with different circuit breakers; Istio has one per service (its DestinationRule), so the strictest is used: ${threshold} consecutive failures, ${goDuration(ejection)} ejection` });
    }
    const unprotected = routes.filter((r) => !r.circuitBreaker);
    for (const r of unprotected) notes.push({ subject: `route ${r.name}`, feature: 'agw:hasCircuitBreaker (shared service)', detail: `The route has no circuit breaker, but its service ${names} has one from other routes; in Istio the outlier detection of a service applies to every route to it` });
    for (const r of users) {
      notes.push({ subject: `route ${r.name}`, feature: 'agw:hasCircuitBreaker', detail: 'Istio ejects a failing endpoint (outlier detection) instead of failing fast: consecutive 5xx or connection failures eject it for agw:timeoutSeconds (longer on repeated ejections, as Envoy multiplies the ejection time), and it then takes full traffic at once; agw:halfOpenRequests is not expressible' });
    }
  }
  const connect = connectTimeout(names, routes, notes);
  const policy = servicePolicy(model, s);
  const host = meshHost(s, model.gateway.name);
  const subsets: { name: string; labels: readonly Label[]; policy?: TrafficPolicy; service: string }[] = [];
  const ports: { port: number; policy: TrafficPolicy; sni?: string; service: string }[] = [];
  const outside = outsideCluster(s);
  // The endpoints of an instances entry carry no labels either.
  const unlabelled = outside || instanceEntry(s);
  for (const x of group) {
    // A subset's policy overrides the host's field by field: no TLS of its own must say DISABLE.
    const plain = servicePolicy(model, x);
    const own = plain.tlsMode === undefined && policy.tlsMode !== undefined ? { ...plain, tlsMode: 'DISABLE' } : plain;
    // A host outside the cluster has no pods, so no version labels for a subset to select (a
    // subset there would select no endpoint and answer 503): its services are told apart by
    // port alone, as the gateway tells them apart.
    const subset = x.version === undefined || unlabelled ? undefined : dnsLabelOf(x.version);
    const existing = subsets.find((v) => v.name === subset);
    if (subset !== undefined && !existing) {
      subsets.push({ name: subset, labels: [{ key: 'version', value: labelValue(x.version!) }], ...(samePolicy(own, policy) ? {} : { policy: own }), service: x.name });
    } else if (subset === undefined && x.port !== s.port && !samePolicy(own, policy)) {
      // Told apart by port: the port gets the service's own policy (its TLS above all: SIMPLE to
      // an https port beside a plain one), unless another service on that port set it first.
      const taken = ports.find((p) => p.port === x.port);
      if (taken === undefined) ports.push({ port: x.port, policy: own, ...(outside && own.tlsMode === 'SIMPLE' ? sniOf(x, host) : {}), service: x.name });
      else if (!samePolicy(own, taken.policy)) notes.push({ subject: `service ${x.name}`, feature: 'agw:loadBalancing / mTLS (shared host)', detail: `The service shares host ${host} and port ${x.port} with service ${taken.service}; Istio applies one traffic policy there, that of ${taken.service}` });
    } else if (!samePolicy(own, existing?.policy ?? policy)) {
      notes.push({ subject: `service ${x.name}`, feature: 'agw:loadBalancing / mTLS (shared host)', detail: `The service shares host ${host} ${subset === undefined ? 'without an agw:version of its own' : `and version ${x.version}`} with service ${existing?.service ?? s.name}; Istio applies one traffic policy there, that of ${existing?.service ?? s.name}` });
    }
  }
  if (group.length > 1) {
    notes.push({ subject: `services ${names}`, feature: 'agw:host (shared)', detail: `The services share host ${host}; Istio has one DestinationRule per host, ${s.name}, ${outside ? 'without version subsets: the host is outside the cluster, with no pods whose version labels a subset could select, so Istio tells the services apart by their ports only' : 'with their versions as subsets'}` });
  }
  // TLS origination (SIMPLE) is for the ingress gateway, which gets plain HTTP from the edge. A rule
  // exported mesh-wide would also apply to every sidecar calling the host, and wrap the TLS its
  // application (the gwgen gateway among them) already speaks in a second TLS (Istio's "double TLS").
  const originatesTls = policy.tlsMode === 'SIMPLE' || subsets.some((v) => v.policy?.tlsMode === 'SIMPLE') || ports.some((p) => p.policy.tlsMode === 'SIMPLE');
  if (originatesTls) {
    notes.push({ subject: `service ${names}`, feature: 'TLS origination (DestinationRule exportTo)', detail: `The service's DestinationRule originates TLS, and is exported to namespace ${ingressNamespace} only, where the ingress gateway must run: other sidecars calling the host carry their application's own TLS, which the rule would wrap in a second TLS. An ingress gateway in another namespace sends plain HTTP to the TLS port unless that namespace is added to exportTo` });
  }
  return {
    // An instances entry's rule lives beside its ServiceEntry, where Istio looks for it (the client's
    // namespace, the service's, the root namespace), and is exported as narrowly.
    meta: meta(s.name, instanceEntry(s) ? ingressNamespace : s.namespace, s.name),
    host,
    ...(originatesTls || instanceEntry(s) ? { exportTo: [ingressNamespace] } : {}),
    loadBalancer: policy.loadBalancer,
    ...(connect !== undefined ? { connectionPool: { connectTimeout: goDuration(connect) } } : {}),
    ...(outlierDetection ? { outlierDetection } : {}),
    ...(policy.tlsMode ? { tlsMode: policy.tlsMode } : {}),
    // TLS to a named host outside the cluster names it (SNI): Envoy's automatic SNI would take the
    // client's Host, and a virtual-hosted server would then present another certificate.
    ...(outside && policy.tlsMode === 'SIMPLE' ? sniOf(s, host) : {}),
    subsets: subsets.map((v) => ({ name: v.name, labels: v.labels, ...(v.policy ? { policy: v.policy } : {}) })),
    portLevelSettings: ports.sort((a, b) => a.port - b.port).map(({ port, policy: own, sni }) => ({ port, policy: own, ...(sni !== undefined ? { sni } : {}) })),
  };
}

function sniOf(s: M.BackendService, host: string): { sni?: string } {
  if (instanceEntry(s)) {
    const sni = instancesSni(s);
    return sni === undefined ? {} : { sni };
  }
  // An address names no certificate, and RFC 6066 §3 puts no IP literal in SNI (IPv4 or IPv6).
  return isIP(host) !== 0 ? {} : { sni: host };
}

/**
 * The model's durations that are longer than Istio takes (Go's longest, about 292 years): Istio
 * refuses such a resource, so goDuration writes the longest, and NOTES.md names each.
 */
function longDurationNotes(model: M.GatewayModel): Limitation[] {
  const notes: Limitation[] = [];
  const note = (route: M.Route, feature: string, seconds: number | undefined, field: string) => {
    if (seconds !== undefined && beyondGoDuration(seconds))
      notes.push({ subject: `route ${route.name}`, feature: `${feature} (above Istio's maximum)`, detail: `Istio's durations are at most ${goDuration(Infinity)} (Go's longest duration, about 292 years); the model's is longer, so ${field} is that maximum` });
  };
  for (const r of model.routes) {
    note(r, 'agw:timeoutSeconds', r.timeoutSeconds, 'the route timeout');
    note(r, 'agw:perTryTimeoutSeconds', writtenPerTry(r), "the per-try timeout (and the connect timeout of the service's DestinationRule)");
    if (routeTimeout(r) !== r.timeoutSeconds) note(r, 'agw:perTryTimeoutSeconds', singleTryTimeout(r), 'the route timeout (the one try has no per-try timeout)');
    if (r.retry && r.retry.attempts > 0) note(r, 'agw:initialDelayMs', r.retry.initialDelayMs / 1000, 'the retry backoff');
    note(r, 'agw:timeoutSeconds of agw:CircuitBreaker', r.circuitBreaker?.timeoutSeconds, "the service's baseEjectionTime (outlier detection)");
    note(r, 'agw:maxAgeSeconds', r.cors?.maxAgeSeconds, "the CORS policy's maxAge");
  }
  return notes;
}

/**
 * The per-try timeout the VirtualService writes for a route: none without retries, and none
 * where retries() keeps no retryOn condition (a route that takes POST or PATCH retries only on
 * connect-failure), as it then writes attempts 0.
 */
function writtenPerTry(route: M.Route): number | undefined {
  return route.retry && route.retry.attempts > 0 && writtenRetryOn(route).length > 0 ? route.retry.perTryTimeoutSeconds : undefined;
}

/**
 * The retryOn conditions Istio keeps for a route. Envoy retries whatever the method; the gateway
 * retries a POST or PATCH only after a failed connection (the backend never saw it). One retry
 * policy serves every method of the entry, so a route that takes POST or PATCH keeps only that
 * condition.
 */
function writtenRetryOn(route: M.Route): readonly M.RetryCondition[] {
  const conditions = route.retry?.retryOn ?? [];
  const writes = route.methods.length === 0 || route.methods.some((m) => !IDEMPOTENT_METHODS.has(m));
  return writes ? conditions.filter((c) => c === 'connect-failure') : conditions;
}

/**
 * connectionPool.tcp.connectTimeout, in seconds: the shortest per-try timeout of the routes to
 * the service, or nothing when none of them has one.
 *
 * Envoy starts a try's per-try timeout only once the try has a connection (envoyproxy/envoy
 * #4905); waiting for a new connection is bounded by the cluster's connect timeout (Istio's
 * default: 10 s) and the route timeout. Without this field a try could hang in connect for
 * longer than agw:perTryTimeoutSeconds and never be retried elsewhere. The other connectionPool
 * fields are concurrency limits (connections, pending and active requests, and `maxRetries`, the
 * retries outstanding to the whole service at once, not per request): the model has none, and
 * agw:CircuitBreaker counts consecutive failures, which is outlierDetection. So they keep Istio's
 * defaults (unlimited).
 */
function connectTimeout(service: string, routes: readonly M.Route[], notes: Limitation[]): number | undefined {
  const bounded = routes.filter((r) => writtenPerTry(r) !== undefined);
  if (bounded.length === 0) return undefined;
  const shortest = Math.min(...bounded.map((r) => writtenPerTry(r)!));
  const longer = routes.filter((r) => writtenPerTry(r) !== shortest).map((r) => r.name);
  if (longer.length > 0) {
    notes.push({
      subject: `service ${service}`,
      feature: 'agw:perTryTimeoutSeconds (shared service)',
      detail: `Istio has one connect timeout per service (connectionPool.tcp.connectTimeout of its DestinationRule), set to the shortest per-try timeout of the routes to it, ${goDuration(shortest)}; it also cuts new connections after ${goDuration(shortest)} for ${longer.length === 1 ? 'route' : 'routes'} ${longer.join(', ')}, whose per-try timeout is longer or absent`,
    });
  }
  return shortest;
}

/** One jwtRule per issuer. Audiences are checked per route by the AuthorizationPolicy; the rule lists them only when every route of the issuer names some. */
function jwtRules(routes: readonly M.Route[], notes: Limitation[]): JwtRule[] {
  const byIssuer = new Map<string, M.JwtAuthentication[]>();
  for (const r of routes) {
    const auth = r.auth as M.JwtAuthentication;
    byIssuer.set(auth.issuer, [...(byIssuer.get(auth.issuer) ?? []), auth]);
  }
  for (const r of routes) {
    const auth = r.auth as M.JwtAuthentication;
    const subject = `route ${r.name}`;
    if (!auth.jwksUri) {
      // The jwtRule is the issuer's: another route of the issuer may give it a JWKS.
      const shared = byIssuer.get(auth.issuer)!.some((a) => a.jwksUri !== undefined);
      const consequence = shared
        ? "the issuer's jwtRule takes the JWKS another route of the issuer names, so the route's HS256 tokens are refused: the route fails closed"
        : 'the jwtRule has no jwksUri, so Istio tries OpenID discovery at the issuer and refuses the tokens unless the issuer publishes a JWKS: the route fails closed';
      notes.push({ subject, feature: 'agw:secretEnv (HS256)', detail: `Istio verifies tokens only with public keys from a JWKS and cannot read an HS256 secret from the environment (an inline JWKS would put the secret into the manifest); ${consequence}` });
    } else {
      if (auth.algorithms.includes('HS256')) notes.push({ subject, feature: 'agw:algorithm HS256', detail: 'Istio verifies tokens only with the JWKS; HS256 tokens signed with agw:secretEnv are refused' });
      notes.push({ subject, feature: 'agw:algorithm', detail: 'Istio accepts any algorithm the JWKS has keys for; the list of accepted algorithms is not enforced' });
    }
  }
  return [...byIssuer]
    .sort((a, b) => compareStrings(a[0], b[0]))
    .map(([issuer, auths]) => {
      const uris = [...new Set(auths.map((a) => a.jwksUri).filter((u): u is string => u !== undefined))].sort(compareStrings);
      if (uris.length > 1) notes.push({ subject: `issuer ${issuer}`, feature: 'agw:jwksUri', detail: `Routes name different JWKS URLs for this issuer; Istio has one per issuer and uses ${uris[0]}` });
      const everyHasAudiences = auths.every((a) => a.audiences.length > 0);
      return {
        issuer,
        audiences: everyHasAudiences ? [...new Set(auths.flatMap((a) => a.audiences))].sort(compareStrings) : [],
        ...(uris[0] !== undefined ? { jwksUri: uris[0] } : {}),
        spaceDelimitedClaims: auths.some((a) => a.requiredScopes.length > 0) ? [...SCOPE_CLAIMS].sort(compareStrings) : [],
      };
    });
}

/**
 * The characters of a segment an Istio path template matches: `{*}` is one or more of them, `{**}`
 * any number of them and "/" (Envoy's uri_template, kLiteral in
 * source/extensions/path/uri_template_lib/uri_template_internal.cc: RFC 3986 pchar without "*");
 * Istio (pkg/config/security) refuses a template whose literal segments hold anything else.
 */
const TEMPLATE_LITERAL = /^[A-Za-z0-9\-._~%!$&'()+,;:@=]+$/;

/**
 * A `{param}` route path as an Istio path template (Istio ≥ 1.22): each parameter `{*}`, one
 * non-empty segment, as the gateway matches it (`/orders/{id}/items` → `/orders/{*}/items`).
 * Undefined when a literal segment holds a character a template cannot ("*").
 */
export function pathTemplate(path: string): string | undefined {
  const segs = routeSegments(path);
  if (segs.some((s) => !isParamSegment(s) && !TEMPLATE_LITERAL.test(s))) return undefined;
  return `/${segs.map((s) => (isParamSegment(s) ? '{*}' : s)).join('/')}`;
}

/**
 * The Istio paths that match exactly the requests a route path takes: the path itself and what
 * lies under it, by whole segments ("/docs" takes "/docs", "/docs/" and "/docs/a"). A plain path
 * is `/docs` and `/docs/*` ("/" is `/*`); a `{param}` path is its template and the template with
 * `/{**}` (`/orders/{*}/items`, `/orders/{*}/items/{**}`: Istio lets `{**}` only end a template and
 * no template hold a `/*`, and `{**}` matches no segment at all only after its "/"). Undefined
 * when no exact form exists: a plain path ending in "*" (Istio reads `/v1*` as a prefix), a
 * template that cannot be written (pathTemplate).
 */
export function exactPaths(path: string): string[] | undefined {
  const segs = routeSegments(path);
  if (hasParams(path)) {
    const template = pathTemplate(path);
    return template === undefined ? undefined : [template, `${template}/{**}`];
  }
  if (segs.length === 0) return ['/*'];
  const own = `/${segs.join('/')}`;
  return own.endsWith('*') ? undefined : [own, `${own}/*`];
}

/** Whether Istio matches the paths with every character a request may hold, not only a template's. */
const anyCharacter = (path: string) => !path.includes('{*}') && !path.includes('{**}');

/**
 * The paths of a route's DENY rules: those its route takes, less those a more specific route
 * takes, so that the policy applies to exactly the requests the VirtualService sends to the route
 * (the most specific path decides, as in the gateway: a more specific path's routes take its
 * requests, or refuse their method with 405).
 *
 * - A plain path: `/docs`, `/docs/*` (exactPaths).
 * - A `{param}` path: its template forms (Istio ≥ 1.22), and, as a second operation, its literal
 *   prefix less every path a template matches (`/orders/*` but not `/orders/{**}`): a template
 *   segment takes only TEMPLATE_LITERAL characters, so a request with another one (`/orders/a*b/items`)
 *   would match no template and pass the route's policy, while the VirtualService's regex routes it
 *   to the route. This operation denies such requests under the prefix unless they meet the
 *   route's requirements; on an Istio before 1.22, which reads a template as a plain path, it
 *   denies the whole prefix (the templates never match), so the policy never fails open.
 * - notPaths: each more specific path group whose paths meet the route's, unless every request it
 *   takes with the rule's methods already needs what the route requires (unaffected). A plain
 *   path is exempted exactly; a `{param}` path by its template forms, which do not match the other
 *   characters: such requests to it still need the route's credentials (noted).
 *
 * Where no exact form exists (exactPaths), the literal prefix is used as before, and NOTES.md lists
 * the routes under it whose requirements differ.
 */
export function authzOperations(route: M.Route, candidates: readonly M.Route[], notes: Limitation[]): AuthzOperation[] {
  const prefix = literalPrefix(route.path);
  const own = exactPaths(route.path);
  const param = hasParams(route.path);
  const subject = (other: M.Route) => `route ${other.name} (under ${prefix}, policy of route ${route.name})`;
  const differs = (other: M.Route) => other !== route && methodsOverlap(route, other) && !requirementsMet(route, other);
  const overreach = (other: M.Route) => {
    if (differs(other)) notes.push({ subject: subject(other), feature: 'path-scoped Istio authorization', detail: "Istio authorization policies match path prefixes and methods, not routes: a request to the route that also falls under the path prefix and methods of a route with other requirements must pass that route's authentication and IP rules too" });
  };
  const otherCharacters = (other: M.Route) => {
    if (differs(other)) notes.push({ subject: subject(other), feature: 'path-scoped Istio authorization (characters outside path templates)', detail: `Istio matches a {param} segment with a path template, whose segments take only letters, digits and - . _ ~ % ! $ & ' ( ) + , ; : @ =; a request to the route whose path holds another character (such as "*", "[" or "|") is not told apart from a request to the route with the policy, so it must pass that route's authentication and IP rules too` });
  };

  // The more specific path groups that take some of the route's requests.
  const groups = new Map<string, M.Route[]>();
  for (const other of candidates) {
    if (compareSpecificity(other.path, route.path) >= 0 || !pathsMeet(route.path, other.path)) continue;
    const key = routeSegments(other.path).map((s) => (isParamSegment(s) ? '{}' : s)).join('/');
    groups.set(key, [...(groups.get(key) ?? []), other]);
  }
  const notPaths: string[] = [];
  const exemptAnyCharacter: string[] = [];
  // The routes of those groups: exempted, or noted here.
  const handled = new Set<M.Route>();
  for (const group of [...groups.values()].sort((a, b) => compareSpecificity(a[0]!.path, b[0]!.path) || compareStrings(a[0]!.path, b[0]!.path))) {
    for (const r of group) handled.add(r);
    if (unaffected(route, group)) continue;
    const forms = exactPaths(group[0]!.path);
    if (forms === undefined) group.forEach(overreach);
    else {
      notPaths.push(...forms);
      if (forms.every(anyCharacter)) exemptAnyCharacter.push(...forms);
      else group.forEach(otherCharacters);
    }
  }

  if (own === undefined && !param) {
    const base = `/${routeSegments(route.path).join('/')}`;
    notes.push({ subject: `route ${route.name}`, feature: 'agw:routePath ending in "*" (Istio authorization)', detail: `Istio reads a trailing "*" of an AuthorizationPolicy path as a wildcard and cannot match the "*" itself, so the route's policy applies to every request path that starts with ${base.replace(/\*+$/, '')}, also where another route takes it` });
    return [{ paths: [base, `${base}/*`], notPaths }];
  }
  // The other routes under the literal prefix, whose requests the prefix operation may take.
  const rest = param ? candidates.filter((o) => o !== route && !handled.has(o) && prefixesMeet(prefix, o)) : [];
  if (own === undefined) {
    rest.forEach(overreach);
    return [{ paths: [`${prefix}*`], notPaths }];
  }
  if (!param) return [{ paths: own, notPaths }];
  rest.forEach(otherCharacters);
  return [
    { paths: own, notPaths },
    { paths: [`${prefix}*`], notPaths: [`${prefix}{**}`, ...exemptAnyCharacter] },
  ];
}

/**
 * Whether a more specific path group takes the requests of the route's methods only with
 * requirements that include the route's: a route of the group takes each such method, needs at
 * least what the route needs (requirementsMet), and exempts CORS preflights only where the route
 * does too. Otherwise the route's policy would refuse some of them (a 403 where the gateway gives
 * the group's route, or its 405), so its rules must leave the group's paths out.
 */
function unaffected(route: M.Route, group: readonly M.Route[]): boolean {
  const meets = (r: M.Route) => requirementsMet(route, r) && (!r.cors || route.cors !== undefined);
  if (route.methods.length === 0) return group.some((r) => r.methods.length === 0 && meets(r));
  return route.methods.every((m) => group.some((r) => (r.methods.length === 0 || r.methods.includes(m)) && meets(r)));
}

/** Audiences and scopes with a leading or trailing "*": an Istio match would read it as a wildcard. */
/**
 * The claims the gateway reads scopes from, each a space-delimited string or an array: `scope`
 * (RFC 8693), `scp` (Azure AD, Okta) and `permissions` (Auth0). Istio splits only `scope` and
 * `permission` by itself; the jwtRule lists these so that a string of several is split too.
 */
const SCOPE_CLAIMS = ['scope', 'scp', 'permissions'] as const;

function inexpressibleClaims(auth: M.JwtAuthentication): string[] {
  return [...auth.audiences, ...auth.requiredScopes].filter((v) => v.startsWith('*') || v.endsWith('*'));
}

function authzRules(route: M.Route, operations: readonly AuthzOperation[]): AuthzRule[] {
  // A route with CORS takes OPTIONS beyond its methods only as preflights (matches), which
  // Envoy's CORS filter answers; where it takes plain OPTIONS, those need its requirements
  // (preflightExempt).
  const methods = route.methods;
  const rules: AuthzRule[] = [];
  const auth = route.auth;
  if (auth?.kind === 'jwt') {
    // No token, or a token of another issuer: denied.
    rules.push({ source: { key: 'notRequestPrincipals', values: [`${auth.issuer}/*`] }, operations, methods, when: [] });
    // A principal is `<iss>/<sub>`, so `<issuer>/*` also takes the tokens of any issuer under the
    // issuer's URL (Okta's https://org and https://org/oauth2/default) that some jwtRule of the
    // ingress accepts: the issuer itself is matched exactly, as the gateway does.
    rules.push({ operations, methods, when: [{ key: 'request.auth.claims[iss]', notValues: [auth.issuer] }] });
    // A value Istio would read as a wildcard closes the route rather than open it to other tokens.
    if (inexpressibleClaims(auth).length > 0) rules.push({ operations, methods, when: [] });
    if (auth.audiences.length > 0) rules.push({ operations, methods, when: [{ key: 'request.auth.audiences', notValues: auth.audiences }] });
    // The gateway takes a scope from any of the claims that carry them (auth.ts scopesOf):
    // denied only when none has it.
    for (const scope of auth.requiredScopes) rules.push({ operations, methods, when: SCOPE_CLAIMS.map((claim) => ({ key: `request.auth.claims[${claim}]`, notValues: [scope] })) });
  }
  if (auth?.kind === 'apiKey') rules.push({ operations, methods, when: [{ key: `request.headers[${auth.keyHeader.toLowerCase()}]`, notValues: ['*'] }] });
  const ip = route.ipRestriction;
  if (ip && ip.allow.length > 0) rules.push({ source: { key: 'notRemoteIpBlocks', values: ip.allow }, operations, methods, when: [] });
  if (ip && ip.deny.length > 0) rules.push({ source: { key: 'remoteIpBlocks', values: ip.deny }, operations, methods, when: [] });
  return route.cors ? rules.flatMap(preflightExempt) : rules;
}

/**
 * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) carries no
 * credentials, and the gateway answers it before authentication and IP checks (Kong's cors
 * plugin answers it before jwt and key-auth run). Envoy runs the RBAC filter before the CORS filter,
 * so a DENY rule that covers OPTIONS would refuse every preflight of the route and break it for
 * browsers. A rule of a route with CORS therefore covers its methods other than OPTIONS, and, where
 * the route takes OPTIONS (it lists it, or has no methods), OPTIONS only when it is no preflight
 * (Origin or Access-Control-Request-Method absent), so a plain OPTIONS request still needs the
 * route's credentials. Elsewhere a plain OPTIONS never reaches the route (matches).
 */
function preflightExempt(rule: AuthzRule): AuthzRule[] {
  const others = rule.methods.filter((m) => m !== 'OPTIONS');
  const main: AuthzRule[] = rule.methods.length === 0 ? [{ ...rule, notMethods: ['OPTIONS'] }] : others.length > 0 ? [{ ...rule, methods: others }] : [];
  const options = rule.methods.length === 0 || rule.methods.includes('OPTIONS');
  if (!options) return main;
  const absent = (header: string) => ({ ...rule, methods: ['OPTIONS'], when: [...rule.when, { key: `request.headers[${header}]`, notValues: ['*'] }] });
  return [...main, absent('origin'), absent('access-control-request-method')];
}

/** Requirements of a route's policy that another route's requests would not meet. */
function requirementsMet(of: M.Route, by: M.Route): boolean {
  const a = of.auth;
  const b = by.auth;
  if (a?.kind === 'jwt') {
    if (b?.kind !== 'jwt' || b.issuer !== a.issuer) return false;
    if (a.audiences.length > 0 && (b.audiences.length === 0 || !b.audiences.every((x) => a.audiences.includes(x)))) return false;
    if (!a.requiredScopes.every((s) => b.requiredScopes.includes(s))) return false;
  }
  if (a?.kind === 'apiKey' && (b?.kind !== 'apiKey' || b.keyHeader.toLowerCase() !== a.keyHeader.toLowerCase())) return false;
  const ia = of.ipRestriction;
  if (ia) {
    const ib = by.ipRestriction;
    const sameList = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v) => y.includes(v));
    if (!ib || !sameList(ia.allow, ib.allow) || !ia.deny.every((d) => ib.deny.includes(d))) return false;
  }
  return true;
}

/**
 * The routes whose literal prefix meets a given prefix (one starts with the other), without
 * comparing every pair: the prefixes that the given one starts with are looked up by length,
 * those that start with it are a range of the sorted list.
 */
function prefixIndex(routes: readonly M.Route[]): (prefix: string) => M.Route[] {
  const byPrefix = new Map<string, M.Route[]>();
  for (const r of routes) {
    const p = literalPrefix(r.path);
    const list = byPrefix.get(p);
    if (list) list.push(r);
    else byPrefix.set(p, [r]);
  }
  const sortedPrefixes = [...byPrefix.keys()].sort(compareStrings);
  return (prefix) => {
    const found = new Set<M.Route>();
    for (let n = 0; n < prefix.length; n++) for (const r of byPrefix.get(prefix.slice(0, n)) ?? []) found.add(r);
    let lo = 0;
    let hi = sortedPrefixes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sortedPrefixes[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < sortedPrefixes.length && sortedPrefixes[i]!.startsWith(prefix); i++) for (const r of byPrefix.get(sortedPrefixes[i]!)!) found.add(r);
    return [...found];
  };
}

function noteRoute(route: M.Route, notes: Limitation[]): void {
  const subject = `route ${route.name}`;
  const add = (feature: string, detail: string) => notes.push({ subject, feature, detail });
  if (route.auth?.kind === 'apiKey') add('agw:ApiKey', 'Istio cannot check an API key against the consumers\' keys; the ingress only requires the key header to be present (use the gwgen gateway, or an ext_authz provider, to verify keys)');
  // Envoy answers a preflight it refuses with 200 and no CORS headers, or, for a method the policy
  // lacks, with the allowed methods; the gateway answers 403. Browsers refuse the request either way.
  if (route.cors) add('agw:CorsPolicy (refused preflights)', "The ingress answers a preflight from an origin the policy does not allow with 200 and no Access-Control-Allow-Origin (unmatchedPreflights IGNORE), and one that asks for a method the policy lacks with 200 and the allowed methods, where the gateway answers 403 (a preflight for a method no route of the path takes gets the path's 405); a browser refuses the request after either answer, except one whose method is GET, HEAD or POST, which browsers send whatever Access-Control-Allow-Methods says (the ingress lets such a preflighted request through, the gateway does not); no such preflight reaches the backend");
  if (route.costMultiplier !== 1) add('agw:costMultiplier', 'Istio rate limits count requests; a per-route cost is not expressible');
  // Envoy marks shadow traffic in the Host itself; the gateway marks it with X-Gateway-Mirror.
  if (route.mirror)
    add('agw:hasTrafficMirror (Host of the copy)', 'Envoy sends the mirrored copy with "-shadow" appended to its Host (api.example.com becomes api.example.com-shadow; a route to a host outside the cluster has its Host rewritten to that host first), where the gwgen gateway sends the copy with the mirror service\'s own address as Host (as it sends every backend), the client\'s Host as X-Forwarded-Host, and an X-Gateway-Mirror: 1 header. A mirror target that routes or checks by Host (a virtual-hosted API, an ingress or a Host allow list in front of it) must accept the -shadow name');
  // remoteIpBlocks is Envoy's idea of the client: the peer, or an X-Forwarded-For entry when the
  // gateway trusts that many proxies. Wrong topology settings silently widen an allow list.
  if (route.ipRestriction)
    add('agw:hasIpRestriction behind a load balancer', "remoteIpBlocks matches the client address Envoy derives: the connection's peer, or the X-Forwarded-For entry numTrustedProxies hops back (meshConfig.defaultConfig.gatewayTopology, or the proxy.istio.io/config annotation of the ingress gateway). Behind an L7 load balancer set numTrustedProxies to the number of proxies in front; behind an L4 one keep the client's address (externalTrafficPolicy: Local on the ingress gateway's Service, or PROXY protocol). Otherwise the rules see the balancer's or the node's address, and an allow list that contains it admits everyone");
}

/** Quota tiers are per consumer, and Istio has no consumers. */
export function consumerNotes(model: M.GatewayModel): Limitation[] {
  return model.consumers
    .filter((c) => c.quotaTier)
    .map((c) => ({ subject: `consumer ${c.name}`, feature: 'agw:hasQuotaTier', detail: 'Istio has no consumers: per-consumer quota tiers and monthly quotas are not expressible' }));
}
