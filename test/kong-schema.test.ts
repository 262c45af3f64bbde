// Checks test/schemas/kong-declarative.schema.json: one realistic kong.yml must validate,
// and each mutation of it in the table below must be rejected at the expected place.
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
// Named import: ajv is CommonJS, and under TypeScript's NodeNext resolution its default import is the module
// object, not the class. The named export is the class under both NodeNext and bundler resolution.
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { parse } from 'yaml';

// Mutations poke at arbitrary JSON.
type Json = any;

const schemaUrl = new URL('./schemas/kong-declarative.schema.json', import.meta.url);
const schema: Json = JSON.parse(readFileSync(schemaUrl, 'utf8'));

const warnings: unknown[][] = [];
const ajv = new Ajv({
  allErrors: true,
  strict: true,
  logger: { log: () => undefined, warn: (...args: unknown[]) => warnings.push(args), error: (...args: unknown[]) => warnings.push(args) },
});
const validate = ajv.compile(schema);

const CERT = `-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUQ2d3Z2VuLXRlc3QtY2VydC1ub3QtcmVhbDAKBggqhkjOPQQDAjAX
-----END CERTIFICATE-----
`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZ3dnZW4tdGVzdC1rZXk=
-----END PRIVATE KEY-----
`;
const PUBKEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAZ3dnZW4tdGVzdC1wdWJrZXk=
-----END PUBLIC KEY-----
`;
const CLIENT_CERT_ID = '6f1c1a52-3b0e-5d7a-9c41-2f7d0c4e8a11';
const CA_CERT_ID = '0b5e2c6d-8f4a-5e21-b7c3-91d4a6f0e233';

const indent = (pem: string, spaces: number): string =>
  pem
    .trimEnd()
    .split('\n')
    .map((line) => ' '.repeat(spaces) + line)
    .join('\n');

