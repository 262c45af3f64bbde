import { createHash } from 'node:crypto';
import type * as M from '../model/types.js';
import { compareStrings } from '../order.js';
import type { Limitation } from './types.js';

/**
 * Helpers shared by the Istio and Kubernetes targets: resource names, labels, cluster host
 * names, durations and the order in which routes are matched.
 */

/** The longest Kubernetes name gwgen writes (a DNS-1123 label, which also fits every label value). */
export const MAX_NAME = 63;

/**
 * A DNS-1123 label from parts joined with "-". Parts are DNS labels already (route, service and
 * gateway names); a longer result keeps its first 56 characters and ends in a hash of the whole,
 * so it stays unique and is the same on every run.
 */
export function dnsName(...parts: readonly string[]): string {
  const whole = parts.filter((p) => p !== '').join('-');
  if (whole.length <= MAX_NAME) return whole;
  const hash = createHash('sha256').update(whole).digest('hex').slice(0, 6);
  return `${whole.slice(0, MAX_NAME - 7).replace(/-+$/, '')}-${hash}`;
}

/**
 * A Kubernetes label value (≤ 63 characters of [A-Za-z0-9._-], alphanumeric at both ends) for a
 * free-text model value such as agw:version. Returns the value unchanged when it already is one.
 */
export function labelValue(text: string): string {
  if (/^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/.test(text)) return text;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 6);
  const cleaned = text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, MAX_NAME - 7).replace(/[^A-Za-z0-9]+$/, '');
  return cleaned === '' ? `v-${hash}` : `${cleaned}-${hash}`;
}

/** A DNS label for a free-text value (an Istio subset name from agw:version). */
export function dnsLabelOf(text: string): string {
  const lower = text.toLowerCase();
  if (/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(lower) && lower === text) return text;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 6);
  const cleaned = lower.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, MAX_NAME - 7).replace(/-+$/, '');
  return cleaned === '' ? `v-${hash}` : `${cleaned}-${hash}`;
}

export interface Label {
  readonly key: string;
  readonly value: string;
}

/** The ports Istio's Envoy itself listens on in every pod it runs in, the ingress gateway's included ("Ports used by Istio"). */
export const ISTIO_PROXY_PORTS: readonly number[] = [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090];

/** The labels every generated resource carries, in a fixed order. */
export function standardLabels(gateway: string, name: string, extra: readonly Label[] = []): Label[] {
  return [
    { key: 'app.kubernetes.io/managed-by', value: 'gwgen' },
    { key: 'app.kubernetes.io/name', value: labelValue(name) },
    { key: 'app.kubernetes.io/part-of', value: labelValue(gateway) },
    ...extra,
  ];
}

/**
 * The name of the Kubernetes Service for a gwgen name (a DNS-1123 label). A Service name is a
 * DNS-1035 label, which starts with a letter: a name starting with a digit ("9lives") gets the
 * prefix "svc-".
 */
export function serviceResourceName(name: string): string {
  return /^[a-z]/.test(name) ? name : dnsName('svc', name);
}

/**
 * The names of the gateway's own workloads in its Kubernetes namespace (named after the gateway):
 * the gateway's name and "redis", unless that name is taken already, by a backend gwgen deploys
 * to that namespace or by the other workload (a gateway named "redis"); then `<gateway>-gateway` /
 * `<gateway>-redis`, or with "-2", "-3" … when that is taken too, so no two resources (and no
 * two pod selectors) are one. Kong's Redis host follows the Redis Service's name.
 */
export function ownWorkloadNames(model: M.GatewayModel): { gateway: string; redis: string } {
  const gw = model.gateway.name;
  const taken = new Set(model.services.filter((s) => s.image !== undefined && s.namespace === gw).flatMap((s) => [s.name, serviceResourceName(s.name)]));
  const free = (name: string, suffix: string): string => {
    let candidate = name;
    for (let n = 1; taken.has(candidate) || taken.has(serviceResourceName(candidate)); n++) candidate = n === 1 ? dnsName(gw, suffix) : dnsName(gw, suffix, String(n));
    taken.add(candidate).add(serviceResourceName(candidate));
    return candidate;
  };
  const gateway = free(gw, 'gateway');
  // Redis's workload and Service share one name, and a Service name starts with a letter.
  return { gateway, redis: serviceResourceName(free('redis', 'redis')) };
}

