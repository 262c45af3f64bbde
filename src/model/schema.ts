import type { ErrorObject, ValidateFunction } from 'ajv';
import { problem, type Problem } from '../errors.js';
import { sha256 } from '../pipeline/write.js';
import type { GatewayModel } from './types.js';

/**
 * JSON Schema of GatewayModel. Templates trust the model completely, so it is checked here
 * after extraction: a fault in a query or in build-model.ts stops the run with a message
 * instead of producing subtly wrong output.
 */
const str = { type: 'string', minLength: 1 } as const;
const int = (minimum: number, maximum?: number) => ({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}) }) as const;
const num = (props: Record<string, number>) => ({ type: 'number', ...props }) as const;
const strList = { type: 'array', items: str } as const;
const enumOf = (...values: string[]) => ({ type: 'string', enum: values }) as const;
const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', additionalProperties: false, properties, required }) as const;
const dnsLabel = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' } as const;
const method = enumOf('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS');
const limits = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { second: int(1), minute: int(1), hour: int(1), day: int(1) },
} as const;

const cors = obj(
  { id: str, origins: { ...strList, minItems: 1 }, methods: { type: 'array', items: method }, headers: strList, credentials: { type: 'boolean' }, maxAgeSeconds: int(0) },
  ['id', 'origins', 'methods', 'headers', 'credentials'],
);
const mtls = obj(
  {
    id: str,
    mode: enumOf('STRICT', 'PERMISSIVE', 'DISABLE'),
    certificate: obj({ id: str, expiry: str, rotationPeriodSeconds: num({ minimum: 0 }) }, ['id']),
  },
  ['id', 'mode'],
);

export const GATEWAY_MODEL_SCHEMA = obj(
  {
    gateway: obj(
      {
        id: str,
        name: dnsLabel,
        listenPort: int(1, 65535),
        cors,
        tracing: obj({ id: str, samplingRate: num({ minimum: 0, maximum: 1 }), collectorEndpoint: str }, ['id', 'samplingRate']),
        mesh: obj({ id: str, type: enumOf('istio', 'linkerd', 'consul', 'kuma'), namespace: dnsLabel, mtls }, ['id', 'type', 'namespace']),
      },
      ['id', 'name', 'listenPort'],
    ),
    routes: {
      type: 'array',
      minItems: 1,
      items: obj(
        {
          id: str,
          name: dnsLabel,
          path: { type: 'string', pattern: '^/' },
          methods: { type: 'array', items: method, uniqueItems: true },
          service: dnsLabel,
          stripPath: { type: 'boolean' },
          timeoutSeconds: num({ exclusiveMinimum: 0 }),
          websocket: { type: 'boolean' },
          costMultiplier: num({ minimum: 0 }),
          rateLimit: obj(
            { id: str, limits, burstSize: int(1), limitBy: enumOf('ip', 'consumer', 'global'), policy: enumOf('local', 'redis') },
            ['id', 'limits', 'burstSize', 'limitBy', 'policy'],
          ),
          circuitBreaker: obj({ id: str, failureThreshold: int(1), timeoutSeconds: num({ exclusiveMinimum: 0 }), halfOpenRequests: int(1) }, ['id', 'failureThreshold', 'timeoutSeconds', 'halfOpenRequests']),
          retry: obj(
            {
              id: str,
              attempts: int(0, 10),
              backoffMultiplier: num({ minimum: 1 }),
              initialDelayMs: int(0),
              retryOn: { type: 'array', minItems: 1, items: enumOf('5xx', 'gateway-error', 'connect-failure', 'reset') },
              perTryTimeoutSeconds: num({ exclusiveMinimum: 0 }),
            },
            ['id', 'attempts', 'backoffMultiplier', 'initialDelayMs', 'retryOn'],
          ),
          splits: {
            type: 'array',
            items: obj({ id: str, service: dnsLabel, weight: int(0, 100), matchHeader: obj({ name: str, value: { type: 'string' } }, ['name', 'value']) }, ['id', 'service']),
          },
          mirror: obj({ id: str, service: dnsLabel, percent: int(0, 100) }, ['id', 'service', 'percent']),
          auth: {
            oneOf: [
              obj(
                {
                  kind: { const: 'jwt' },
                  id: str,
                  issuer: str,
                  audiences: strList,
                  jwksUri: str,
                  secretEnv: str,
                  algorithms: { type: 'array', minItems: 1, items: enumOf('RS256', 'ES256', 'HS256') },
                  requiredScopes: strList,
                },
                ['kind', 'id', 'issuer', 'audiences', 'algorithms', 'requiredScopes'],
              ),
              obj({ kind: { const: 'apiKey' }, id: str, keyHeader: str }, ['kind', 'id', 'keyHeader']),
            ],
          },
          ipRestriction: obj({ id: str, allow: strList, deny: strList }, ['id', 'allow', 'deny']),
          cors,
        },
        ['id', 'name', 'path', 'methods', 'stripPath', 'websocket', 'costMultiplier', 'splits'],
      ),
    },
    services: {
      type: 'array',
      items: obj(
        {
          id: str,
          name: dnsLabel,
          host: str,
          port: int(1, 65535),
          protocol: enumOf('http', 'https', 'grpc'),
          namespace: dnsLabel,
          instances: { type: 'array', items: obj({ id: str, host: str, port: int(1, 65535), weight: int(0, 100) }, ['id', 'host', 'port', 'weight']) },
          loadBalancing: enumOf('round-robin', 'least-connections', 'random', 'consistent-hash'),
          healthCheck: obj({ id: str, path: str, intervalSeconds: num({ exclusiveMinimum: 0 }), successThreshold: int(1), failureThreshold: int(1) }, ['id', 'path', 'intervalSeconds', 'successThreshold', 'failureThreshold']),
          mtls,
          version: str,
          replicas: int(1),
          image: str,
        },
        ['id', 'name', 'host', 'port', 'protocol', 'namespace', 'instances', 'loadBalancing', 'replicas'],
      ),
    },
    consumers: {
      type: 'array',
      items: obj(
        {
          id: str,
          name: dnsLabel,
          apiKeyEnv: str,
          quotaTier: obj({ id: str, name: str, limits, monthlyQuota: int(1) }, ['id', 'name', 'limits']),
        },
        ['id', 'name'],
      ),
    },
  },
  ['gateway', 'routes', 'services', 'consumers'],
);