// A kong.yml in the shape gwgen emits: nested routes/targets/credentials, string refs only at the top level.
const VALID_YAML = `
_format_version: "3.0"
_transform: true
_info:
  select_tags: [gwgen]
services:
  - name: orders-svc
    protocol: https
    host: orders.upstream
    port: 443
    path: /api
    retries: 3
    connect_timeout: 2000
    read_timeout: 15000
    write_timeout: 15000
    tls_verify: true
    tls_verify_depth: 2
    client_certificate: ${CLIENT_CERT_ID}
    ca_certificates: [${CA_CERT_ID}]
    enabled: true
    tags: [gwgen, orders]
    routes:
      - name: orders-list
        protocols: [http, https]
        methods: [GET, POST]
        hosts: [api.example.com, "*.orders.example.com"]
        paths: [/orders]
        strip_path: false
        preserve_host: false
        regex_priority: 200
        path_handling: v0
        https_redirect_status_code: 308
        request_buffering: true
        response_buffering: true
        tags: [gwgen, orders]
      - name: orders-by-id
        methods: [GET, PUT, DELETE]
        paths: ["~/orders/(?<id>[^/]+)$"]
        strip_path: false
        regex_priority: 100
        tags: [gwgen, orders]
        plugins:
          - name: jwt
            config:
              key_claim_name: iss
              claims_to_verify: [exp, nbf]
              maximum_expiration: 3600
              header_names: [authorization]
              run_on_preflight: true
            tags: [gwgen, orders]
          - name: rate-limiting
            instance_name: orders-by-id-redis
            config:
              second: 5
              minute: 100
              hour: 2000
              limit_by: header
              header_name: X-Tenant-Id
              policy: redis
              sync_rate: 0.5
              fault_tolerant: true
              hide_client_headers: false
              error_code: 429
              error_message: Too many requests
              redis:
                host: redis.internal
                port: 6379
                timeout: 2000
                password: "{vault://env/redis-password}"
                database: 0
                ssl: true
                ssl_verify: true
                server_name: redis.internal
            tags: [gwgen, orders]
    plugins:
      - name: key-auth
        config:
          key_names: [apikey, X-API-Key]
          hide_credentials: true
          key_in_header: true
          key_in_query: false
          key_in_body: false
          run_on_preflight: false
        tags: [gwgen, orders]
      - name: rate-limiting
        protocols: [http, https]
        config:
          minute: 60
          hour: 1000
          limit_by: consumer
          policy: local
        tags: [gwgen, orders]
      - name: cors
        config:
          origins: ["https://app.example.com", "https://.*\\\\.example\\\\.com"]
          methods: [GET, POST, PUT, DELETE, OPTIONS]
          headers: [Authorization, Content-Type, X-API-Key]
          exposed_headers: [X-Request-Id]
          max_age: 3600
          credentials: true
          private_network: false
          preflight_continue: false
        tags: [gwgen, orders]
      - name: ip-restriction
        config:
          allow: [10.0.0.0/8, 192.168.1.10, "2001:db8::/32", "::1"]
          deny: [10.66.0.0/16]
          status: 403
          message: Forbidden
        tags: [gwgen, orders]
  - name: orders-canary-svc
    protocol: http
    host: orders-v2.upstream
    port: 80
    path: /
    tags: [gwgen, orders, canary]
    routes:
      - name: orders-canary
        paths: [/orders]
        headers:
          x-canary: ["true"]
        strip_path: false
        tags: [gwgen, orders, canary]
        plugins:
          - name: request-transformer
            config:
              add:
                headers: ["x-gwgen-canary:true"]
              rename:
                headers: ["x-old:x-new"]
              remove:
                querystring: [debug]
            tags: [gwgen, canary]
upstreams:
  - name: orders.upstream
    algorithm: least-connections
    slots: 10000
    healthchecks:
      threshold: 50
      active:
        type: https
        http_path: /healthz
        timeout: 2
        concurrency: 5
        https_sni: orders.internal
        https_verify_certificate: true
        headers:
          x-health-probe: [gwgen]
        healthy:
          interval: 5
          successes: 2
          http_statuses: [200, 302]
        unhealthy:
          interval: 5
          http_failures: 3
          tcp_failures: 2
          timeouts: 3
          http_statuses: [429, 500, 502, 503, 504]
      passive:
        type: https
        healthy:
          successes: 5
          http_statuses: [200, 201, 202, 204]
        unhealthy:
          http_failures: 5
          tcp_failures: 2
          timeouts: 3
          http_statuses: [500, 503]
    tags: [gwgen, orders]
    targets:
      - target: orders-v1.internal:8443
        weight: 90
        tags: [gwgen, orders]
      - target: 10.0.3.17:8443
        weight: 10
        tags: [gwgen, orders]
  - name: orders-v2.upstream
    algorithm: consistent-hashing
    hash_on: header
    hash_on_header: X-User-Id
    hash_fallback: ip
    healthchecks:
      active:
        type: http
        http_path: /healthz
        healthy: { interval: 10, successes: 1 }
        unhealthy: { interval: 10, http_failures: 2, timeouts: 2 }
      passive:
        type: http
        unhealthy: { http_failures: 3, timeouts: 3 }
    tags: [gwgen, orders, canary]
    targets:
      - target: orders-v2-a.internal:8080
        weight: 100
        tags: [gwgen, canary]
      - target: "[2001:db8::10]:8080"
        weight: 0
        tags: [gwgen, canary]
consumers:
  - username: alice
    custom_id: crm-1001
    tags: [gwgen, consumers]
    keyauth_credentials:
      - key: "{vault://env/orders-key}"
        tags: [gwgen, consumers]
    jwt_secrets:
      - key: https://issuer.example.com
        algorithm: HS256
        secret: "{vault://env/alice-jwt-secret}"
        tags: [gwgen, consumers]
    plugins:
      - name: rate-limiting
        config:
          minute: 600
        tags: [gwgen, consumers]
  - custom_id: partner-42
    tags: [gwgen, consumers]
    keyauth_credentials:
      - key: partner-42-static-key
        ttl: 86400
        tags: [gwgen, consumers]
    jwt_secrets:
      - key: partner-42-issuer
        algorithm: RS256
        secret: partner-42-unused-hmac-secret
        rsa_public_key: |
${indent(PUBKEY, 10)}
        tags: [gwgen, consumers]
plugins:
  - name: prometheus
    config:
      per_consumer: false
      status_code_metrics: true
      latency_metrics: true
      bandwidth_metrics: true
      upstream_health_metrics: true
    tags: [gwgen, observability]
  - name: rate-limiting
    consumer: alice
    service: orders-svc
    config:
      minute: 1000
      policy: local
    tags: [gwgen, consumers]
certificates:
  - id: ${CLIENT_CERT_ID}
    cert: |
${indent(CERT, 6)}
    key: |
${indent(KEY, 6)}
    tags: [gwgen, mtls]
ca_certificates:
  - id: ${CA_CERT_ID}
    cert: |
${indent(CERT, 6)}
    tags: [gwgen, mtls]
`;

