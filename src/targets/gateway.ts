import type * as M from '../model/types.js';
import { HTTP_METHODS, RATE_WINDOWS, WINDOW_SECONDS } from '../model/types.js';
import { acceptsMtls, MAX_AGE_SECONDS, mtlsModeOf } from './mesh-common.js';
import type { PlannedFile, Target } from './types.js';

/**
 * The generated TypeScript gateway (DIR/gateway/): a Node reverse proxy on node:http and undici
 * pools that enforces every policy of the model. The model-specific part is data, config.json,
 * written by `gatewayConfig` below (the same text as the Kubernetes ConfigMap the gateway reads
 * at GWGEN_CONFIG); the runtime modules and tests are static templates, so the runtime is the
 * same, tested code for every model. Tests inside the project (test/*.test.ts) read the same
 * config and check each route's policies against mock backends.
 */

/** Runtime modules copied from templates/gateway/ as they are (all TypeScript). */
export const GATEWAY_STATIC_FILES: readonly string[] = [
  'src/auth.ts',
  'src/balancer.ts',
  'src/breaker.ts',
  'src/config.ts',
  'src/cors.ts',
  'src/env.ts',
  'src/h2upstream.ts',
  'src/hooks.ts',
  'src/ip.ts',
  'src/log.ts',
  'src/main.ts',
  'src/metrics.ts',
  'src/proxy.ts',
  'src/ratelimit.ts',
  'src/replay.ts',
  'src/respond.ts',
  'src/router.ts',
  'src/server.ts',
  'src/timers.ts',
  'src/tracing.ts',
  'src/types.ts',
  'src/uri.ts',
  'src/websocket.ts',
  'test/harness.ts',
  'test/routes.test.ts',
  'test/runtime.test.ts',
  'tsconfig.json',
];

export const gatewayTarget: Target = {
  name: 'gateway',
  description: 'A TypeScript reverse proxy (node:http + undici) enforcing every policy of the model: gateway/',
  applies: (model) => model.routes.length > 0,
  view: (model) => gatewayView(model),
  plan(model): PlannedFile[] {
    const view = gatewayView(model);
    return [
      { path: 'gateway/package.json', template: 'gateway/package.json.hbs', context: view, format: 'template' as const },
      { path: 'gateway/README.md', template: 'gateway/README.md.hbs', context: view },
      { path: 'gateway/.gitignore', template: 'gateway/gitignore.hbs', context: view },
      { path: 'gateway/config.json', template: 'gateway/config.json.hbs', context: view, format: 'verbatim' as const },
      ...GATEWAY_STATIC_FILES.map((file) => ({ path: `gateway/${file}`, template: `gateway/${file}.hbs`, context: view, format: 'template' as const })),
    ];
  },
};

function gatewayView(model: M.GatewayModel) {
  const config = gatewayConfig(model);
  return { name: model.gateway.name, config, notes: gatewayNotes(model), routes: routeSummaries(config.routes), env: envVars(model) };
}

// --- the config the runtime reads (mirrors templates/gateway/src/types.ts) ---------------------

export interface WindowLimit {
  readonly window: M.RateWindow;
  readonly limit: number;
  readonly seconds: number;
  /** Token-bucket capacity: the burst size on the shortest window, else the limit. */
  readonly capacity: number;
}