/**
 * A cluster-local host name: a bare name is a Kubernetes Service in the service's namespace (see
 * serviceResourceName); `name.namespace.svc` is completed to its FQDN (Istio expands only names
 * without a dot, so its registry would not know the short form); any other dotted host and an
 * IPv6 address are taken as written.
 */
export function clusterHost(host: string, namespace: string): string {
  if (/\.svc$/i.test(host)) return `${host}.cluster.local`;
  return host.includes('.') || host.includes(':') ? host : `${serviceResourceName(host)}.${namespace}.svc.cluster.local`;
}

/** Whether a host (as clusterHost writes it) is a Service of the cluster, rather than a name or address outside it. */
export function inCluster(host: string): boolean {
  return /\.svc(\.cluster\.local)?$/.test(host);
}

/** `host:port` for a URL: an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return `${bracketed(host)}:${port}`;
}

/** A Host header's value: the port left out where it is the protocol's default, an IPv6 address in brackets either way (RFC 3986 §3.2.2). */
export function authorityOf(host: string, port: number, protocol: string): string {
  return port === (protocol === 'https' ? 443 : 80) ? bracketed(host) : hostPort(host, port);
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Go's longest duration (2^63 - 1 ns, about 292 years) in whole milliseconds: the longest Istio takes. */
export const GO_MAX_DURATION_MS = 9_223_372_036_854;

/**
 * Seconds → a duration Istio/Envoy and Go both read ("1.5s", "0.25s", "300s"), at least 1 ms and
 * at most Go's longest (a longer one makes Istio refuse the resource; see beyondGoDuration).
 */
export function goDuration(seconds: number): string {
  const ms = Math.min(GO_MAX_DURATION_MS, Math.max(1, Math.round(seconds * 1000)));
  return `${ms / 1000}s`;
}

/** Whether goDuration shortens a duration to Go's longest. */
export function beyondGoDuration(seconds: number): boolean {
  return Math.round(seconds * 1000) > GO_MAX_DURATION_MS;
}

/**
 * The OTLP/HTTP traces URL of agw:collectorEndpoint: the endpoint + "/v1/traces", unless it ends
 * in /v1/traces already. The generated gateway's tracesUrl (templates/gateway/src/tracing.ts)
 * follows the same rule; every target that writes the collector's URL takes it from here.
 */
export function otlpTracesUrl(endpoint: string): string {
  return /\/v1\/traces\/?$/.test(endpoint) ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * The longest Access-Control-Max-Age the gateway and Kong send: 2^31 - 1 s (RFC 9111 §1.2.2 has
 * caches read a longer delta-seconds as 2^31; past 1e21 a number would be written "1e+21", which
 * is no header value).
 */
export const MAX_AGE_SECONDS = 2_147_483_647;

/** The mTLS mode that applies to a service: its own, else the mesh's. */
export function mtlsModeOf(service: M.BackendService, model: M.GatewayModel): M.MutualTls['mode'] | undefined {
  return service.mtls?.mode ?? model.gateway.mesh?.mtls?.mode;
}

/** Whether a client presenting a certificate speaks mTLS with the service: mode STRICT or PERMISSIVE. */
export function acceptsMtls(service: M.BackendService, model: M.GatewayModel): boolean {
  const mode = mtlsModeOf(service, model);
  return mode === 'STRICT' || mode === 'PERMISSIVE';
}

/** Services a route sends traffic to (backend, splits, header canaries; not the mirror), sorted and distinct. */
export function routeServices(route: M.Route): string[] {
  const names = new Set<string>();
  if (route.service) names.add(route.service);
  for (const s of route.splits) names.add(s.service);
  return [...names].sort(compareStrings);
}

/**
 * The name part of each header-matched split of a route, in the route's split order: the
 * canary's service name, and `<service>.2`, `<service>.3` … for further canaries to the same
 * service (a route may send `x-env: beta` and `x-env: qa` to one service). Service names have no
 * dot, so the parts are distinct from each other and from every service name.
 */
export function canaryParts(route: M.Route): string[] {
  const seen = new Map<string, number>();
  return route.splits
    .filter((s) => s.matchHeader !== undefined)
    .map((s) => {
      const n = (seen.get(s.service) ?? 0) + 1;
      seen.set(s.service, n);
      return n === 1 ? s.service : `${s.service}.${n}`;
    });
}

export function hasParams(path: string): boolean {
  return /\{[^}]*\}/.test(path);
}

/** RE2 (and PCRE) escaping of a literal. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The segments of a route path as the gateway's router matches them (templates/gateway/src/router.ts.hbs):
 * a trailing "/" ends the path ("/docs/" is "/docs"), "/" has none; `{name}` is a parameter.
 */
export function routeSegments(path: string): readonly string[] {
  let segments = SEGMENTS.get(path);
  if (!segments) {
    const parts = path.split('/');
    segments = parts.filter((s, i) => i > 0 && !(s === '' && i === parts.length - 1));
    // A long-lived process (watch, a library user) sees many models: the cache stays bounded.
    if (SEGMENTS.size >= 100_000) SEGMENTS.clear();
    SEGMENTS.set(path, segments);
  }
  return segments;
}

// Routes are compared pairwise (route order, canary and overreach notes): at 1,000 routes,
// splitting the same paths again cost ~0.4 s of a run.
const SEGMENTS = new Map<string, readonly string[]>();

/** A `{name}` segment, as the gateway's router tells one. */
export function isParamSegment(segment: string): boolean {
  return segment.startsWith('{') && segment.endsWith('}');
}

/**
 * The gateway's path matching as an RE2 regex over the whole request path (Istio matches
 * regexes in full): the route's segments, a `{param}` being one non-empty segment, then the end
 * of the path or a "/" and anything (`/a/{id}/b` → `^/a/[^/]+/b(/.*)?$`), so `/orders` takes
 * `/orders` and `/orders/x`, never `/ordersx`; the path "/" takes every path.
 */
export function pathRegex(path: string): string {
  const segs = routeSegments(path);
  if (segs.length === 0) return '^/.*';
  return `${pathPrefixRegex(path)}(/.*)?$`;
}

/** The route's own segments as an anchored regex without the tail (`/a/{id}` → `^/a/[^/]+`; "/" → `^`). */
export function pathPrefixRegex(path: string): string {
  return `^${segmentsRegex(path)}`;
}

/**
 * The route's segments as regex text: each `{param}` as `param` writes it (one segment by
 * default), each literal segment as `literal` writes it (escaped by default).
 */
export function segmentsRegex(path: string, param: (name: string) => string = () => '[^/]+', literal: (segment: string) => string = escapeRegex): string {
  return routeSegments(path)
    .map((seg) => `/${isParamSegment(seg) ? param(seg.slice(1, -1)) : literal(seg)}`)
    .join('');
}

/** The literal start of a path, up to its first `{param}` ("/a/{id}/b" → "/a/"); the whole path without params. */
export function literalPrefix(path: string): string {
  const i = path.indexOf('{');
  return i < 0 ? path : path.slice(0, i);
}

/**
 * The gateway's order of route paths, most specific first (its router picks, of the routes whose
 * path matches and that take the method, the one with the most segments; of those, the one with
 * a literal segment where the others have a parameter, at the first place they differ). Paths
 * that differ only in parameter names or a trailing "/" are one (0); two paths that no request
 * matches both may be ordered either way, here by their differing literal.
 */
export function compareSpecificity(a: string, b: string): number {
  const sa = routeSegments(a);
  const sb = routeSegments(b);
  if (sa.length !== sb.length) return sb.length - sa.length;
  for (let i = 0; i < sa.length; i++) {
    const pa = isParamSegment(sa[i]!);
    const pb = isParamSegment(sb[i]!);
    if (pa !== pb) return pa ? 1 : -1;
    if (!pa && sa[i] !== sb[i]) return compareStrings(sa[i]!, sb[i]!);
  }
  return 0;
}

/**
 * Route order for first-match routers (Envoy) and for Kong's regex_priority: the gateway's order
 * of paths (compareSpecificity), a route with methods before one that takes every method (the
 * model allows no two routes with a common method on one path), then by path and name, so the
 * order is the same on every run.
 */
export function compareRouteSpecificity(a: M.Route, b: M.Route): number {
  return compareSpecificity(a.path, b.path) || Number(a.methods.length === 0) - Number(b.methods.length === 0) || compareStrings(a.path, b.path) || compareStrings(a.name, b.name);
}

/**
 * The routes in the gateway's order (compareRouteSpecificity), grouped by path: the routes of one
 * group have one path as the gateway's router reads it (parameter names and a trailing "/" aside),
 * and differ in their methods.
 */
export function pathGroups(routes: readonly M.Route[]): M.Route[][] {
  const groups: M.Route[][] = [];
  for (const route of [...routes].sort(compareRouteSpecificity)) {
    const last = groups[groups.length - 1];
    if (last && compareSpecificity(last[0]!.path, route.path) === 0) last.push(route);
    else groups.push([route]);
  }
  return groups;
}

/**
 * The gateway's answer to a method that none of the routes of a path takes: the most specific
 * path decides, so it is a 405 whose Allow lists their methods (sorted, as the gateway's router
 * writes it), never a less specific route. Undefined when a route of the path takes every method.
 */
export function allowHeader(group: readonly M.Route[]): string | undefined {
  if (group.some((r) => r.methods.length === 0)) return undefined;
  return [...new Set(group.flatMap((r) => r.methods))].sort().join(', ');
}

/** Whether some request path is matched by both route paths (segment by segment, as the gateway matches). */
export function pathsMeet(a: string, b: string): boolean {
  const sa = routeSegments(a);
  const sb = routeSegments(b);
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const x = sa[i]!;
    const y = sb[i]!;
    if (isParamSegment(x) ? y === '' : isParamSegment(y) ? x === '' : x !== y) return false;
  }
  return true;
}

