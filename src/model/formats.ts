import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Well-formedness rules for strings that land in generated code, YAML, URLs and file names.
 * Each returns undefined when the value is fine, or a short reason when it is not.
 */
export type FormatCheck = (value: string) => string | undefined;

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const dnsLabel: FormatCheck = (v) =>
  DNS_LABEL.test(v) ? undefined : 'must be a DNS label: 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit';

/** A path parameter segment: `{name}`, the name of letters, digits, "_" and "-" (`{order-id}`, as in OpenAPI). */
const PARAM_SEGMENT = /^\{[A-Za-z_][A-Za-z0-9_-]*\}$/;
/** RFC 3986 pchar without the quote: what a literal path segment may hold. */
const LITERAL_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&()*+,;=:@]|%[0-9A-Fa-f]{2})*$/;

/**
 * RFC 3986 §6.2.2: escapes of unreserved characters decoded ("%61" is "a") and every other escape
 * upper-cased ("%2f" is "%2F"). The gateway routes a request by this spelling of its path, so a
 * route's path is written in it too, or it would never match. Kong decodes more (every escape
 * but those of reserved characters): kong.ts writes its paths in that form (kongSegmentRegex).
 */
export function normalPath(path: string): string {
  if (path.indexOf('%') === -1) return path;
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /^[A-Za-z0-9\-._~]$/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * A dot segment as the generated gateway finds one (uri.ts, hasDotSegment): "..", ".", escaped
 * ("%2E%2E"), with ";parameters" ("..;x", as Tomcat and Jetty read it), or between encoded slashes
 * ("a%2F..%2Fb", which some backends decode).
 */
function hasDotSegment(path: string): boolean {
  const decoded = path.replace(/%2e/gi, '.').replace(/%2f|%5c/gi, '/').replace(/%3b/gi, ';');
  return /(^|\/)\.\.?(;[^/]*)?(\/|$)/.test(decoded);
}

export const urlPath: FormatCheck = (v) => {
  if (!v.startsWith('/')) return 'must start with "/"';
  const bad = /[\s"'`\\<>^|\u0000-\u001f\u007f]/.exec(v)?.[0];
  if (bad !== undefined) return `must not contain ${describeChar(bad)}: no spaces, quotes, backslashes, < > ^ | or control characters (percent-encode them)`;
  if (v.includes('?') || v.includes('#')) return 'must be a path only: no query string ("?") or fragment ("#")';
  if (v.includes('//')) return 'must not contain an empty segment ("//")';
  // The gateway answers 400 to every request whose path holds these (uri.ts, routedPath), so a
  // route or health check written with one could never be reached.
  if (/%00/.test(v)) return 'must not contain an encoded NUL ("%00"): the gateway refuses every request whose path holds one';
  if (hasDotSegment(v)) return 'must not contain "." or ".." segments (escaped as %2E, followed by ";parameters" or between encoded slashes %2F or %5C either): the gateway refuses every request whose path holds one';
  const segments = v.slice(1).split('/');
  const params = new Set<string>();
  for (const segment of segments) {
    if (segment.includes('{') || segment.includes('}')) {
      if (!PARAM_SEGMENT.test(segment)) return `has a malformed parameter segment "${segment}": a parameter is a whole segment like {orderId} or {order-id}, its name letters, digits, "_" and "-", starting with a letter or "_"`;
      const name = segment.slice(1, -1);
      if (params.has(name)) return `uses the parameter {${name}} twice`;
      params.add(name);
      continue;
    }
    if (!LITERAL_SEGMENT.test(segment)) {
      const encoded = percentEncoded(v);
      return `has an invalid segment "${segment}": a URL path is ASCII, other characters are percent-encoded${urlPath(encoded) === undefined ? `, as in "${encoded}"` : ''}`;
    }
  }
  return undefined;
};

/**
 * A path with each character a literal segment may not hold written as the %XX escapes of its
 * UTF-8 bytes ("/café" → "/caf%C3%A9"), as a browser sends it: the spelling to suggest. An
 * escape already there is kept, and "{", "}" and "/" are left to the other checks.
 */
function percentEncoded(path: string): string {
  // A lone surrogate (a "\uD800" escape) has no UTF-8 form: it is kept, and nothing is suggested.
  return path.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&()*+,;=:@%/{}]/gu, (char) => (/^[\uD800-\uDFFF]$/.test(char) ? char : encodeURIComponent(char)));
}

/**
 * `10.0.0.0/8`, `2001:db8::/32`, an IPv6 range with an embedded IPv4 part (`::ffff:10.0.0.0/104`,
 * `64:ff9b::192.0.2.33/128`, RFC 4291 §2.2), or a single address. node:net reads the address; a
 * zone (`fe80::1%eth0`), which it also takes, names no range.
 */