export function envName(serviceName: string): string {
  return `GW_UPSTREAM_${serviceName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function windows(limits: M.RateLimits, burst?: number): WindowLimit[] {
  const present = RATE_WINDOWS.filter((w) => limits[w] !== undefined);
  return present.map((w, i) => ({ window: w, limit: limits[w]!, seconds: WINDOW_SECONDS[w], capacity: i === 0 && burst !== undefined ? Math.max(burst, 1) : limits[w]! }));
}

/**
 * Node's longest timer, 2^31 - 1 ms (about 24.8 days; MAX_TIMER_MS of the gateway's
 * src/timers.ts): a longer delay would fire after 1 ms. Every duration in config.json is at most
 * this, and the project's README names the model's values that are longer (longDurations).
 */
export const GATEWAY_MAX_MS = 2_147_483_647;

/** Seconds → whole milliseconds for config.json: at least 1, at most GATEWAY_MAX_MS. */
const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : Math.min(GATEWAY_MAX_MS, Math.max(1, Math.round(seconds * 1000))));

/** The model's durations that config.json shortens to GATEWAY_MAX_MS, as "property of route/service name". */
function longDurations(model: M.GatewayModel): string[] {
  const long: string[] = [];
  const check = (seconds: number | undefined, what: string) => {
    if (seconds !== undefined && Math.round(seconds * 1000) > GATEWAY_MAX_MS) long.push(what);
  };
  for (const s of model.services) check(s.healthCheck?.intervalSeconds, `agw:healthCheckInterval of service ${s.name}`);
  for (const r of model.routes) {
    check(r.timeoutSeconds, `agw:timeoutSeconds of route ${r.name}`);
    check(r.circuitBreaker?.timeoutSeconds, `agw:timeoutSeconds of the circuit breaker of route ${r.name}`);
    check(r.retry?.perTryTimeoutSeconds, `agw:perTryTimeoutSeconds of route ${r.name}`);
    check(r.retry && r.retry.initialDelayMs / 1000, `agw:initialDelayMs of route ${r.name}`);
  }
  return long;
}

/** Routes whose agw:maxAgeSeconds is written as MAX_AGE_SECONDS. */
function longMaxAges(model: M.GatewayModel): string[] {
  return model.routes.filter((r) => r.cors?.maxAgeSeconds !== undefined && r.cors.maxAgeSeconds > MAX_AGE_SECONDS).map((r) => r.name);
}

/**
 * A CORS policy as the runtime reads it. A policy without agw:allowMethod allows what the route
 * takes (every method for a route without agw:httpMethod, or for the gateway's own answers) and OPTIONS.
 */
function corsConfig(cors: M.CorsPolicy, methods: readonly string[]) {
  return {
    origins: [...cors.origins],
    methods: cors.methods.length > 0 ? [...cors.methods] : [...new Set([...(methods.length > 0 ? methods : HTTP_METHODS), 'OPTIONS'])],
    headers: [...cors.headers],
    credentials: cors.credentials,
    ...(cors.maxAgeSeconds !== undefined ? { maxAgeSeconds: Math.min(MAX_AGE_SECONDS, cors.maxAgeSeconds) } : {}),
  };
}

export function gatewayConfig(model: M.GatewayModel) {
  const services = model.services.map((s) => {
    const scheme = s.protocol === 'https' ? 'https' : 'http';
    const mode = mtlsModeOf(s, model);
    const instances = s.instances.length > 0 ? s.instances : [{ host: s.host, port: s.port, weight: 100 }];
    return {
      name: s.name,
      env: envName(s.name),
      protocol: s.protocol,
      loadBalancing: s.loadBalancing,
      ...(mode !== undefined ? { mtls: mode } : {}),
      instances: instances.map((i) => ({ url: `${scheme}://${i.host.includes(':') ? `[${i.host}]` : i.host}:${i.port}`, weight: i.weight })),
      ...(s.healthCheck
        ? { healthCheck: { path: s.healthCheck.path, intervalMs: ms(s.healthCheck.intervalSeconds)!, successThreshold: s.healthCheck.successThreshold, failureThreshold: s.healthCheck.failureThreshold } }
        : {}),
    };
  });
  const routes = model.routes.map((r) => ({
    name: r.name,
    path: r.path,
    methods: r.methods.length > 0 ? [...r.methods] : [...HTTP_METHODS],
    ...(r.methods.length === 0 ? { anyMethod: true } : {}),
    ...(r.service !== undefined ? { service: r.service } : {}),
    stripPath: r.stripPath,
    ...(r.timeoutSeconds !== undefined ? { timeoutMs: ms(r.timeoutSeconds) } : {}),
    websocket: r.websocket,
    cost: r.costMultiplier,
    ...(r.rateLimit
      ? { rateLimit: { ...limiterId(r.rateLimit.id), windows: windows(r.rateLimit.limits, r.rateLimit.burstSize), limitBy: r.rateLimit.limitBy, policy: r.rateLimit.policy } }
      : {}),
    ...(r.circuitBreaker
      ? { circuitBreaker: { failureThreshold: r.circuitBreaker.failureThreshold, openMs: ms(r.circuitBreaker.timeoutSeconds)!, halfOpenRequests: r.circuitBreaker.halfOpenRequests } }
      : {}),
    ...(r.retry
      ? {
          retry: {
            attempts: r.retry.attempts,
            backoffMultiplier: r.retry.backoffMultiplier,
            initialDelayMs: Math.min(GATEWAY_MAX_MS, r.retry.initialDelayMs),
            retryOn: [...r.retry.retryOn],
            ...(r.retry.perTryTimeoutSeconds !== undefined ? { perTryTimeoutMs: ms(r.retry.perTryTimeoutSeconds) } : {}),
          },
        }
      : {}),
    splits: r.splits.map((s) => ({ service: s.service, ...(s.weight !== undefined ? { weight: s.weight } : {}), ...(s.matchHeader ? { matchHeader: { name: s.matchHeader.name.toLowerCase(), value: s.matchHeader.value } } : {}) })),
    ...(r.mirror ? { mirror: { service: r.mirror.service, percent: r.mirror.percent } } : {}),
    ...(r.auth
      ? {
          auth:
            r.auth.kind === 'jwt'
              ? {
                  kind: 'jwt' as const,
                  issuer: r.auth.issuer,
                  audiences: [...r.auth.audiences],
                  ...(r.auth.jwksUri ? { jwksUri: r.auth.jwksUri } : {}),
                  ...(r.auth.secretEnv ? { secretEnv: r.auth.secretEnv } : {}),
                  algorithms: [...r.auth.algorithms],
                  requiredScopes: [...r.auth.requiredScopes],
                }
              : { kind: 'apiKey' as const, header: r.auth.keyHeader.toLowerCase() },
        }
      : {}),
    ...(r.ipRestriction ? { ipRestriction: { allow: [...r.ipRestriction.allow], deny: [...r.ipRestriction.deny] } } : {}),
    ...(r.cors ? { cors: corsConfig(r.cors, r.methods) } : {}),
  }));
  const consumers = model.consumers.map((c) => ({
    name: c.name,
    ...(c.apiKeyEnv ? { apiKeyEnv: c.apiKeyEnv } : {}),
    ...(c.quotaTier ? { tier: { name: c.quotaTier.name, windows: windows(c.quotaTier.limits), ...(c.quotaTier.monthlyQuota !== undefined ? { monthlyQuota: c.quotaTier.monthlyQuota } : {}) } } : {}),
  }));
  return {
    // CONFIG_FORMAT of templates/gateway/src/config.ts: the runtime refuses a config of another format.
    format: 1,
    gateway: {
      name: model.gateway.name,
      listenPort: model.gateway.listenPort,
      // The gateway's own 404s (no route, so no route's policy) are readable by the origins of
      // the gateway-wide policy; a policy without methods lists them all.
      ...(model.gateway.cors ? { cors: corsConfig(model.gateway.cors, []) } : {}),
    },
    ...(model.gateway.tracing
      ? {
          tracing: {
            samplingRate: model.gateway.tracing.samplingRate,
            ...(model.gateway.tracing.collectorEndpoint ? { collectorEndpoint: model.gateway.tracing.collectorEndpoint } : {}),
          },
        }
      : {}),
    routes,
    services,
    consumers,
  };
}