interface PathNode {
  readonly literal: Map<string, PathNode>;
  param?: PathNode;
  readonly routes: number[];
}

/**
 * For a route path, the routes whose paths are more specific (compareSpecificity) and match some
 * request path that it matches too (pathsMeet), in the order of `routes`: the routes that a Kong
 * route ranked by its headers (a canary, a preflight route) takes requests from. The paths are
 * kept in a trie of segments, so a question walks only the paths that can meet it: comparing
 * every pair cost ~0.12 s at 1,000 routes with CORS.
 */
export function moreSpecificMeeting(routes: readonly M.Route[]): (path: string) => readonly M.Route[] {
  const node = (): PathNode => ({ literal: new Map(), routes: [] });
  const root = node();
  routes.forEach((route, index) => {
    let n = root;
    for (const seg of routeSegments(route.path)) {
      if (isParamSegment(seg)) n = n.param ??= node();
      else {
        let child = n.literal.get(seg);
        if (!child) n.literal.set(seg, (child = node()));
        n = child;
      }
    }
    n.routes.push(index);
  });
  const answers = new Map<string, readonly M.Route[]>();
  return (path) => {
    const known = answers.get(path);
    if (known) return known;
    const q = routeSegments(path);
    const found: number[] = [];
    // Below the path's own depth every path meets it; a shorter path is never more specific.
    const collect = (n: PathNode): void => {
      found.push(...n.routes);
      for (const child of n.literal.values()) collect(child);
      if (n.param) collect(n.param);
    };
    // A parameter meets every segment but an empty one, as pathsMeet reads them.
    const walk = (n: PathNode, i: number): void => {
      if (i === q.length) return collect(n);
      const seg = q[i]!;
      if (isParamSegment(seg)) {
        for (const [literal, child] of n.literal) if (literal !== '') walk(child, i + 1);
      } else {
        const child = n.literal.get(seg);
        if (child) walk(child, i + 1);
      }
      if (n.param && seg !== '') walk(n.param, i + 1);
    };
    walk(root, 0);
    const answer = found
      .sort((a, b) => a - b)
      .map((i) => routes[i]!)
      .filter((other) => compareSpecificity(other.path, path) < 0);
    answers.set(path, answer);
    return answer;
  };
}

/** Whether two routes can match a common request method. An empty method list is every method. */
export function methodsOverlap(a: M.Route, b: M.Route): boolean {
  if (a.methods.length === 0 || b.methods.length === 0) return true;
  return a.methods.some((m) => b.methods.includes(m));
}

/**
 * Whether some request path matched by `pattern*` (a string prefix) is also routed to `other`:
 * `other` matches paths starting with its literal prefix, so the two sets meet when one prefix
 * starts with the other.
 */
export function prefixesMeet(prefix: string, other: M.Route): boolean {
  const p = literalPrefix(other.path);
  return prefix.startsWith(p) || p.startsWith(prefix);
}

/** A model number for a field that holds at most `max`: `max` when the model's is larger, and `note` goes into NOTES.md. */
export function atMost(value: number, max: number, notes: Limitation[], note: () => Limitation): number {
  if (value <= max) return value;
  notes.push(note());
  return max;
}

export { compareStrings };
