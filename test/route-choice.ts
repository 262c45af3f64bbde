import { transform } from 'esbuild';
import { parse, parseAllDocuments } from 'yaml';
import type { GatewayModel } from '../dist/index.js';

/**
 * Which route each target picks for a request, computed from the generated files (not from the
 * views that wrote them), so tests can ask the three targets the same questions:
 *
 * - the gateway: its own router (gateway/src/router.ts, compiled here) over gateway/config.json,
 *   then the route's first header-matched split whose header the request carries;
 * - Kong: kong.yml under the ordering of Kong 3's default router, traditional_compatible, as read
 *   in Kong/kong: kong/router/compat.lua `get_priority` packs a route's priority as
 *   [fields set among snis, methods, hosts, headers, paths (bits 61-63) | plain hosts only (60) |
 *   header count (52-59) | a regex path (51) | regex_priority, for a regex path (19-50) | the
 *   length of a prefix path (0-18)], and `split_routes_and_services_by_path` gives each path of a
 *   route its own priority; kong/router/atc.lua adds each route to the ATC router with that
 *   priority, which tries the highest first (Kong/atc-router src/router.rs: a BTreeMap of
 *   (priority, uuid), iterated in reverse: equal priorities fall to the route ids, so a tie
 *   between matching routes is reported here). A regex path is anchored at the start ("^" ..
 *   path, compat.lua `get_expression`); with strip_path, kong/router/atc.lua cuts the whole regex
 *   match (`matched_path`) and kong/router/utils.lua `get_upstream_uri_v0` joins the rest to the
 *   service's path ("/");
 * - Istio: the VirtualService's http entries in order, the first whose match holds (Envoy), a
 *   regex matching the whole path (RE2), headers that match and withoutHeaders that do not, then
 *   the entry's uriRegexRewrite.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

export interface Request {
  readonly method: string;
  readonly path: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface Choice {
  /** The model route's name; undefined when the request is refused. */
  readonly route?: string;
  /** A refusal: 404 (no path matches) or 405 (the most specific path's routes lack the method), with its Allow header. */
  readonly status?: number;
  readonly allow?: string;
  /** The target's own name for what took it (Kong route, Istio http entry without the gateway's name). */
  readonly name?: string;
  /** The service of the header-matched canary that takes the request. */
  readonly canary?: string;
  /** The path the backend is sent (with strip path, what is left of the request's). */
  readonly upstreamPath?: string;
  /** A CORS preflight answered with the policy of `route`, which no backend sees. */
  readonly preflight?: boolean;
}

export type Chooser = (request: Request) => Choice;

export const show = (c: Choice) =>
  c.route === undefined ? `${c.status}${c.allow !== undefined ? ` (Allow: ${c.allow})` : ''}` : c.preflight ? `${c.route} (CORS preflight)` : `${c.route}${c.canary ? ` (canary ${c.canary})` : ''} → ${c.upstreamPath}`;

/** A CORS preflight as the gateway and Kong's cors plugin tell one: OPTIONS with Origin and Access-Control-Request-Method. */
export const isPreflight = (r: Request) => r.method === 'OPTIONS' && r.headers.origin !== undefined && r.headers['access-control-request-method'] !== undefined;

// --- the gateway ---------------------------------------------------------------------------

interface RouterModule {
  Router: new (routes: readonly Doc[]) => {
    lookup(method: string, path: string): { kind: 'found'; match: { route: Doc; end: number } } | { kind: 'method'; allow: string } | { kind: 'none' };
    candidates(path: string): { route: Doc }[];
  };
}