/** One line per route for the project's README. */
function routeSummaries(routes: ReturnType<typeof gatewayConfig>['routes']) {
  return routes.map((r) => {
    const policies = [
      r.auth ? (r.auth.kind === 'jwt' ? `JWT ${r.auth.algorithms.join('/')}${r.auth.requiredScopes.length ? ` (scope ${r.auth.requiredScopes.join(', ')})` : ''}` : `API key in ${r.auth.header}`) : 'public',
      ...(r.ipRestriction ? ['IP restriction'] : []),
      ...(r.rateLimit ? [`rate limit ${r.rateLimit.windows.map((w) => `${w.limit}/${w.window}${w.capacity > w.limit ? ` (burst ${w.capacity})` : ''}`).join(', ')} by ${r.rateLimit.limitBy} (${r.rateLimit.policy})`] : []),
      ...(r.cost !== 1 ? [`quota cost ${r.cost}`] : []),
      ...(r.circuitBreaker ? [`circuit breaker after ${r.circuitBreaker.failureThreshold} failures`] : []),
      ...(r.retry ? [`${r.retry.attempts} ${r.retry.attempts === 1 ? 'retry' : 'retries'} on ${r.retry.retryOn.join(', ')}${r.retry.perTryTimeoutMs !== undefined ? `, ${r.retry.perTryTimeoutMs / 1000} s per try` : ''}`] : []),
      ...(r.timeoutMs !== undefined ? [`timeout ${r.timeoutMs / 1000} s`] : []),
      ...(r.cors ? ['CORS'] : []),
      ...(r.mirror ? [`mirror ${r.mirror.percent} % to ${r.mirror.service}`] : []),
      ...(r.websocket ? ['WebSocket'] : []),
      ...(r.stripPath ? ['strip path'] : []),
    ];
    const backends = r.splits.length > 0 ? r.splits.map((s) => (s.matchHeader ? `${s.service} (${s.matchHeader.name}: ${s.matchHeader.value})` : `${s.service} ${s.weight} %`)) : [];
    if (r.service !== undefined) backends.unshift(r.service);
    return { name: r.name, path: r.path, methods: r.methods.join(', '), backends: backends.join(', '), policies: policies.join('; ') };
  });
}

