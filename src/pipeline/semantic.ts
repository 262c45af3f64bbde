import { DataFactory, type Store, type Term } from 'n3';
import { problem, type Problem } from '../errors.js';
import { durationSeconds } from '../model/duration.js';
import * as formats from '../model/formats.js';
import type { FormatCheck } from '../model/formats.js';
import { AGW, RDF, shorten, XSD } from '../paths.js';
import { serviceResourceName } from '../targets/mesh-common.js';
import { checkNamespaces, checkPropertyDomains, checkVocabularyTerms } from './vocabulary.js';
import type { LoadedModel } from './load.js';
import { agw, hasType, kebabLocalName, literalValues, objects, RDF_TYPE, subjectsOfType } from './rdf.js';

/** Every object property and the classes its value may have. */
export const REFERENCES: Readonly<Record<string, readonly string[]>> = {
  hasRoute: ['Route'],
  hasServiceMesh: ['ServiceMesh'],
  hasCorsPolicy: ['CorsPolicy'],
  hasDistributedTracing: ['DistributedTracing'],
  hasConsumer: ['Consumer'],
  hasBackendService: ['BackendService'],
  hasRateLimiter: ['RateLimiter'],
  hasCircuitBreaker: ['CircuitBreaker'],
  hasRetryPolicy: ['RetryPolicy'],
  hasTrafficSplit: ['TrafficSplit'],
  hasTrafficMirror: ['TrafficMirror'],
  hasAuthentication: ['JWTAuthentication', 'ApiKey'],
  hasIpRestriction: ['IpRestriction'],
  hasInstance: ['ServiceInstance'],
  hasHealthCheck: ['HealthCheck'],
  hasMutualTLS: ['MutualTLS'],
  hasCertificate: ['Certificate'],
  hasQuotaTier: ['QuotaTier'],
};

/** String properties whose form SHACL cannot check well: (class, property, check). */
const STRING_FORMATS: ReadonlyArray<readonly [string, string, FormatCheck]> = [
  ['Route', 'routePath', formats.urlPath],
  ['IpRestriction', 'allowCidr', formats.cidr],
  ['IpRestriction', 'denyCidr', formats.cidr],
  ['CorsPolicy', 'allowOrigin', formats.origin],
  ['CorsPolicy', 'allowHeader', formats.headerName],
  ['JWTAuthentication', 'jwksUri', formats.httpUrl],
  ['JWTAuthentication', 'secretEnv', formats.secretEnvName],
  ['JWTAuthentication', 'requiredScope', formats.claimValue],
  ['JWTAuthentication', 'issuer', formats.claimValue],
  ['JWTAuthentication', 'audience', formats.claimValue],
  ['Consumer', 'apiKeyEnv', formats.secretEnvName],
  ['DistributedTracing', 'collectorEndpoint', formats.httpUrl],
  ['ApiKey', 'keyHeader', formats.requestHeaderName],
  ['TrafficSplit', 'matchHeader', formats.requestHeaderName],
  ['TrafficSplit', 'matchHeaderValue', formats.headerValue],
  ['BackendService', 'host', formats.hostName],
  ['ServiceInstance', 'host', formats.hostName],
  ['BackendService', 'image', formats.imageRef],
  ['HealthCheck', 'healthCheckPath', formats.urlPath],
];

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/**
 * The rules of vocabulary.md that SHACL Core cannot express (uniqueness across nodes, sums,
 * route conflicts, references, string formats). Every rule runs; all problems are returned.
 */
export function checkSemantics(model: LoadedModel): Problem[] {
  const { store, locator } = model;
  const problems: Problem[] = [];
  const report = (node: Term, property: string | undefined, rule: string, message: string, hint: string) =>
    problems.push(
      problem('semantic', message, {
        rule,
        hint,
        location: { ...((property !== undefined ? locator.locateProperty(node, AGW + property) : undefined) ?? locator.locate(node)), ...(property ? { property: `agw:${property}` } : {}) },
      }),
    );

  checkVocabularyTerms(store, report);
  checkPropertyDomains(store, report);
  checkLists(store, report);
  checkGateway(store, report);
  checkReferences(store, report);
  checkUniqueNames(store, report);
  checkKubernetesServiceNames(store, report);
  checkRoutes(store, report);
  checkStringFormats(store, report);
  checkAuthentication(store, report);
  checkDurations(store, report);
  checkFiniteNumbers(store, report);
  checkWebSocketBackends(store, report);
  problems.push(...checkNamespaces(model));
  return problems;
}