/** The gateway's router, compiled from the generated gateway/src/router.ts. */
export async function gatewayChooser(files: Readonly<Record<string, string>>): Promise<Chooser> {
  const source = files['gateway/src/router.ts'];
  if (source === undefined) throw new Error('no gateway/src/router.ts');
  const { code } = await transform(source, { loader: 'ts', format: 'esm' });
  const { Router } = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as RouterModule;
  const config = JSON.parse(files['gateway/config.json']!) as Doc;
  const router = new Router(config.routes as Doc[]);
  return ({ method, path, headers }) => {
    // server.ts handle → preflight: the policy of the route that takes the asked method, else of
    // the first route with CORS of the path's candidates; without one, routed as any OPTIONS.
    if (isPreflight({ method, path, headers })) {
      const wanted = router.lookup(headers['access-control-request-method']!.toUpperCase(), path);
      const candidates = wanted.kind === 'found' ? [wanted.match] : router.candidates(path);
      const policy = candidates.find((m) => m.route.cors !== undefined)?.route;
      if (policy) return { route: policy.name, name: policy.name, preflight: true };
    }
    const found = router.lookup(method, path);
    if (found.kind === 'method') return { status: 405, allow: found.allow };
    if (found.kind === 'none') return { status: 404 };
    const route = found.match.route;
    const canary = (route.splits as Doc[]).find((s) => s.matchHeader && headers[s.matchHeader.name] === s.matchHeader.value);
    let upstreamPath = path;
    if (route.stripPath) {
      const rest = path.slice(found.match.end);
      upstreamPath = rest === '' || !rest.startsWith('/') ? `/${rest}` : rest;
    }
    return { route: route.name, name: route.name, ...(canary ? { canary: canary.service } : {}), upstreamPath };
  };
}

// --- Kong ----------------------------------------------------------------------------------

const compiled = new Map<string, RegExp>();
/** A regex compiled once (the choosers test thousands of requests against the same patterns). */
const regex = (source: string, flags = '') => {
  const key = `${flags}/${source}`;
  let re = compiled.get(key);
  if (!re) compiled.set(key, (re = new RegExp(source, flags)));
  return re;
};

const empty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && Object.keys(v as object).length === 0);

/** compat.lua get_priority, as a tuple compared left to right. */
function kongPriority(route: Doc, path: string): number[] {
  const fields = [route.snis, route.methods, route.hosts, route.headers, [path]].filter((f) => !empty(f)).length;
  const hosts = route.hosts as string[] | undefined;
  const plainHostsOnly = Array.isArray(hosts) && hosts.every((h) => !h.includes('*')) ? 1 : 0;
  const headerCount = empty(route.headers) ? 0 : Math.min(255, Object.keys(route.headers).length);
  const regex = path.startsWith('~');
  const regexPriority = regex ? (route.regex_priority ?? 0) : 0;
  if (!Number.isInteger(regexPriority) || regexPriority < 0 || regexPriority >= 2 ** 32) throw new Error(`Kong route ${route.name}: regex_priority ${regexPriority} does not fit bits 19-50 of the priority`);
  return [fields, plainHostsOnly, headerCount, regex ? 1 : 0, regexPriority, regex ? 0 : Math.min(path.length, 0x7ffff)];
}

const compareTuples = (a: readonly number[], b: readonly number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};

/** The part of the request path a Kong path matches, or undefined. */
function kongPathMatch(path: string, request: string): string | undefined {
  if (!path.startsWith('~')) return request.startsWith(path) ? path : undefined;
  return regex(`^${path.slice(1)}`).exec(request)?.[0];
}

function kongHeadersMatch(headers: Record<string, string[]> | undefined, request: Readonly<Record<string, string>>): boolean {
  if (empty(headers)) return true;
  return Object.entries(headers!).every(([name, values]) => {
    const got = request[name.toLowerCase()];
    if (got === undefined) return false;
    // Kong lower-cases both sides (compat.lua: value:lower(); atc.lua: v:lower()).
    return values.some((v) => (v.startsWith('~*') ? regex(v.slice(2)).test(got.toLowerCase()) : v.toLowerCase() === got.toLowerCase()));
  });
}

/** RFC 3986's reserved characters and "%": kong/tools/uri.lua RESERVED_CHARS. */
const KONG_RESERVED = new Set("!*'();:@&=+$,/?%#[]");
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The path Kong's router matches (kong/router/utils.lua strip_uri_args → kong/tools/uri.lua
 * `normalize(uri, true)`): every escape decoded but those of reserved characters (upper-cased),
 * slashes merged, dot segments removed. undefined when the decoded path is not UTF-8 text, which
 * the router refuses (atc-router context_add_value).
 */
