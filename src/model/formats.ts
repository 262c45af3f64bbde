import { isIP } from 'node:net';

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

export const urlPath: FormatCheck = (v) => {
  if (!v.startsWith('/')) return 'must start with "/"';
  const bad = /[\s"'`\\<>^|\u0000-\u001f\u007f]/.exec(v)?.[0];
  if (bad !== undefined) return `must not contain ${describeChar(bad)}: no spaces, quotes, backslashes, < > ^ | or control characters (percent-encode them)`;
  if (v.includes('?') || v.includes('#')) return 'must be a path only: no query string ("?") or fragment ("#")';
  if (v.includes('//')) return 'must not contain an empty segment ("//")';
  const segments = v.slice(1).split('/');
  const params = new Set<string>();
  for (const segment of segments) {
    if (segment === '.' || segment === '..') return 'must not contain "." or ".." segments';
    if (segment.includes('{') || segment.includes('}')) {
      if (!PARAM_SEGMENT.test(segment)) return `has a malformed parameter segment "${segment}": a parameter is a whole segment like {orderId} or {order-id}, its name letters, digits, "_" and "-", starting with a letter or "_"`;
      const name = segment.slice(1, -1);
      if (params.has(name)) return `uses the parameter {${name}} twice`;
      params.add(name);
      continue;
    }
    if (!LITERAL_SEGMENT.test(segment)) return `has an invalid segment "${segment}" (percent-encode other characters)`;
  }
  return undefined;
};

/** `10.0.0.0/8`, `2001:db8::/32`, or a single address. */
export const cidr: FormatCheck = (v) => {
  const [address = '', prefix, extra] = v.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return 'must be an IPv4 or IPv6 address or CIDR block, e.g. 10.0.0.0/8';
  if (prefix === undefined) return undefined;
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  const max = family === 4 ? 32 : 128;
  return bits >= 0 && bits <= max ? undefined : `has an invalid prefix length "/${prefix}" (0-${max})`;
};

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

/** A CORS origin: `*` or `scheme://host[:port]` exactly. */
export const origin: FormatCheck = (v) => {
  if (v === '*') return undefined;
  if (/^https?:\/\/[^/]*\*/.test(v)) return 'must be "*" or one origin: wildcard hosts such as https://*.example.com are not supported (list each origin)';
  try {
    const url = new URL(v);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === v && hasHost(url)) return undefined;
  } catch {
    // fall through
  }
  return 'must be "*" or an origin such as https://app.example.com (scheme, host and optional port; no path or trailing "/")';
};

export const httpUrl: FormatCheck = (v) => {
  if (/[\s"'`<>\\]/.test(v)) return 'must be an absolute http(s) URL without spaces or quotes';
  try {
    const url = new URL(v);
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