export type Report = (node: Term, property: string | undefined, rule: string, message: string, hint: string) => void;

function checkGateway(store: Store, report: Report): void {
  const gateways = subjectsOfType(store, 'ApiGateway');
  if (gateways.length === 0) {
    const anyRoute = subjectsOfType(store, 'Route')[0] ?? store.getSubjects(null, null, null)[0];
    if (anyRoute) {
      report(anyRoute, undefined, 'one-gateway', 'the model has no agw:ApiGateway', 'add exactly one node `a agw:ApiGateway` with agw:gatewayName and agw:hasRoute for each route');
    }
    return;
  }
  for (const extra of gateways.slice(1)) {
    report(extra, undefined, 'one-gateway', `the model has ${gateways.length} agw:ApiGateway nodes; exactly one is allowed`, 'merge the gateways into one, or generate each from its own model');
  }
  const attached = new Set(gateways.flatMap((g) => objects(store, g, 'hasRoute')).map((t) => t.value));
  for (const route of subjectsOfType(store, 'Route')) {
    if (!attached.has(route.value)) {
      report(route, undefined, 'route-not-attached', 'this agw:Route is not attached to the gateway', 'add `agw:hasRoute` from the agw:ApiGateway to this route, or remove the route');
    }
  }
  // A consumer's key opens the gateway: one the gateway does not list (its agw:hasConsumer
  // removed to revoke it, say) must not be let in quietly.
  const listed = new Set(gateways.flatMap((g) => objects(store, g, 'hasConsumer')).map((t) => t.value));
  for (const consumer of subjectsOfType(store, 'Consumer')) {
    if (!listed.has(consumer.value)) {
      report(consumer, undefined, 'consumer-not-attached', 'this agw:Consumer is not attached to the gateway', 'add `agw:hasConsumer` from the agw:ApiGateway to this consumer, or remove the consumer');
    }
  }
}

const RDF_FIRST = `${RDF}first`;
const RDF_REST = `${RDF}rest`;
const RDF_NIL = `${RDF}nil`;

/** `( … )` in Turtle: the empty list rdf:nil, or a blank node that starts a list. */
function isList(store: Store, term: Term): boolean {
  return (term.termType === 'NamedNode' && term.value === RDF_NIL) || (term.termType === 'BlankNode' && store.countQuads(term, RDF_FIRST, null, null) > 0);
}

/**
 * A Turtle list, `agw:httpMethod ("GET" "POST")`, is one value: an rdf:List node, which no
 * query reads as the values in it. Its own message says so and how to write several values;
 * SHACL's (a blank node where a string belongs) and the reference checks' (rdf:nil is "not
 * defined anywhere") would describe the list's encoding instead.
 */
function checkLists(store: Store, report: Report): void {
  // From the lists to what points at them: models rarely hold any, and a pass over every quad costs.
  const heads = [...store.getSubjects(RDF_FIRST, null, null), DataFactory.namedNode(RDF_NIL)];
  const uses = heads.flatMap((head) => store.getQuads(null, null, head, null));
  for (const quad of uses) {
    if (!quad.predicate.value.startsWith(AGW) || !isList(store, quad.object)) continue;
    const local = quad.predicate.value.slice(AGW.length);
    const items: string[] = [];
    for (let cell: Term | undefined = quad.object; cell && cell.value !== RDF_NIL && items.length <= 3; cell = store.getObjects(cell, RDF_REST, null)[0]) {
      const item = store.getObjects(cell, RDF_FIRST, null)[0];
      items.push(item === undefined ? '…' : item.termType === 'Literal' ? JSON.stringify(item.value) : item.termType === 'NamedNode' ? describeIri(item.value) : '[ … ]');
    }
    const shown = items.length > 3 ? [...items.slice(0, 3), '…'] : items;
    const values = shown.length > 0 ? shown.join(', ') : 'value1, value2';
    report(
      quad.subject,
      local,
      'rdf-list',
      shown.length > 0
        ? `agw:${local} is given the Turtle list ( ${shown.join(' ')} ): a list is one value (an rdf:List node), not the values in it, so gwgen would not read them`
        : `agw:${local} is given the empty Turtle list (): that is one value (rdf:nil), not the absence of one`,
      shown.length > 0 ? `separate the values with commas, without parentheses: agw:${local} ${values} .` : `remove agw:${local}, or give it values separated by commas: agw:${local} ${values} .`,
    );
  }
}