const VALID: Json = parse(VALID_YAML);

function check(doc: unknown): { valid: boolean; errors: ErrorObject[] } {
  const valid = validate(doc) as boolean;
  return { valid, errors: [...(validate.errors ?? [])] };
}

const describeErrors = (errors: ErrorObject[]): string =>
  errors.map((e) => `${e.instancePath || '/'} ${e.keyword} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');

interface Mutation {
  name: string;
  mutate: (doc: Json) => void;
  /** Expected instancePath of at least one error (exact match). */
  path?: string;
  /** Expected keyword of that error. */
  keyword?: string;
}

const S0 = '/services/0';
const U0 = '/upstreams/0';
const RL = `${S0}/plugins/1`; // service-level rate-limiting (policy local)
const IPR = `${S0}/plugins/3`; // service-level ip-restriction

const MUTATIONS: Mutation[] = [
  { name: 'paths is a number', mutate: (d) => { d.services[0].routes[0].paths = 5; }, path: `${S0}/routes/0/paths`, keyword: 'type' },
  { name: 'unknown top-level key gateways', mutate: (d) => { d.gateways = []; }, path: '', keyword: 'additionalProperties' },
  { name: '_format_version as a number', mutate: (d) => { d._format_version = 3.0; }, path: '/_format_version', keyword: 'type' },
  { name: '_format_version "2.1"', mutate: (d) => { d._format_version = '2.1'; }, path: '/_format_version', keyword: 'const' },
  { name: 'missing _format_version', mutate: (d) => { delete d._format_version; }, path: '', keyword: 'required' },
  { name: '_comment key', mutate: (d) => { d._comment = 'generated by gwgen'; }, path: '', keyword: 'additionalProperties' },
  { name: 'service without name', mutate: (d) => { delete d.services[0].name; }, path: S0, keyword: 'required' },
  { name: 'service without host (or url)', mutate: (d) => { delete d.services[1].host; }, path: '/services/1', keyword: 'required' },
  { name: 'service url combined with host', mutate: (d) => { d.services[1].url = 'http://orders-v2.upstream:80/'; }, path: '/services/1/host', keyword: 'false schema' },
  { name: 'port as a string', mutate: (d) => { d.services[0].port = '80'; }, path: `${S0}/port`, keyword: 'type' },
  { name: 'port out of range', mutate: (d) => { d.services[0].port = 70000; }, path: `${S0}/port`, keyword: 'maximum' },
  { name: 'unknown service field timeout', mutate: (d) => { d.services[0].timeout = 5000; }, path: S0, keyword: 'additionalProperties' },
  { name: 'connect_timeout 0', mutate: (d) => { d.services[0].connect_timeout = 0; }, path: `${S0}/connect_timeout`, keyword: 'minimum' },
  { name: 'tls_verify on an http service', mutate: (d) => { d.services[1].tls_verify = true; }, path: '/services/1/tls_verify', keyword: 'false schema' },
  { name: 'ca_certificates item not a UUID', mutate: (d) => { d.services[0].ca_certificates = ['my-ca']; }, path: `${S0}/ca_certificates/0`, keyword: 'pattern' },
  { name: 'methods ["GETX"]', mutate: (d) => { d.services[0].routes[0].methods = ['GETX']; }, path: `${S0}/routes/0/methods/0`, keyword: 'enum' },
  { name: 'route path without leading slash', mutate: (d) => { d.services[0].routes[0].paths = ['orders']; }, path: `${S0}/routes/0/paths/0`, keyword: 'pattern' },
  { name: 'route without name', mutate: (d) => { delete d.services[0].routes[1].name; }, path: `${S0}/routes/1`, keyword: 'required' },
  { name: 'route protocols mix http and tcp', mutate: (d) => { d.services[0].routes[0].protocols = ['http', 'tcp']; }, path: `${S0}/routes/0/protocols`, keyword: 'anyOf' },
  { name: 'route headers include host', mutate: (d) => { d.services[1].routes[0].headers = { Host: ['x'] }; }, path: '/services/1/routes/0/headers', keyword: 'propertyNames' },
  { name: 'http route with no matcher', mutate: (d) => { delete d.services[1].routes[0].paths; delete d.services[1].routes[0].headers; }, path: '/services/1/routes/0', keyword: 'anyOf' },
  { name: 'upstream algorithm random', mutate: (d) => { d.upstreams[0].algorithm = 'random'; }, path: `${U0}/algorithm`, keyword: 'enum' },
  { name: 'hash_on header without hash_on_header', mutate: (d) => { delete d.upstreams[1].hash_on_header; }, path: '/upstreams/1', keyword: 'required' },
  { name: 'healthcheck typo sucesses', mutate: (d) => { d.upstreams[0].healthchecks.active.healthy.sucesses = 2; }, path: `${U0}/healthchecks/active/healthy`, keyword: 'additionalProperties' },
  { name: 'healthcheck counter above 255', mutate: (d) => { d.upstreams[0].healthchecks.passive.unhealthy.http_failures = 300; }, path: `${U0}/healthchecks/passive/unhealthy/http_failures`, keyword: 'maximum' },
  { name: 'passive healthcheck with interval', mutate: (d) => { d.upstreams[0].healthchecks.passive.healthy.interval = 5; }, path: `${U0}/healthchecks/passive/healthy`, keyword: 'additionalProperties' },
  { name: 'target without port', mutate: (d) => { d.upstreams[0].targets[0].target = 'orders-v1.internal'; }, path: `${U0}/targets/0/target`, keyword: 'pattern' },
  { name: 'target without target', mutate: (d) => { delete d.upstreams[0].targets[0].target; }, path: `${U0}/targets/0`, keyword: 'required' },
  { name: 'target weight above 65535', mutate: (d) => { d.upstreams[0].targets[0].weight = 70000; }, path: `${U0}/targets/0/weight`, keyword: 'maximum' },
  { name: 'plugin without name', mutate: (d) => { delete d.plugins[0].name; }, path: '/plugins/0', keyword: 'required' },
  { name: 'unknown plugin name', mutate: (d) => { d.plugins[0].name = 'no-such-plugin'; }, path: '/plugins/0/name', keyword: 'enum' },
  { name: 'rate-limiting minute "lots"', mutate: (d) => { d.services[0].plugins[1].config = { minute: 'lots' }; }, path: `${RL}/config/minute`, keyword: 'type' },
  { name: 'rate-limiting unknown config key', mutate: (d) => { d.services[0].plugins[1].config.bogus_field = true; }, path: `${RL}/config`, keyword: 'additionalProperties' },
  { name: 'rate-limiting with no window', mutate: (d) => { d.services[0].plugins[1].config = { policy: 'local' }; }, path: `${RL}/config`, keyword: 'anyOf' },
  { name: 'rate-limiting minute 0', mutate: (d) => { d.services[0].plugins[1].config.minute = 0; }, path: `${RL}/config/minute`, keyword: 'exclusiveMinimum' },
  { name: 'rate-limiting policy cluster (DB-less)', mutate: (d) => { d.services[0].plugins[1].config.policy = 'cluster'; }, path: `${RL}/config/policy`, keyword: 'enum' },
  { name: 'rate-limiting policy redis without redis.host', mutate: (d) => { delete d.services[0].routes[1].plugins[1].config.redis.host; }, path: `${S0}/routes/1/plugins/1/config/redis`, keyword: 'required' },
  { name: 'rate-limiting sync_rate with policy local', mutate: (d) => { d.services[0].plugins[1].config.sync_rate = 1; }, path: `${RL}/config/sync_rate`, keyword: 'const' },
  { name: 'rate-limiting deprecated flat redis_host', mutate: (d) => { d.services[0].plugins[1].config.redis_host = 'redis'; }, path: `${RL}/config`, keyword: 'additionalProperties' },
  { name: 'ip-restriction with neither allow nor deny', mutate: (d) => { d.services[0].plugins[3].config = { status: 403 }; }, path: `${IPR}/config`, keyword: 'anyOf' },
  { name: 'ip-restriction allow ["not-an-ip"]', mutate: (d) => { d.services[0].plugins[3].config.allow = ['not-an-ip']; }, path: `${IPR}/config/allow/0`, keyword: 'pattern' },
  { name: 'ip-restriction CIDR prefix /33', mutate: (d) => { d.services[0].plugins[3].config.deny = ['10.0.0.0/33']; }, path: `${IPR}/config/deny/0`, keyword: 'pattern' },
  { name: 'jwt claims_to_verify ["iat"]', mutate: (d) => { d.services[0].routes[1].plugins[0].config.claims_to_verify = ['iat']; }, path: `${S0}/routes/1/plugins/0/config/claims_to_verify/0`, keyword: 'enum' },
  { name: 'jwt maximum_expiration without exp', mutate: (d) => { d.services[0].routes[1].plugins[0].config.claims_to_verify = ['nbf']; }, path: `${S0}/routes/1/plugins/0/config/claims_to_verify`, keyword: 'contains' },
  { name: 'cors method FETCH', mutate: (d) => { d.services[0].plugins[2].config.methods = ['FETCH']; }, path: `${S0}/plugins/2/config/methods/0`, keyword: 'enum' },
  { name: 'prometheus unknown flag', mutate: (d) => { d.plugins[0].config.per_route = true; }, path: '/plugins/0/config', keyword: 'additionalProperties' },
  { name: 'service ref inside a nested plugin', mutate: (d) => { d.services[0].plugins[0].service = 'orders-svc'; }, path: `${S0}/plugins/0`, keyword: 'additionalProperties' },
  { name: 'plugin consumer ref as an object', mutate: (d) => { d.plugins[1].consumer = { name: 'alice' }; }, path: '/plugins/1/consumer', keyword: 'type' },
  { name: 'jwt plugin scoped to a consumer at top level', mutate: (d) => { d.plugins[1].name = 'jwt'; d.plugins[1].config = {}; }, path: '/plugins/1/consumer', keyword: 'false schema' },
  { name: 'fractional healthcheck interval', mutate: (d) => { d.upstreams[0].healthchecks.active.healthy.interval = 0.5; }, path: `${U0}/healthchecks/active/healthy/interval`, keyword: 'type' },
  { name: 'key-auth scoped to a consumer', mutate: (d) => { d.consumers[0].plugins.push({ name: 'key-auth' }); }, path: '/consumers/0/plugins/1/name', keyword: 'not' },
  { name: 'consumer without username or custom_id', mutate: (d) => { delete d.consumers[0].username; delete d.consumers[0].custom_id; }, path: '/consumers/0', keyword: 'anyOf' },
  { name: 'keyauth credential without key', mutate: (d) => { delete d.consumers[0].keyauth_credentials[0].key; }, path: '/consumers/0/keyauth_credentials/0', keyword: 'required' },
  { name: 'jwt secret HS256 without secret', mutate: (d) => { delete d.consumers[0].jwt_secrets[0].secret; }, path: '/consumers/0/jwt_secrets/0', keyword: 'required' },
  { name: 'jwt secret RS256 without rsa_public_key', mutate: (d) => { delete d.consumers[1].jwt_secrets[0].rsa_public_key; }, path: '/consumers/1/jwt_secrets/0', keyword: 'required' },
  { name: 'jwt secret algorithm HS1', mutate: (d) => { d.consumers[0].jwt_secrets[0].algorithm = 'HS1'; }, path: '/consumers/0/jwt_secrets/0/algorithm', keyword: 'enum' },
  { name: 'tag containing a comma', mutate: (d) => { d.services[0].tags = ['gwgen,orders']; }, path: `${S0}/tags/0`, keyword: 'pattern' },
  { name: 'tag containing a slash', mutate: (d) => { d.upstreams[0].targets[1].tags = ['team/orders']; }, path: `${U0}/targets/1/tags/0`, keyword: 'pattern' },
  { name: 'certificate without key', mutate: (d) => { delete d.certificates[0].key; }, path: '/certificates/0', keyword: 'required' },
  { name: 'ca_certificate with two PEM blocks', mutate: (d) => { d.ca_certificates[0].cert = CERT + CERT; }, path: '/ca_certificates/0/cert', keyword: 'pattern' },
];

describe('kong-declarative.schema.json', () => {
  it('compiles under Ajv strict mode without warnings', () => {
    expect(warnings).toEqual([]);
    expect(schema.$id).toBe('https://gwgen.dev/schemas/kong-declarative-3.0.json');
  });

  it('accepts a realistic gwgen kong.yml', () => {
    const { valid, errors } = check(VALID);
    expect(valid, describeErrors(errors)).toBe(true);
  });

  it('has mutation names that are unique', () => {
    expect(new Set(MUTATIONS.map((m) => m.name)).size).toBe(MUTATIONS.length);
  });

  it.each(MUTATIONS)('rejects: $name', ({ mutate, path, keyword }) => {
    const doc: Json = structuredClone(VALID);
    mutate(doc);
    const { valid, errors } = check(doc);
    expect(valid).toBe(false);
    const hit = errors.some(
      (e) => (path === undefined || e.instancePath === path) && (keyword === undefined || e.keyword === keyword),
    );
    expect(hit, `expected ${keyword ?? '*'} at "${path ?? '*'}", got:\n${describeErrors(errors)}`).toBe(true);
  });
});
