/**
 * GatewayModel: what the queries extract and every target renders from. All defaults of
 * vocabulary.md are applied here once, so no template decides a default of its own.
 * Lists are sorted by name (or id) so that output never depends on triple order.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

export interface GatewayModel {
  readonly gateway: Gateway;
  /** Sorted by name. */
  readonly routes: readonly Route[];
  /** Sorted by name. */
  readonly services: readonly BackendService[];
  /** Sorted by name. */
  readonly consumers: readonly Consumer[];
}

export interface Gateway {
  readonly id: string;
  readonly name: string;
  /** @default 8080 */
  readonly listenPort: number;
  readonly cors?: CorsPolicy;
  readonly tracing?: DistributedTracing;
  readonly mesh?: ServiceMesh;
}

export interface Route {
  readonly id: string;
  readonly name: string;
  readonly path: string;
  /** Declared methods, sorted; empty = every method. */
  readonly methods: readonly HttpMethod[];
  /** serviceName of the backend; absent when weighted splits decide. */
  readonly service?: string;
  /** @default false */
  readonly stripPath: boolean;
  readonly timeoutSeconds?: number;
  /** @default false */
  readonly websocket: boolean;
  /** Quota cost of one request. @default 1 */
  readonly costMultiplier: number;
  readonly rateLimit?: RateLimiter;
  readonly circuitBreaker?: CircuitBreaker;
  readonly retry?: RetryPolicy;
  /** Weighted splits first (by service name), then header-matched ones. */
  readonly splits: readonly TrafficSplit[];
  readonly mirror?: TrafficMirror;
  readonly auth?: Authentication;
  readonly ipRestriction?: IpRestriction;
  /** The route's own CORS policy, else the gateway's. */
  readonly cors?: CorsPolicy;
}

export type RateWindow = 'second' | 'minute' | 'hour' | 'day';
export const RATE_WINDOWS: readonly RateWindow[] = ['second', 'minute', 'hour', 'day'];
export const WINDOW_SECONDS: Readonly<Record<RateWindow, number>> = { second: 1, minute: 60, hour: 3600, day: 86400 };

/** Limits per window; at least one is present. */
export type RateLimits = Readonly<Partial<Record<RateWindow, number>>>;

export interface RateLimiter {
  readonly id: string;
  readonly limits: RateLimits;
  /** Token-bucket capacity. @default the per-second limit, else the shortest window's limit */
  readonly burstSize: number;
  /** @default "ip" */
  readonly limitBy: 'ip' | 'consumer' | 'global';
  /** @default "local" */
  readonly policy: 'local' | 'redis';
}

export interface CircuitBreaker {
  readonly id: string;
  readonly failureThreshold: number;
  readonly timeoutSeconds: number;
  /** @default 1 */
  readonly halfOpenRequests: number;
}

export type RetryCondition = '5xx' | 'gateway-error' | 'connect-failure' | 'reset';

export interface RetryPolicy {
  readonly id: string;
  readonly attempts: number;
  /** @default 2 */
  readonly backoffMultiplier: number;
  /** @default 100 */
  readonly initialDelayMs: number;
  /** Sorted. @default ["5xx", "connect-failure"] */
  readonly retryOn: readonly RetryCondition[];
  readonly perTryTimeoutSeconds?: number;
}

export interface TrafficSplit {
  readonly id: string;
  readonly service: string;
  /** Percent of the route's traffic; absent on header-matched splits. */
  readonly weight?: number;
  readonly matchHeader?: { readonly name: string; readonly value: string };
}

export interface TrafficMirror {
  readonly id: string;
  readonly service: string;
  readonly percent: number;
}

export type Authentication = JwtAuthentication | ApiKeyAuthentication;

export interface JwtAuthentication {
  readonly kind: 'jwt';
  readonly id: string;
  readonly issuer: string;
  /** Sorted. */
  readonly audiences: readonly string[];
  readonly jwksUri?: string;
  readonly secretEnv?: string;
  /** Sorted. @default RS256 with a jwksUri, HS256 with a secretEnv, or both */
  readonly algorithms: readonly ('RS256' | 'ES256' | 'HS256')[];
  /** Sorted. */
  readonly requiredScopes: readonly string[];
}

export interface ApiKeyAuthentication {
  readonly kind: 'apiKey';
  readonly id: string;
  /** @default "X-API-Key" */
  readonly keyHeader: string;
}

export interface IpRestriction {
  readonly id: string;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

export interface CorsPolicy {
  readonly id: string;
  readonly origins: readonly string[];
  /** Empty = the methods of the route. */
  readonly methods: readonly HttpMethod[];
  /** Empty = the headers a preflight asks for (no agw:allowHeader, or "*"). */
  readonly headers: readonly string[];
  /** @default false */
  readonly credentials: boolean;
  readonly maxAgeSeconds?: number;
}

export interface BackendService {
  readonly id: string;
  readonly name: string;
  /** @default the serviceName */
  readonly host: string;
  /** @default 80 */
  readonly port: number;
  /** @default "http" */
  readonly protocol: 'http' | 'https' | 'grpc';
  /** @default "default" */
  readonly namespace: string;
  /** Explicit targets, sorted by host and port; empty = the service's own host:port. */
  readonly instances: readonly ServiceInstance[];
  /** @default "round-robin" */
  readonly loadBalancing: 'round-robin' | 'least-connections' | 'random' | 'consistent-hash';
  readonly healthCheck?: HealthCheck;
  readonly mtls?: MutualTls;
  readonly version?: string;
  /** @default 2 */
  readonly replicas: number;
  readonly image?: string;
}

export interface ServiceInstance {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** @default 100 */
  readonly weight: number;
}

export interface HealthCheck {
  readonly id: string;
  /** @default "/healthz" */
  readonly path: string;
  /** @default 10 */
  readonly intervalSeconds: number;
  /** @default 1 */
  readonly successThreshold: number;
  /** @default 3 */
  readonly failureThreshold: number;
}

export interface MutualTls {
  readonly id: string;
  readonly mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE';
  readonly certificate?: Certificate;
}

export interface Certificate {
  readonly id: string;
  /** ISO 8601 instant as written in the model. */
  readonly expiry?: string;
  readonly rotationPeriodSeconds?: number;
}

export interface Consumer {
  readonly id: string;
  readonly name: string;
  readonly apiKeyEnv?: string;
  readonly quotaTier?: QuotaTier;
}

export interface QuotaTier {
  readonly id: string;
  /** @default the IRI's local name */
  readonly name: string;
  readonly limits: RateLimits;
  /** Absent = unlimited. */
  readonly monthlyQuota?: number;
}

export interface ServiceMesh {
  readonly id: string;
  readonly type: 'istio' | 'linkerd' | 'consul' | 'kuma';
  /** @default "default" */
  readonly namespace: string;
  readonly mtls?: MutualTls;
}

export interface DistributedTracing {
  readonly id: string;
  readonly samplingRate: number;
  readonly collectorEndpoint?: string;
}