/** `agw:Route` for a term of a known namespace, `<https://example.org/m#a>` otherwise. */
function describeIri(iri: string): string {
  const short = shorten(iri);
  return short === iri ? `<${iri}>` : short;
}

function checkReferences(store: Store, report: Report): void {
  for (const [property, classes] of Object.entries(REFERENCES)) {
    for (const quad of store.getQuads(null, agw(property), null, null)) {
      const target = quad.object;
      if (isList(store, target)) continue;
      const expected = classes.map((c) => `agw:${c}`).join(' or ');
      if (target.termType === 'Literal') {
        report(quad.subject, property, 'reference', `agw:${property} must point to a node (${expected}), not the literal ${JSON.stringify(target.value)}`, 'write the IRI of the node without quotes, e.g. agw:hasBackendService ex:orders');
        continue;
      }
      // A blank node's label is the parser's ("b0"), in no file: it is named by its place instead.
      const blank = target.termType === 'BlankNode';
      const named = blank ? 'a blank node' : `<${target.value}>`;
      if (store.countQuads(target, null, null, null) === 0) {
        const hint = blank ? `describe it inside the brackets: \`[ a ${expected} ; … ]\`` : `define it (\`<${target.value}> a ${expected} ; …\`) or fix the IRI (a typo in the local name is the usual cause)`;
        report(quad.subject, property, 'dangling-reference', `agw:${property} refers to ${named}, which ${blank ? 'is empty' : 'is not defined anywhere in the model'}`, hint);
        continue;
      }
      if (!classes.some((c) => hasType(store, target, c))) {
        const actual = store.getObjects(target, RDF_TYPE, null).map((t) => shorten(t.value));
        const where = blank ? `state the class inside the brackets: \`[ a ${expected} ; … ]\`` : `or state the class with \`a ${expected}\``;
        report(quad.subject, property, 'reference-class', `agw:${property} refers to ${named}, which is ${actual.length ? `a ${actual.join(', ')}` : 'a node without rdf:type'}, but must be ${expected}`, blank ? where : `point agw:${property} at a ${expected}, ${where}`);
      }
    }
  }
}

function checkUniqueNames(store: Store, report: Report): void {
  const unique = (cls: string, property: string, fallback?: (node: Term) => string) => {
    const seen = new Map<string, Term>();
    for (const node of subjectsOfType(store, cls)) {
      const names = literalValues(store, node, property);
      const name = names[0] ?? fallback?.(node);
      if (name === undefined) continue;
      if (names.length === 0 && formats.dnsLabel(name)) {
        const why =
          node.termType !== 'NamedNode'
            ? 'and as a blank node it has no IRI to derive a name from'
            : name === ''
              ? 'and its IRI has no local name to derive a name from (nothing after its last "/", "#" or ":")'
              : `and the name derived from its IRI ("${name}") is not a DNS label`;
        report(node, property, 'derived-name', `this agw:${cls} has no agw:${property}, ${why}`, `add agw:${property} "a-dns-label"`);
        continue;
      }
      const first = seen.get(name);
      if (first) report(node, property, `duplicate-${kebabLocalName(property)}`, `agw:${property} "${name}" is already used by <${first.value}>`, `give every agw:${cls} its own agw:${property}`);
      else seen.set(name, node);
    }
  };
  unique('BackendService', 'serviceName');
  // Both default to the IRI's local name (build-model.ts); a blank node has none to give.
  const derived = (node: Term) => (node.termType === 'NamedNode' ? kebabLocalName(node.value) : '');
  unique('Route', 'routeName', derived);
  unique('Consumer', 'consumerName', derived);
}