/** Options of the compile, at build time and at run time alike. */
export const MODEL_SCHEMA_OPTIONS = { allErrors: true, strict: true } as const;

/** Identifies the schema a build compiled (src/build/precompile.ts). */
export function schemaHash(): string {
  return sha256(JSON.stringify([GATEWAY_MODEL_SCHEMA, MODEL_SCHEMA_OPTIONS]));
}

let validateFn: Promise<ValidateFunction> | undefined;

/**
 * The schema's validator: the one the build compiled (dist/vendor/model-validator.cjs) while
 * it matches this schema, else compiled now with ajv (~0.1 s). generate() starts it while it
 * waits for the query worker.
 */
export function prepareModelSchema(): Promise<ValidateFunction> {
  validateFn ??= import(new URL('../vendor/model-validator.cjs', import.meta.url).href).then(
    (built: { default: ValidateFunction & { SCHEMA_HASH?: string } }) => (built.default.SCHEMA_HASH === schemaHash() ? built.default : compileSchema()),
    () => compileSchema(),
  );
  return validateFn;
}

async function compileSchema(): Promise<ValidateFunction> {
  const { Ajv } = await import('ajv');
  return new Ajv(MODEL_SCHEMA_OPTIONS).compile(GATEWAY_MODEL_SCHEMA);
}

export async function checkModelSchema(model: GatewayModel): Promise<Problem[]> {
  const validate = await prepareModelSchema();
  if (validate(model)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) =>
    problem('model-schema', `extracted model ${e.instancePath || '/'} ${e.message ?? 'is invalid'}`, {
      rule: e.keyword,
      location: { node: nodeAt(model, e.instancePath) },
      hint: 'the model passed validation but extraction produced data gwgen cannot render; please report this with your model',
    }),
  );
}

/** The IRI of the innermost object on a JSON pointer that has an `id`. */
function nodeAt(model: GatewayModel, pointer: string): string {
  let current: unknown = model;
  let id = '';
  for (const part of pointer.split('/').filter(Boolean)) {
    if (current && typeof current === 'object') {
      current = (current as Record<string, unknown>)[part];
      const maybe = (current as { id?: unknown } | undefined)?.id;
      if (typeof maybe === 'string') id = maybe;
    }
  }
  return id || '(model)';
}