export const cidr: FormatCheck = (v) => {
  const [address = '', prefix, extra] = v.split('/');
  const family = address.includes('%') ? 0 : isIP(address);
  if (family === 0 || extra !== undefined) return 'must be an IPv4 or IPv6 address or CIDR block, e.g. 10.0.0.0/8';
  if (prefix === undefined) return undefined;
  const bits = /^(0|[1-9]\d{0,2})$/.test(prefix) ? Number(prefix) : NaN;
  const max = family === 4 ? 32 : 128;
  return bits >= 0 && bits <= max ? undefined : `has an invalid prefix length "/${prefix}" (0-${max})`;
};

/**
 * An IPv4-mapped IPv6 range (::ffff:0:0/96, RFC 4291 §2.5.5.2) with a prefix of 96 or more
 * (`::ffff:10.0.0.0/104`) as the IPv4 range it maps (`10.0.0.0/8`); any other CIDR as it is.
 * Every target sees IPv4 clients as IPv4 addresses (the gateway reads a dual-stack listener's
 * `::ffff:10.1.2.3` as 10.1.2.3, Kong and Envoy listen on IPv4), so written as IPv6 the range
 * would match no client.
 */
export function mappedCidrAsIpv4(value: string): string {
  const [address = '', prefix, extra] = value.split('/');
  if (extra !== undefined || address.includes('%') || isIP(address) !== 6) return value;
  const ip = ipaddr.IPv6.parse(address);
  const bits = prefix === undefined ? 128 : Number(prefix);
  if (!ip.isIPv4MappedAddress() || !(bits >= 96 && bits <= 128)) return value;
  const ipv4 = ip.toIPv4Address().toString();
  return prefix === undefined ? ipv4 : `${ipv4}/${bits - 96}`;
}

/** `U+000A`: a character by its code point. */
function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `"|"`, `a space`, `the control character U+0000`: a character as a message names it. */
function describeChar(c: string): string {
  if (c === ' ') return 'a space';
  const code = c.codePointAt(0)!;
  return code < 0x20 || code === 0x7f ? `the control character ${codePoint(c)}` : JSON.stringify(c);
}

/**
 * Whether a parsed http(s) URL names a host. WHATWG URL parsing accepts hosts such as
 * `*.example.com`, which no target reads as a wildcard.
 */
function hasHost(url: URL): boolean {
  return url.hostname !== '' && !url.hostname.includes('*');
}

/**
 * A CORS origin: `*` or `scheme://host[:port]`, nothing after the authority. Any spelling of an
 * origin is taken (`HTTPS://App.Example.com`, `https://app.example.com:443`, `https://bücher.example`):
 * targets get it as browsers send it in `Origin` (canonicalOrigin).
 */
export const origin: FormatCheck = (v) => {
  if (v === '*') return undefined;
  if (/^https?:\/\/[^/]*\*/i.test(v)) return 'must be "*" or one origin: wildcard hosts such as https://*.example.com are not supported (list each origin)';
  if (/^https?:\/\/[^/?#\s\\"'`<>]+$/i.test(v)) {
    try {
      const url = new URL(v);
      if (hasHost(url) && url.username === '' && url.password === '') return undefined;
    } catch {
      // fall through
    }
  }
  return 'must be "*" or an origin such as https://app.example.com (scheme, host and optional port; no path or trailing "/")';
};

/**
 * An origin as browsers serialize it in the `Origin` header (RFC 6454 §6.2, WHATWG URL): scheme
 * and host in lower case, an internationalized host in punycode, the scheme's default port
 * dropped. Kong, Envoy and the gateway compare `Origin` with the allowed origins as strings, so
 * `https://App.example.com:443` is written as `https://app.example.com`.
 */
export function canonicalOrigin(v: string): string {
  if (v === '*') return v;
  try {
    return new URL(v).origin;
  } catch {
    return v;
  }
}

/**
 * A value as a message may show it: the password of a URL's "user:password@" replaced by "***",
 * since messages reach terminals and CI logs.
 */
export function redactCredentials(v: string): string {
  return v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, '$1:***@');
}