/**
 * Two services gwgen deploys (agw:image) to one namespace must not get one Kubernetes Service
 * name: "9lives" is written as Service svc-9lives (a Service name starts with a letter), which
 * a service named "svc-9lives" also is, and the second Service would replace the first.
 */
function checkKubernetesServiceNames(store: Store, report: Report): void {
  const seen = new Map<string, { node: Term; name: string }>();
  for (const node of subjectsOfType(store, 'BackendService')) {
    const name = literalValues(store, node, 'serviceName')[0];
    if (name === undefined || formats.dnsLabel(name) !== undefined || literalValues(store, node, 'image').length === 0) continue;
    const namespace = literalValues(store, node, 'namespace')[0] ?? 'default';
    const key = `${namespace}/${serviceResourceName(name)}`;
    const first = seen.get(key);
    if (!first) seen.set(key, { node, name });
    else if (first.name !== name) {
      report(node, 'serviceName', 'kubernetes-service-name', `agw:serviceName "${name}" and "${first.name}" (<${first.node.value}>) are both deployed to namespace ${namespace} as Kubernetes Service ${serviceResourceName(name)} (a Service name starts with a letter, so a name starting with a digit gets the prefix "svc-")`, 'rename one of the two services, or deploy them to different agw:namespace values');
    }
  }
}

/** `/a/{id}/b` and `/a/{x}/b` match the same requests. */
function pathKey(path: string): string {
  return formats.normalPath(path).replace(/\{[^}]*\}/g, '{}').replace(/\/+$/, '') || '/';
}

function checkRoutes(store: Store, report: Report): void {
  const byPath = new Map<string, Array<{ route: Term; methods: Set<string> }>>();
  for (const route of subjectsOfType(store, 'Route')) {
    const [path] = literalValues(store, route, 'routePath');
    const declared = literalValues(store, route, 'httpMethod');
    const methods = new Set(declared.length ? declared : ALL_METHODS);
    if (path !== undefined) {
      const key = pathKey(path);
      const others = byPath.get(key) ?? [];
      for (const other of others) {
        const overlap = [...methods].filter((m) => other.methods.has(m));
        if (overlap.length > 0) {
          report(route, 'routePath', 'route-conflict', `path "${path}" with method${overlap.length > 1 ? 's' : ''} ${overlap.join(', ')} is already served by <${other.route.value}>`, 'give the routes different paths, or split agw:httpMethod so no method appears on both');
          break;
        }
      }
      others.push({ route, methods });
      byPath.set(key, others);
    }

    const backends = objects(store, route, 'hasBackendService');
    const splits = objects(store, route, 'hasTrafficSplit');
    // A Turtle list of splits or backends is reported as such (checkLists); read as a split or a
    // backend it would only add messages about a node the user never wrote.
    if ([...backends, ...splits].some((t) => isList(store, t))) continue;
    const weighted = splits.filter((s) => objects(store, s, 'matchHeader').length === 0);
    if (backends.length === 0 && splits.length === 0) {
      report(route, 'hasBackendService', 'route-backend', 'this route has neither agw:hasBackendService nor agw:hasTrafficSplit, so requests have nowhere to go', 'add agw:hasBackendService ex:someService, or weighted agw:hasTrafficSplit nodes');
    } else if (backends.length === 0 && weighted.length === 0) {
      report(route, 'hasBackendService', 'route-backend', 'this route has only header-matched traffic splits; requests without the header have nowhere to go', 'add agw:hasBackendService for the default backend, or weighted splits');
    } else if (backends.length > 0 && weighted.length > 0) {
      report(route, 'hasBackendService', 'route-backend', 'this route has both agw:hasBackendService and weighted traffic splits; the splits already decide where every request goes', 'remove agw:hasBackendService, or make the splits header-matched (agw:matchHeader) canaries');
    }
    if (weighted.length > 0) {
      let sum = 0;
      let complete = true;
      for (const split of weighted) {
        const [weight] = literalValues(store, split, 'weight');
        if (weight === undefined) {
          report(split, 'weight', 'split-weight', 'this traffic split has neither agw:weight nor agw:matchHeader', 'add agw:weight (percent of the route\'s traffic) or agw:matchHeader + agw:matchHeaderValue');
          complete = false;
        } else sum += Number(weight);
      }
      if (complete && sum !== 100) {
        report(route, 'hasTrafficSplit', 'split-sum', `the weights of this route's traffic splits sum to ${sum}, not 100`, 'adjust agw:weight on the splits so they add up to 100');
      }
    }
    const headerKeys = new Set<string>();
    for (const split of splits) {
      const header = literalValues(store, split, 'matchHeader')[0];
      const value = literalValues(store, split, 'matchHeaderValue')[0];
      if ((header === undefined) !== (value === undefined)) {
        report(split, header === undefined ? 'matchHeader' : 'matchHeaderValue', 'split-header', 'a header-matched split needs both agw:matchHeader and agw:matchHeaderValue', 'add the missing one, e.g. agw:matchHeader "x-canary" ; agw:matchHeaderValue "true"');
      }
      if (header !== undefined && literalValues(store, split, 'weight').length > 0) {
        report(split, 'weight', 'split-header', 'a header-matched split takes every matching request, so it has no agw:weight', 'remove agw:weight from this split, or remove agw:matchHeader to make it a weighted split');
      }
      if (header !== undefined && value !== undefined) {
        const key = `${header.toLowerCase()}=${value}`;
        if (headerKeys.has(key)) report(split, 'matchHeader', 'split-header', `another split of this route already matches ${header}: ${value}`, 'give each header-matched split a distinct header value');
        headerKeys.add(key);
      }
    }
  }
}