/**
 * The limiter's IRI local name, for a reader of config.json to find it in the model. A blank
 * node has none: its label is the parser's, shifting as the model grows, so it is left out.
 */
function limiterId(id: string): { id?: string } {
  // Model ids are IRIs (always with a scheme's ":") or blank-node labels (never with one).
  return id.includes(':') ? { id: localName(id) } : {};
}

function localName(iri: string): string {
  return iri.replace(/^.*[#/:]/, '') || iri;
}

/** Every environment variable the generated gateway reads for this model, for its README. */
function envVars(model: M.GatewayModel): { name: string; meaning: string }[] {
  const vars = new Map<string, string>();
  for (const s of model.services) vars.set(envName(s.name), `addresses of service ${s.name}, instead of the model's: a comma list of http(s)://host:port, each with ;weight=N (0..100) where the weights differ`);
  for (const r of model.routes) if (r.auth?.kind === 'jwt' && r.auth.secretEnv) vars.set(r.auth.secretEnv, `HS256 secret of issuer ${r.auth.issuer}`);
  for (const c of model.consumers) if (c.apiKeyEnv) vars.set(c.apiKeyEnv, `API key of consumer ${c.name}`);
  if (model.services.some((s) => acceptsMtls(s, model))) {
    vars.set('GW_MTLS_CERT', 'the client certificate the gateway presents to services whose mTLS mode is STRICT or PERMISSIVE, over https: PEM text or the path of a PEM file (unset: mTLS is left to a mesh sidecar)');
    vars.set('GW_MTLS_KEY', 'the key of GW_MTLS_CERT (PEM text or file)');
    vars.set('GW_MTLS_CA', "the CA bundle the certificates of STRICT and PERMISSIVE services are checked against, PEM text or file (default: Node's CAs)");
  }
  // Quota tiers count in Redis whenever REDIS_URL is set (server.ts), whatever the limiters' policy.
  const redisLimiters = model.routes.some((r) => r.rateLimit?.policy === 'redis');
  const tiers = model.consumers.some((c) => c.quotaTier);
  if (redisLimiters) vars.set('REDIS_URL', `Redis for the rate limiters with policy "redis"${tiers ? ' and the quota tiers' : ''}; without it they count locally`);
  else if (tiers) vars.set('REDIS_URL', 'Redis for the quota tiers, shared by every replica (optional); without it each replica counts them on its own');
  return [...vars].map(([name, meaning]) => ({ name, meaning })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What the generated gateway does differently from what the model literally says. */
function gatewayNotes(model: M.GatewayModel): string[] {
  const notes: string[] = [];
  const long = longDurations(model);
  if (long.length > 0) {
    notes.push(`Node's timers wait at most ${GATEWAY_MAX_MS} ms (about 24.8 days), and the gateway takes each longer duration of the model as that long: ${long.join(', ')}.`);
  }
  const maxAges = longMaxAges(model);
  if (maxAges.length > 0) {
    notes.push(`Caches read an Access-Control-Max-Age of at most ${MAX_AGE_SECONDS} s (RFC 9111 §1.2.2), and the gateway sends that for the longer agw:maxAgeSeconds of ${maxAges.length === 1 ? 'route' : 'routes'} ${maxAges.join(', ')}.`);
  }
  const grpc = model.services.filter((s) => s.protocol === 'grpc').map((s) => s.name);
  if (grpc.length > 0) {
    notes.push(`${grpc.length === 1 ? 'Service' : 'Services'} ${grpc.join(', ')} ${grpc.length === 1 ? 'speaks' : 'speak'} gRPC: the gateway takes gRPC calls over HTTP/2 without TLS (h2c, prior knowledge) on its own port beside HTTP/1.1, and reaches ${grpc.length === 1 ? 'it' : 'them'} over HTTP/2 (h2c to an http:// address, TLS to https://). Answers the gateway makes itself reach gRPC clients as the HTTP status's gRPC code (401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429, 502, 503 and 504 UNAVAILABLE). gRPC requests carry no length, so they are streamed and never retried.`);
  }
  // The mode that applies is the service's own, else the mesh's.
  const byMode = (mode: M.MutualTls['mode']) => model.services.filter((s) => mtlsModeOf(s, model) === mode).map((s) => s.name);
  const services = (names: readonly string[], one: string, many: string) => `${names.length === 1 ? 'Service' : 'Services'} ${names.join(', ')} ${names.length === 1 ? one : many}`;
  const strict = byMode('STRICT');
  if (strict.length > 0) notes.push(`${services(strict, 'requires', 'require')} mTLS (agw:hasMutualTLS STRICT): the gateway presents the client certificate of GW_MTLS_CERT and GW_MTLS_KEY over https, and refuses to start if such a service has a plain-HTTP address; without a certificate it warns at start and leaves mTLS to a mesh sidecar.`);
  for (const r of model.routes.filter((x) => x.path.replace(/\/+$/, '') === '/healthz' || x.path.replace(/\/+$/, '') === '/metrics')) {
    const own = r.path.replace(/\/+$/, '');
    notes.push(`Route ${r.name} has the path ${r.path}: GET and HEAD of exactly ${own} are the gateway's own ${own === '/metrics' ? 'metrics (Prometheus text)' : 'health check'}, which the route does not get; other methods and longer paths (${own}/…) reach the route.`);
  }
  const certified = model.services.filter((s) => (s.mtls ?? model.gateway.mesh?.mtls)?.certificate !== undefined).map((s) => s.name);
  if (certified.length > 0) notes.push(`${services(certified, 'has', 'have')} an agw:Certificate: the gateway neither tracks its expiry nor rotates it; the client certificate it presents is the one GW_MTLS_CERT holds at start, renewed by whoever sets that variable (and the process restarted); gwgen audit warns of a certificate about to expire.`);
  const permissive = byMode('PERMISSIVE');
  if (permissive.length > 0) notes.push(`${services(permissive, 'accepts', 'accept')} mTLS or plain text (agw:hasMutualTLS PERMISSIVE): the gateway presents the client certificate of GW_MTLS_CERT and GW_MTLS_KEY where the address is https, and connects in plain text to an http address.`);
  return notes;
}