export const httpUrl: FormatCheck = (v) => {
  if (/[\s"'`<>\\]/.test(v)) return 'must be an absolute http(s) URL without spaces or quotes';
  try {
    const url = new URL(v);
    // A model names secrets by environment variable only; a password here would land in the
    // ConfigMap, kong.yml and every other output in clear text.
    if (url.username !== '' || url.password !== '') return 'must not carry credentials ("user:password@"): secrets never appear in a model; give the endpoint without them';
    if ((url.protocol === 'http:' || url.protocol === 'https:') && hasHost(url)) return undefined;
  } catch {
    // fall through
  }
  return 'must be an absolute http(s) URL with a host name or IP address, e.g. https://auth.example.com/.well-known/jwks.json';
};

/** A claim value compared with a token's (`iss`, `aud`): one line of text without control characters. */
export const claimValue: FormatCheck = (v) => {
  const bad = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.exec(v)?.[0];
  if (bad !== undefined) return `must be one line of text without control characters, but contains ${codePoint(bad)}`;
  return /^\s|\s$/.test(v) ? 'must not start or end with white space: no token carries such a value' : undefined;
};

export const envVarName: FormatCheck = (v) =>
  /^[A-Z_][A-Z0-9_]*$/.test(v) ? undefined : 'must be an environment variable name: upper-case letters, digits and "_", not starting with a digit';

/**
 * The variables the generated gateway reads for its own settings (interfaces.md, its env.ts and
 * main.ts) and the Kubernetes target sets on its container. A test checks this list against the
 * gateway's templates. Only these names, not every `GW_` one: `GW_JWT_SECRET` is a fine name for
 * a secret. `GW_UPSTREAM_*` and `OTEL_*` are families (one per service; the OpenTelemetry SDK
 * reads any `OTEL_`).
 */
export const GATEWAY_OWN_ENV: readonly string[] = [
  'PORT',
  'HOST',
  'GWGEN_CONFIG',
  'REDIS_URL',
  'GW_ACCESS_LOG',
  'GW_CLIENT_TIMEOUT_MS',
  'GW_EJECT_AFTER_FAILURES',
  'GW_EJECT_MS',
  'GW_HASH_HEADER',
  'GW_JWKS_CACHE_SECONDS',
  'GW_JWT_CACHE_SIZE',
  'GW_JWT_CLOCK_TOLERANCE_SECONDS',
  'GW_KEEPALIVE_TIMEOUT_MS',
  'GW_MAX_BODY_BYTES',
  'GW_MIRROR_MAX_IN_FLIGHT',
  'GW_MIRROR_TIMEOUT_MS',
  'GW_MTLS_CA',
  'GW_MTLS_CERT',
  'GW_MTLS_KEY',
  'GW_POOL_CONNECTIONS',
  'GW_RATE_LIMIT_MAX_KEYS',
  'GW_REPLAY_BUFFER_BYTES',
  'GW_SHUTDOWN_TIMEOUT_MS',
  'GW_TRUSTED_PROXIES',
  'GW_WORKERS',
];
const GATEWAY_OWN_ENV_FAMILIES = /^(?:GW_UPSTREAM_|OTEL_)/;

/**
 * The variable holding a secret (agw:secretEnv, agw:apiKeyEnv). One of the gateway's own would
 * give one variable two meanings: the gateway would read the secret as its setting (PORT as the
 * listen port), and the Kubernetes Deployment would list the name twice, the Secret's value
 * replacing the one gwgen sets.
 */
export const secretEnvName: FormatCheck = (v) =>
  envVarName(v) ??
  (GATEWAY_OWN_ENV.includes(v) || GATEWAY_OWN_ENV_FAMILIES.test(v)
    ? "is one of the gateway's own settings (see the README's gateway settings): a secret there would replace that setting; name another variable"
    : RUNTIME_ENV.test(v)
      ? 'is read by Node.js, npm, the shell or the dynamic loader the gateway runs on: the Kubernetes Deployment would set it to the secret (NODE_OPTIONS set to a key stops node from starting, PATH set to one loses every program); name another variable'
      : undefined);

/** Variables the gateway's process reads before and beside gwgen's code. */
const RUNTIME_ENV = /^(?:PATH|HOME|HOSTNAME|SHELL|TZ|TMPDIR|UV_THREADPOOL_SIZE|(?:NODE|NPM_CONFIG|LD)_\w*)$/;

/** RFC 9110 token: what an HTTP header name may be. */
export const headerName: FormatCheck = (v) =>
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v) && !/['`]/.test(v) ? undefined : 'must be an HTTP header name (letters, digits and - _ . only)';

/**
 * A request header a gateway matches on (agw:keyHeader, agw:matchHeader): letters, digits, "-"
 * and "_". nginx, and so Kong, ignores request headers with any other character
 * (ignore_invalid_headers), and Kong refuses such names in key_names and route headers.
 */
export const requestHeaderName: FormatCheck = (v) =>
  /^[A-Za-z0-9_-]+$/.test(v) ? undefined : 'must be an HTTP header name of letters, digits, "-" and "_" (nginx-based gateways such as Kong drop request headers with other characters)';

/**
 * A header value gwgen can write into YAML and code safely, and a request can carry: printable
 * ASCII on one line, not starting or ending with a blank (HTTP strips those, RFC 9110 §5.5, so
 * such a value never matches).
 */
export const headerValue: FormatCheck = (v) => {
  if (!/^[\x20-\x7e]*$/.test(v)) return 'must be printable ASCII on one line';
  return /^[ \t]|[ \t]$/.test(v) ? 'must not start or end with a space: HTTP strips those from header values, so the split would never match' : undefined;
};

/** A hostname or IP address for a backend. */
export const hostName: FormatCheck = (v) => {
  if (isIP(v) !== 0) return undefined;
  return /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/.test(v)
    ? undefined
    : 'must be a host name (e.g. orders.shop.svc.cluster.local) or an IP address';
};

/** A container image reference: no spaces, quotes or shell characters. */
export const imageRef: FormatCheck = (v) =>
  /^[a-z0-9][a-z0-9._\-/:@]*$/i.test(v) && v.length <= 512 ? undefined : 'must be a container image reference such as ghcr.io/acme/orders:1.4.2';