/** A well-formed value of each checked property, for the hint. */
const FORMAT_EXAMPLES: Readonly<Record<string, string>> = {
  routePath: '"/orders/{orderId}"',
  allowCidr: '"10.0.0.0/8"',
  denyCidr: '"192.0.2.0/24"',
  allowOrigin: '"https://app.example.com" (or "*")',
  allowHeader: '"Content-Type"',
  jwksUri: '"https://auth.example.com/.well-known/jwks.json"',
  secretEnv: '"JWT_SECRET"',
  requiredScope: '"orders:read"',
  issuer: '"https://auth.example.com/"',
  audience: '"orders-api"',
  apiKeyEnv: '"ALICE_API_KEY"',
  collectorEndpoint: '"http://otel-collector:4318"',
  keyHeader: '"X-API-Key"',
  matchHeader: '"x-canary"',
  matchHeaderValue: '"true"',
  host: '"orders.shop.svc.cluster.local"',
  image: '"ghcr.io/acme/orders:1.4.2"',
  healthCheckPath: '"/healthz"',
};

/**
 * A value as a message quotes it: JSON-quoted, so that quotes and line breaks in it stay visible,
 * and cut after 120 characters, so that a 60 KB value does not bury the message (the location
 * says where the whole value is).
 */
function shownValue(value: string): string {
  const chars = [...value];
  return chars.length <= 120 ? JSON.stringify(value) : `${JSON.stringify(chars.slice(0, 100).join(''))}… (${chars.length} characters)`;
}

function checkStringFormats(store: Store, report: Report): void {
  for (const [cls, property, check] of STRING_FORMATS) {
    for (const node of subjectsOfType(store, cls)) {
      for (const value of literalValues(store, node, property)) {
        const reason = check(value);
        const example = FORMAT_EXAMPLES[property];
        if (reason) report(node, property, 'format', `agw:${property} ${shownValue(formats.redactCredentials(value))} ${reason}`, example ? `write it like agw:${property} ${example}` : `fix the value of agw:${property}`);
      }
    }
  }
}