export function kongNormalize(path: string): string | undefined {
  const bytes: number[] = [];
  for (const [token, hex] of path.matchAll(/%([0-9A-Fa-f]{2})|[^%]+|%/g)) {
    const byte = hex === undefined ? -1 : parseInt(hex, 16);
    if (byte >= 0 && !KONG_RESERVED.has(String.fromCharCode(byte))) bytes.push(byte);
    else bytes.push(...Buffer.from(byte >= 0 ? `%${hex!.toUpperCase()}` : token, 'utf8'));
  }
  let decoded: string;
  try {
    decoded = UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
  const out: string[] = [];
  for (const seg of decoded.replace(/\/{2,}/g, '/').split('/').slice(1)) {
    if (seg === '..') out.pop();
    else if (seg !== '.') out.push(seg);
  }
  const last = decoded.split('/').at(-1);
  return `/${out.join('/')}${(last === '.' || last === '..') && out.length > 0 ? '/' : ''}`;
}

/** kong/tools/uri.lua `escape`: what Kong sends upstream, every character outside its set percent-encoded (upper-case, by UTF-8 byte). */
export function kongEscape(path: string): string {
  return path.replace(/[^!#$&'()*+,/:;=?@[\]A-Za-z0-9\-_.~%]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/**
 * Kong's choice over kong.yml, for the path as the request sends it: the router matches the path
 * kongNormalize gives (a path it cannot read is a 404 here), and the backend is sent its
 * kongEscape. The model route of a Kong route is its name up to the first "."; a canary's
 * service follows.
 */
export function kongChooser(kongYml: string): Chooser {
  const doc = parse(kongYml) as Doc;
  const routes = (doc.services as Doc[]).flatMap((service) => (service.routes as Doc[]).flatMap((route) => (route.paths as string[]).map((path) => ({ route, path, priority: kongPriority(route, path) }))));
  return ({ method, path: sent, headers }) => {
    const path = kongNormalize(sent);
    if (path === undefined) return { status: 404 };
    const matching = routes.filter((r) => (empty(r.route.methods) || (r.route.methods as string[]).includes(method)) && kongHeadersMatch(r.route.headers, headers) && kongPathMatch(r.path, path) !== undefined);
    if (matching.length === 0) return { status: 404 };
    matching.sort((a, b) => compareTuples(b.priority, a.priority));
    if (matching.length > 1 && compareTuples(matching[0]!.priority, matching[1]!.priority) === 0) {
      throw new Error(`Kong: routes ${matching[0]!.route.name} and ${matching[1]!.route.name} tie for ${method} ${path}; Kong would pick by route id`);
    }
    const { route, path: kongPath } = matching[0]!;
    // A route that request-termination answers (gwgen's 405 routes), with the headers response-transformer adds.
    const plugins = (route.plugins ?? []) as Doc[];
    const termination = plugins.find((p) => p.name === 'request-termination');
    if (termination) {
      const allow = ((plugins.find((p) => p.name === 'response-transformer')?.config.add?.headers ?? []) as string[]).find((h) => /^allow:/i.test(h));
      return { status: termination.config.status_code ?? 503, ...(allow !== undefined ? { allow: allow.slice(allow.indexOf(':') + 1) } : {}) };
    }
    const [name, ...part] = (route.name as string).split('.');
    // The cors plugin (preflight_continue false) answers a preflight itself, on whichever route has it.
    if (isPreflight({ method, path, headers }) && plugins.some((p) => p.name === 'cors')) return { route: name, name: route.name, ...(part.length > 0 && part[0] !== 'cors_preflight' ? { canary: part[0] } : {}), preflight: true };
    let upstreamPath = kongEscape(path);
    if (route.strip_path !== false) {
      const matched = kongPathMatch(kongPath, path)!;
      let rest = path.slice(matched.length);
      // utils.lua sanitize_uri_postfix
      if (rest === '.' || rest === '..') rest = '';
      else if (rest.startsWith('./')) rest = rest.slice(2);
      else if (rest.startsWith('../')) rest = rest.slice(3);
      // get_upstream_uri_v0 with the service path "/" (gwgen's services have none)
      upstreamPath = kongEscape(rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`);
    }
    return { route: name, name: route.name, ...(part.length > 0 ? { canary: part[0] } : {}), upstreamPath };
  };
}

// --- Istio ---------------------------------------------------------------------------------

function stringMatch(m: Doc | undefined, value: string | undefined): boolean {
  if (m === undefined) return true;
  if (value === undefined) return false;
  if (m.exact !== undefined) return value === m.exact;
  if (m.prefix !== undefined) return value.startsWith(m.prefix);
  return regex(`^(?:${m.regex})$`).test(value);
}

/** Envoy's first match over the VirtualService's http entries (named `<gateway>.<route>[.<canary's service>[.n]]`). */
export function istioChooser(files: Readonly<Record<string, string>>, gateway: string): Chooser {
  const vs = parseAllDocuments(files['istio/virtualservice.yaml']!).map((d) => d.toJS() as Doc).find((d) => d.kind === 'VirtualService')!;
  const http = vs.spec.http as Doc[];
  return ({ method, path, headers }) => {
    const entry = http.find((h) =>
      (h.match as Doc[]).some(
        (m) =>
          stringMatch(m.uri, path) &&
          stringMatch(m.method, method) &&
          Object.entries((m.headers ?? {}) as Record<string, Doc>).every(([n, hm]) => stringMatch(hm, headers[n])) &&
          // Istio reads a missing header of withoutHeaders as empty (treat_missing_header_as_empty).
          Object.entries((m.withoutHeaders ?? {}) as Record<string, Doc>).every(([n, hm]) => !stringMatch(hm, headers[n] ?? '')),
      ),
    );
    if (!entry) return { status: 404 };
    if (entry.directResponse) return { status: entry.directResponse.status, ...(entry.headers?.response?.set?.allow !== undefined ? { allow: entry.headers.response.set.allow } : {}) };
    const name = (entry.name as string).slice(gateway.length + 1);
    const [route, ...part] = name.split('.');
    const rewrite = entry.rewrite?.uriRegexRewrite as Doc | undefined;
    const upstreamPath = rewrite ? path.replace(regex(rewrite.match), rewrite.rewrite) : path;
    return { route, name, ...(part.length > 0 ? { canary: part[0] } : {}), upstreamPath };
  };
}

// --- requests ------------------------------------------------------------------------------

/**
 * Requests that tell overlapping routes apart: every route's path with its parameters filled by
 * a fresh value and by each literal segment of the model, then followed by nothing, "/", "/x" or
 * "x" (a string prefix that is no segment prefix); each with methods of the model, one it does
 * not know, and with each canary header and without.
 */
export function requestsFor(model: GatewayModel, methods: readonly string[] = ['GET', 'POST', 'DELETE', 'PROPFIND'], { literals: maxLiterals = Infinity, perRoute = 40 } = {}): Request[] {
  const literals = [...new Set(model.routes.flatMap((r) => r.path.split('/').filter((s) => s !== '' && !s.startsWith('{'))))].sort().slice(0, maxLiterals);
  const fills = ['p7', ...literals];
  const paths = new Set<string>();
  for (const route of model.routes) {
    const segs = route.path.split('/').filter((s) => s !== '');
    let bases = [''];
    for (const seg of segs) {
      const options = seg.startsWith('{') ? fills : [seg];
      bases = bases.flatMap((b) => options.map((o) => `${b}/${o}`)).slice(0, perRoute);
    }
    for (const b of bases) for (const tail of ['', '/', '/x', 'x']) paths.add(b === '' ? (tail === '' || tail === 'x' ? '/' : tail) : `${b}${tail}`);
  }
  const headerSets: Record<string, string>[] = [{}];
  for (const r of model.routes) for (const s of r.splits) if (s.matchHeader) headerSets.push({ [s.matchHeader.name.toLowerCase()]: s.matchHeader.value });
  const requests: Request[] = [];
  for (const path of [...paths].sort()) for (const method of methods) for (const headers of headerSets) requests.push({ method, path, headers });
  return requests;
}

/** Each request as a CORS preflight asking each of `methods` (from an allowed origin or not: which policy answers does not depend on it). */
export function preflightsOf(requests: readonly Request[], methods: readonly string[] = ['GET', 'POST', 'DELETE', 'OPTIONS']): Request[] {
  return requests.flatMap((r) => methods.map((m) => ({ method: 'OPTIONS', path: r.path, headers: { ...r.headers, origin: 'https://app.example', 'access-control-request-method': m } })));
}

// --- the comparison ------------------------------------------------------------------------

/** The methods Kong lists on a route that takes every method (see kongMethods in src/targets/kong.ts). */
const KONG_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'];

/** NOTES.md sections whose heading is `feature`. */
const notesOn = (notes: string, feature: string) => notes.split('\n## ').filter((s) => s.startsWith(`${feature}\n`));

/** `subject` as a whole item of a note (markdown-escaped): not a prefix of a longer name. */
const mentions = (note: string, subject: string) => new RegExp(`(?<![\\w-])${subject.replace(/_/g, '\\_').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(note);

/**
 * The requests Istio or Kong take elsewhere than the gateway (route, canary or the path sent to
 * the backend), one line each; for Kong, only those its NOTES.md does not explain: a header canary
 * Kong ranks above a more specific route ("agw:matchHeader under a more specific route", the
 * pair named), or a method outside Kong's nine on a route that takes every method
 * ("agw:httpMethod (none)").
 */
export async function routeChoiceDifferences(files: Readonly<Record<string, string>>, model: GatewayModel, requests: readonly Request[]): Promise<{ istio: string[]; kong: string[] }> {
  const gateway = await gatewayChooser(files);
  const istio = istioChooser(files, model.gateway.name);
  const kong = kongChooser(files['kong/kong.yml']!);
  const notes = files['kong/NOTES.md']!;
  const noted = (feature: string, subject: string) => notesOn(notes, feature).some((n) => mentions(n, subject));
  const anyMethod = new Set(model.routes.filter((r) => r.methods.length === 0).map((r) => r.name));
  // The routes of the gateway's most specific path for a request, found by asking the gateway for each of their methods.
  const aboveOf = (_canary: string, r: Request) =>
    model.routes.filter((o) => o.methods.length > 0 && o.methods.some((m) => gateway({ ...r, method: m }).route === o.name)).map((o) => o.name);
  // The routes of the gateway's most specific path for a request's path, whatever their methods.
  const groupAt = (r: Request) => model.routes.filter((o) => (o.methods.length > 0 ? o.methods : ['GET']).some((m) => gateway({ method: m, path: r.path, headers: {} }).route === o.name)).map((o) => o.name);
  // Where the gateway takes the method a preflight asks for, on the preflight's path.
  const asked = (r: Request) => gateway({ method: r.headers['access-control-request-method']!.toUpperCase(), path: r.path, headers: {} });
  // The more specific path the gateway gives a request to (its route, or its 405's Allow).
  const explained = (r: Request, k: Choice, g: Choice) =>
    (k.canary !== undefined && k.route !== g.route && g.route !== undefined && noted('agw:matchHeader under a more specific route', `route ${k.name} (over route ${g.route})`)) ||
    (k.canary !== undefined && g.status === 405 && aboveOf(k.name!, r).some((o) => noted('agw:matchHeader under a more specific route', `route ${k.name} (over route ${o})`))) ||
    (g.route !== undefined && anyMethod.has(g.route) && !KONG_METHODS.includes(r.method) && noted('agw:httpMethod (none)', `route ${g.route}`)) ||
    // Kong's routes list the methods Kong names: another method to a path the gateway answers 405 is a 404 in Kong.
    (g.status === 405 && k.status === 404 && !KONG_METHODS.includes(r.method)) ||
    // A preflight route of a less specific path, which Kong ranks above the routes of a more specific one.
    (k.preflight === true && k.name!.endsWith('.cors_preflight') && groupAt(r).some((o) => noted('agw:hasCorsPolicy under a more specific route', `route ${k.name} (over route ${o})`))) ||
    // A preflight for a method the gateway's most specific path lacks, answered by a policy Kong cannot route it to.
    (g.preflight === true && asked(r).route === undefined && noted('agw:hasCorsPolicy (preflight for a method the path lacks)', `route ${g.route}`)) ||
    // A preflight asking for a method of a route without CORS, which Kong's cors plugin answers on
    // the path's OPTIONS route (or on its canary's route: k.route is the model's route either way).
    (k.preflight === true && g.route === k.route && g.preflight !== true && noted('agw:hasCorsPolicy beside a route without CORS', `route ${k.route} (beside route ${asked(r).route ?? '-'})`)) ||
    // A path whose escapes decode to bytes that are not UTF-8, which Kong's router cannot read,
    // whatever the model (the README's Kong target says so; NOTES.md lists the routes whose own path has such escapes).
    (k.status === 404 && kongNormalize(r.path) === undefined);
  const line = (r: Request) => `${r.method} ${r.path}${Object.entries(r.headers).map(([n, v]) => ` ${n}: ${v}`).join('')}`;
  const out = { istio: [] as string[], kong: [] as string[] };
  for (const r of requests) {
    const g = gateway(r);
    const i = istio(r);
    const k = kong(r);
    if (show(i) !== show(g)) out.istio.push(`${line(r)}: Istio ${show(i)}, gateway ${show(g)}`);
    if (show(k) !== show(g) && !explained(r, k, g)) out.kong.push(`${line(r)}: Kong ${show(k)}, gateway ${show(g)}`);
  }
  return out;
}