function checkAuthentication(store: Store, report: Report): void {
  for (const jwt of subjectsOfType(store, 'JWTAuthentication')) {
    const algorithms = literalValues(store, jwt, 'algorithm');
    const hasJwks = objects(store, jwt, 'jwksUri').length > 0;
    const hasSecret = objects(store, jwt, 'secretEnv').length > 0;
    if (algorithms.includes('HS256') && !hasSecret) {
      report(jwt, 'secretEnv', 'jwt-keys', 'agw:algorithm "HS256" needs agw:secretEnv, the environment variable holding the shared secret', 'add agw:secretEnv "MY_JWT_SECRET", or drop HS256');
    }
    if (algorithms.some((a) => a === 'RS256' || a === 'ES256') && !hasJwks) {
      report(jwt, 'jwksUri', 'jwt-keys', `agw:algorithm ${algorithms.filter((a) => a !== 'HS256').join(', ')} needs agw:jwksUri to fetch the public keys`, 'add agw:jwksUri "https://issuer.example.com/.well-known/jwks.json"');
    }
  }
}

/**
 * A WebSocket is an HTTP/1.1 upgrade, and a gRPC service is reached over HTTP/2, which has no
 * upgrade: such a route could never connect its WebSockets.
 */
function checkWebSocketBackends(store: Store, report: Report): void {
  for (const route of subjectsOfType(store, 'Route')) {
    if (!literalValues(store, route, 'websocket').includes('true')) continue;
    const services = [
      ...objects(store, route, 'hasBackendService'),
      ...objects(store, route, 'hasTrafficSplit').flatMap((split) => objects(store, split, 'hasBackendService')),
    ];
    for (const service of services) {
      if (literalValues(store, service, 'protocol').includes('grpc')) {
        report(route, 'websocket', 'websocket-grpc', `agw:websocket true on a route to the gRPC service ${service.value}: WebSockets need HTTP/1.1, gRPC is reached over HTTP/2`, 'drop agw:websocket from this route, or send its WebSockets to a service with agw:protocol "http" or "https"');
      }
    }
  }
}

const NUMERIC = new Set(['integer', 'decimal', 'double', 'float'].map((t) => XSD + t));

const XSD_INTEGER = XSD + 'integer';

/**
 * `1e400` is a valid xsd:double, and passes every sh:minInclusive, but it is Infinity: no
 * target can hold it (nor "INF" or "NaN"), so it is refused here rather than written as null.
 * An integer beyond 2^53 - 1 passes too, but JavaScript (the gateway, and gwgen writing every
 * target) holds it only rounded: 9007199254740993 would be written as ...992, silently.
 */
function checkFiniteNumbers(store: Store, report: Report): void {
  for (const quad of store.getQuads(null, null, null, null)) {
    const o = quad.object;
    if (o.termType !== 'Literal' || !quad.predicate.value.startsWith(AGW) || !NUMERIC.has(o.datatype.value)) continue;
    const value = Number(o.value);
    const property = quad.predicate.value.slice(AGW.length);
    if (!Number.isFinite(value))
      report(quad.subject, property, 'format', `agw:${property} ${o.value} is not a finite number`, `give a number within range, e.g. agw:${property} 30`);
    else if (o.datatype.value === XSD_INTEGER && !Number.isSafeInteger(value))
      report(
        quad.subject,
        property,
        'format',
        `agw:${property} ${o.value} is too large to be written exactly (the largest integer gwgen writes is ${Number.MAX_SAFE_INTEGER})`,
        `give a number within range, e.g. agw:${property} 30`,
      );
  }
}

/** Durations that are intervals: a health check every 0 s (or -10 s) is no schedule. */
const POSITIVE_DURATIONS: ReadonlyArray<readonly [string, string]> = [
  ['HealthCheck', 'healthCheckInterval'],
  ['Certificate', 'rotationPeriod'],
];

function checkDurations(store: Store, report: Report): void {
  for (const [cls, property] of POSITIVE_DURATIONS) {
    for (const node of subjectsOfType(store, cls)) {
      for (const value of literalValues(store, node, property)) {
        const seconds = durationSeconds(value);
        if (seconds !== undefined && seconds <= 0) {
          report(node, property, 'format', `agw:${property} ${JSON.stringify(value)} is not a positive duration`, `give a duration greater than zero, e.g. agw:${property} "PT10S"^^xsd:duration`);
        }
      }
    }
  }
}
