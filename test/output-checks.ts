import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { format } from 'prettier';
import { parse, parseAllDocuments, visit } from 'yaml';
import type { ExpectStatic } from 'vitest';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { Gateway } from '@kubernetes-models/istio/networking.istio.io/v1/Gateway';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { EnvoyFilter } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { Telemetry } from '@kubernetes-models/istio/telemetry.istio.io/v1/Telemetry';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { generate, validate } from '../dist/index.js';
import { ROOT } from './helpers.js';
import { preflightsOf, requestsFor, routeChoiceDifferences } from './route-choice.js';
import { renderDeck } from './deck-render.js';

/**
 * What every valid model's output must satisfy, for test/random-models.test.ts (random models)
 * and test/valid-models.test.ts (the fixtures and examples): it validates without a problem, and
 * every target generates; Kong's config passes test/schemas/kong-declarative.schema.json and
 * keeps what Kong checks beyond a schema (unique names and keys, references, the order of
 * rate-limit windows, header names); every Kubernetes and Istio document passes
 * kubernetes-models / @kubernetes-models/istio and what the API server and Istio check beyond
 * them (unique resources, DNS names, Service names, selectors, one DestinationRule per host,
 * EnvoyFilter route names, the kustomization's list, URLs, no nulls); YAML and Markdown are in
 * prettier's form; config.json is format 1 with one entry per route, the same text as the
 * ConfigMap; and a second run gives the same files.
 */

/** The names a model's author knows it has (sorted). */
export interface ExpectedNames {
  readonly routeNames: readonly string[];
  readonly serviceNames: readonly string[];
  readonly consumerNames: readonly string[];
  readonly gatewayName: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ResourceModel = new (data: any) => { validate(): void };

/** The Istio kinds gwgen writes, by `apiVersion/kind`, with their @kubernetes-models/istio class. */
export const ISTIO_MODELS: Readonly<Record<string, ResourceModel>> = {
  'networking.istio.io/v1/Gateway': Gateway,
  'networking.istio.io/v1/VirtualService': VirtualService,
  'networking.istio.io/v1/DestinationRule': DestinationRule,
  'networking.istio.io/v1/ServiceEntry': ServiceEntry,
  'networking.istio.io/v1alpha3/EnvoyFilter': EnvoyFilter,
  'security.istio.io/v1/PeerAuthentication': PeerAuthentication,
  'security.istio.io/v1/RequestAuthentication': RequestAuthentication,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy,
  'telemetry.istio.io/v1/Telemetry': Telemetry,
};

/** The Kubernetes kinds gwgen writes, by `apiVersion/kind`, with their kubernetes-models class. */
export const K8S_MODELS: Readonly<Record<string, ResourceModel>> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

export const RESOURCE_MODELS: Readonly<Record<string, ResourceModel>> = { ...ISTIO_MODELS, ...K8S_MODELS };

const kongSchema = JSON.parse(readFileSync(join(ROOT, 'test/schemas/kong-declarative.schema.json'), 'utf8'));
const validateKong = new Ajv({ allErrors: true, strict: true }).compile(kongSchema);

const TARGETS = ['kong', 'istio', 'k8s', 'gateway'];
const KONG_WINDOWS = ['second', 'minute', 'hour', 'day', 'month', 'year'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

type Files = Record<string, string>;

/** Problems of kong.yml that Kong rejects but a JSON schema cannot express. */
export function kongInvariants(doc: Doc): string[] {
  const problems: string[] = [];
  const unique = (what: string, values: unknown[]) => {
    const seen = new Set<unknown>();
    for (const v of values) {
      if (seen.has(v)) problems.push(`duplicate ${what} ${JSON.stringify(v)}`);
      seen.add(v);
    }
  };
  const services: Doc[] = doc.services ?? [];
  const routes: Doc[] = services.flatMap((s) => s.routes ?? []);
  const upstreams: Doc[] = doc.upstreams ?? [];
  const consumers: Doc[] = doc.consumers ?? [];
  unique('service name', services.map((s) => s.name));
  unique('route name', routes.map((r) => r.name));
  unique('upstream name', upstreams.map((u) => u.name));
  unique('consumer username', consumers.map((c) => c.username));
  unique('key-auth key', consumers.flatMap((c) => (c.keyauth_credentials ?? []).map((k: Doc) => k.key)));
  unique('jwt key', consumers.flatMap((c) => (c.jwt_secrets ?? []).map((k: Doc) => k.key)));
  const upstreamNames = new Set(upstreams.map((u) => u.name));
  for (const s of services) if (!upstreamNames.has(s.host)) problems.push(`service ${s.name} points at ${s.host}, which is no upstream`);
  for (const u of upstreams) {
    unique(`target of upstream ${u.name}`, (u.targets ?? []).map((t: Doc) => t.target));
    if ((u.targets ?? []).length === 0) problems.push(`upstream ${u.name} has no target`);
  }
  const routeNames = new Set(routes.map((r) => r.name));
  const usernames = new Set(consumers.map((c) => c.username));
  for (const p of doc.plugins ?? []) {
    if (p.route !== undefined && !routeNames.has(p.route)) problems.push(`plugin ${p.name} is scoped to route ${p.route}, which does not exist`);
    if (p.consumer !== undefined && !usernames.has(p.consumer)) problems.push(`plugin ${p.name} is scoped to consumer ${p.consumer}, which does not exist`);
  }
  unique('scoped plugin', (doc.plugins ?? []).map((p: Doc) => `${p.name} ${p.route ?? '*'} ${p.consumer ?? '*'}`));
  const plugins: Doc[] = [...(doc.plugins ?? []), ...services.flatMap((s) => s.plugins ?? []), ...routes.flatMap((r) => r.plugins ?? []), ...consumers.flatMap((c) => c.plugins ?? [])];
  for (const p of plugins) {
    if (p.name !== 'rate-limiting') continue;
    // Kong's rate-limiting schema: a longer window may not have a lower limit than a shorter one.
    const present = KONG_WINDOWS.filter((w) => p.config[w] !== undefined);
    for (let i = 1; i < present.length; i++) {
      if (p.config[present[i]!] < p.config[present[i - 1]!]) problems.push(`rate-limiting ${present[i]} ${p.config[present[i]!]} < ${present[i - 1]} ${p.config[present[i - 1]!]}`);
    }
  }
  for (const r of routes) {
    for (const h of Object.keys(r.headers ?? {})) {
      if (/^host$/i.test(h)) problems.push(`route ${r.name} matches the host header in headers`);
      // Kong's header names (route headers and key-auth key_names): utils.validate_header_name.
      if (!/^[A-Za-z0-9_-]+$/.test(h)) problems.push(`route ${r.name}: Kong refuses the header name ${h}`);
    }
    for (const p of r.plugins ?? []) for (const k of p.config?.key_names ?? []) if (!/^[A-Za-z0-9_-]+$/.test(k)) problems.push(`route ${r.name}: Kong refuses the key name ${k}`);
  }
  problems.push(...nullPaths(doc).map((p) => `null at ${p}`));
  return problems;
}

/** Where a document has a null value: every field gwgen writes has a value. */
function nullPaths(value: unknown, path = ''): string[] {
  if (value === null) return [path || '/'];
  if (Array.isArray(value)) return value.flatMap((v, i) => nullPaths(v, `${path}/${i}`));
  if (typeof value === 'object') return Object.entries(value as Doc).flatMap(([k, v]) => nullPaths(v, `${path}/${k}`));
  return [];
}

/** Every leaf of a document with its path. */
function leaves(value: unknown, path = ''): [string, unknown][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, `${path}/${i}`));
  if (value !== null && typeof value === 'object') return Object.entries(value as Doc).flatMap(([k, v]) => leaves(v, `${path}/${k}`));
  return [[path || '/', value]];
}

/** Problems of Kubernetes/Istio documents beyond each document's own schema. */
export function manifestInvariants(docs: Doc[], files: Files): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const d of docs) {
    const id = `${d.apiVersion} ${d.kind} ${d.metadata?.namespace ?? ''}/${d.metadata?.name}`;
    if (ids.has(id)) problems.push(`two documents are ${id}`);
    ids.add(id);
    if (!DNS_LABEL.test(d.metadata?.name ?? '')) problems.push(`${id}: name is not a DNS label`);
    if (d.metadata?.namespace !== undefined && !DNS_LABEL.test(d.metadata.namespace)) problems.push(`${id}: namespace is not a DNS label`);
    // The API server's rule for Service names: a DNS-1035 label, starting with a letter.
    if (d.kind === 'Service' && !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(d.metadata.name)) problems.push(`${id}: a Service name must start with a letter`);
    for (const path of nullPaths(d)) problems.push(`${id}: null at ${path}`);
    // Every namespace's own "default" account, which its other pods run as, is not gwgen's to write.
    if (d.kind === 'ServiceAccount' && d.metadata.name === 'default') problems.push(`${id}: the namespace's default ServiceAccount`);
    if (d.kind === 'Deployment') {
      const labels = d.spec.template.metadata.labels ?? {};
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels ?? {})) if (labels[k] !== v) problems.push(`${id}: selector ${k}=${v} does not select its pods`);
      for (const c of d.spec.template.spec.containers) {
        for (const e of c.env ?? []) {
          if (!String(e.name).startsWith('GW_UPSTREAM_')) continue;
          for (const url of String(e.value).split(',')) {
            if (!URL.canParse(url.replace(/;weight=\d+$/, ''))) problems.push(`${id}: ${e.name} has ${JSON.stringify(url)}, which is not a URL`);
          }
        }
      }
    }
  }
  // Two Deployments of a namespace with one selector would share each other's pods (and Services).
  const selectors = docs.filter((d) => d.kind === 'Deployment').map((d) => `${d.metadata.namespace}/${JSON.stringify(d.spec.selector.matchLabels)}`);
  for (const sel of new Set(selectors)) if (selectors.filter((x) => x === sel).length > 1) problems.push(`several Deployments select the pods ${sel}`);
  // Istio hosts are host names or IP addresses.
  const hostOk = (h: string) => isIP(h) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/.test(h);
  for (const d of docs.filter((x) => x.kind === 'DestinationRule')) if (!hostOk(d.spec.host)) problems.push(`DestinationRule ${d.metadata.name}: host ${d.spec.host} is no host name`);
  for (const h of docs.filter((x) => x.kind === 'VirtualService').flatMap((x) => x.spec.http.flatMap((e: Doc) => [...(e.route ?? []).map((r: Doc) => r.destination.host), ...(e.mirror ? [e.mirror.host] : [])]))) {
    if (!hostOk(h)) problems.push(`VirtualService destination host ${h} is no host name`);
  }
  // Istio drops traffic to a host outside the cluster's registry that no ServiceEntry names.
  const entered = new Set(docs.filter((d) => d.kind === 'ServiceEntry').flatMap((d) => d.spec.hosts));
  for (const h of docs.filter((x) => x.kind === 'VirtualService').flatMap((x) => x.spec.http.flatMap((e: Doc) => [...(e.route ?? []).map((r: Doc) => r.destination.host), ...(e.mirror ? [e.mirror.host] : [])]))) {
    if (!/\.svc\.cluster\.local$/.test(h) && isIP(h) !== 6 && !entered.has(h)) problems.push(`VirtualService destination host ${h} is neither a cluster Service nor in a ServiceEntry`);
  }
  // A DestinationRule per host: Istio does not merge two rules for one host.
  const hosts = docs.filter((d) => d.kind === 'DestinationRule').map((d) => d.spec.host);
  for (const h of new Set(hosts)) if (hosts.filter((x) => x === h).length > 1) problems.push(`several DestinationRules for host ${h}`);
  const vs = docs.find((d) => d.kind === 'VirtualService');
  if (vs) {
    const names: string[] = vs.spec.http.map((h: Doc) => h.name);
    if (new Set(names).size !== names.length) problems.push(`VirtualService http entry names repeat: ${names.join(', ')}`);
    const ef = docs.find((d) => d.kind === 'EnvoyFilter');
    for (const p of ef?.spec.configPatches ?? []) {
      const name = p.match?.routeConfiguration?.vhost?.route?.name;
      if (name !== undefined && !names.includes(name)) problems.push(`EnvoyFilter patches route ${name}, which the VirtualService does not have`);
    }
  }
  // Istio's durations are Go durations, at most 2^63 - 1 ns (about 292 years): Istio refuses a longer one.
  for (const d of docs.filter((x) => String(x.apiVersion).includes('istio.io'))) {
    for (const [path, value] of leaves(d)) {
      const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(value) : null;
      if (m && Number(m[1]) > 9_223_372_036.854_775) problems.push(`${d.kind}/${d.metadata.name}: ${path} ${value} is longer than Go's longest duration`);
    }
  }
  const kustomization = files['k8s/kustomization.yaml'];
  if (kustomization) {
    const listed = [...(parse(kustomization) as Doc).resources].sort();
    const manifests = Object.keys(files)
      .filter((p) => p.startsWith('k8s/') && p.endsWith('.yaml') && p !== 'k8s/kustomization.yaml')
      .map((p) => p.slice('k8s/'.length))
      .sort();
    if (JSON.stringify(listed) !== JSON.stringify(manifests)) problems.push(`kustomization lists ${listed.join(', ')} but the files are ${manifests.join(', ')}`);
  }
  return problems;
}

/**
 * Every property of one model. Independent checks are soft (`expect.soft`): a failing seed
 * reports everything that is wrong with its output at once.
 */
export async function checkOutput(paths: readonly string[], expect: ExpectStatic, expected?: ExpectedNames): Promise<void> {
  const validated = await validate({ models: paths, cwd: ROOT });
  expect(validated.problems.map((p) => `${p.location?.file ?? ''}:${p.location?.line ?? ''} ${p.message}`), 'gwgen validate').toEqual([]);

  const result = await generate({ models: paths, targets: TARGETS, cwd: ROOT });
  if (!result.ok) throw new Error(`generate failed: ${JSON.stringify(result.problems, null, 2)}`);
  const files: Files = Object.fromEntries(result.files.map((f) => [f.path, f.content]));

  // The model says what its author wrote.
  const routeNames = expected?.routeNames ?? result.model.routes.map((r) => r.name).sort();
  const serviceNames = expected?.serviceNames ?? result.model.services.map((s) => s.name).sort();
  if (expected) {
    expect.soft(result.model.routes.map((r) => r.name).sort(), 'route names').toEqual([...expected.routeNames]);
    expect.soft(result.model.services.map((s) => s.name).sort(), 'service names').toEqual([...expected.serviceNames]);
    expect.soft(result.model.consumers.map((c) => c.name).sort(), 'consumer names').toEqual([...expected.consumerNames]);
    expect.soft(result.model.gateway.name).toBe(expected.gatewayName);
  }

  // Kong: the schema, and what Kong checks beyond it.
  // What Kong loads: the file as decK renders it (its credentials' secrets come from DECK_ variables).
  const kong = parse(renderDeck(files['kong/kong.yml']!)) as Doc;
  const kongValid = validateKong(kong);
  const schemaErrors = (validateKong.errors ?? []).map((e) => `${e.instancePath} ${e.keyword === 'pattern' ? 'does not match its pattern' : e.message}: ${JSON.stringify(e.instancePath.split('/').slice(1).reduce<Doc>((o, k) => o?.[k], kong))}`);
  expect.soft(kongValid ? [] : schemaErrors, 'kong.yml against test/schemas/kong-declarative.schema.json').toEqual([]);
  expect.soft(kongInvariants(kong), 'kong.yml').toEqual([]);
  // Every route of the model is a Kong service and route of its own name.
  const kongRoutes = new Set(((kong.services ?? []) as Doc[]).flatMap((s) => (s.routes ?? []).map((r: Doc) => r.name)));
  expect.soft(routeNames.filter((r) => !kongRoutes.has(r)), 'routes missing from kong.yml').toEqual([]);

  // Every YAML file: documents without errors, already in prettier's form (as the examples).
  const docs: Doc[] = [];
  for (const [path, text] of Object.entries(files)) {
    if (path.endsWith('.yaml') || path.endsWith('.yml')) {
      const parsed = parseAllDocuments(text);
      for (const d of parsed) {
        expect.soft(d.errors.map(String), path).toEqual([]);
        const js = d.toJS() as Doc | null;
        if (js !== null && path !== 'k8s/kustomization.yaml' && !path.startsWith('kong/')) docs.push(js);
      }
      // The same data for YAML 1.1 readers (Kong's, kubectl's) as for YAML 1.2 ones.
      const asYaml11 = parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS());
      expect.soft(asYaml11, `${path} reads differently in YAML 1.1`).toEqual(parsed.map((d) => d.toJS()));
      // A number in exponent form without a dot ("1e-7") is a string to strict YAML 1.1 readers
      // (PyYAML, lyaml): the `yaml` library reads it leniently, so look at the source.
      const exponents: string[] = [];
      for (const d of parsed) {
        visit(d, {
          Scalar: (_k, n) => {
            const source = n.source ?? '';
            if (n.type === 'PLAIN' && typeof n.value === 'number' && /e/i.test(source) && !/\.\d*e[-+]/i.test(source)) exponents.push(source);
          },
        });
      }
      expect.soft(exponents, `${path} has numbers YAML 1.1 reads as text`).toEqual([]);
      expect.soft(await format(text, { parser: 'yaml', printWidth: 120 }), `${path} is not in prettier's form`).toBe(text);
    }
    if (path.endsWith('.md')) expect.soft(await format(text, { parser: 'markdown', printWidth: 120, proseWrap: 'preserve' }), `${path} is not in prettier's form`).toBe(text);
  }

  // Kubernetes (kubernetes-models) and Istio (@kubernetes-models/istio): every document.
  expect.soft(docs.some((d) => d.kind === 'VirtualService'), 'a VirtualService').toBe(true);
  expect.soft(docs.some((d) => d.kind === 'Deployment'), 'a Deployment').toBe(true);
  const invalid: string[] = [];
  for (const doc of docs) {
    const Model = RESOURCE_MODELS[`${doc.apiVersion}/${doc.kind}`];
    if (!Model) {
      invalid.push(`unknown resource ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (err) {
      invalid.push(`${doc.kind}/${doc.metadata?.name}: ${(err as Error).message}`);
    }
  }
  expect.soft(invalid, 'Kubernetes and Istio documents').toEqual([]);
  expect.soft(manifestInvariants(docs, files), 'manifests').toEqual([]);
  // Every route of the model is an entry of the VirtualService.
  const entries = new Set(docs.filter((d) => d.kind === 'VirtualService').flatMap((d) => d.spec.http.map((h: Doc) => h.name)));
  expect.soft(routeNames.filter((r) => !entries.has(`${result.model.gateway.name}.${r}`)), 'routes missing from the VirtualService').toEqual([]);

  // The gateway's config.json: JSON, format 1, one entry per route; the ConfigMap holds the same text.
  const config = JSON.parse(files['gateway/config.json']!) as Doc;
  expect.soft(config.format).toBe(1);
  expect.soft(config.routes.map((r: Doc) => r.name).sort(), 'config.json routes').toEqual([...routeNames]);
  expect.soft(config.services.map((s: Doc) => s.name).sort(), 'config.json services').toEqual([...serviceNames]);
  // Node's timers wait at most 2^31 - 1 ms: every duration of config.json fits one.
  const longTimers = leaves(config).filter(([path, v]) => /Ms$/.test(path) && !(typeof v === 'number' && v >= 0 && v <= 2_147_483_647));
  expect.soft(longTimers, 'config.json durations a Node timer cannot wait').toEqual([]);
  const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.data?.['gateway.json'] !== undefined);
  expect.soft(configMap?.data['gateway.json'], 'the ConfigMap holds config.json').toBe(files['gateway/config.json']);

  // Every target takes a request to the route the gateway takes it to (test/route-choice.ts), or Kong's notes say why not.
  const choice = await routeChoiceDifferences(files, result.model, requestsFor(result.model, ['GET', 'POST', 'PROPFIND'], { literals: 8, perRoute: 12 }));
  expect.soft(choice.istio.slice(0, 20), 'requests Istio routes elsewhere than the gateway').toEqual([]);
  expect.soft(choice.kong.slice(0, 20), 'requests Kong routes elsewhere than the gateway, not in its NOTES.md').toEqual([]);
  // A plain OPTIONS (no CORS preflight) goes where the gateway's router sends it, also on routes with CORS (Kong's differences are in its NOTES.md).
  const options = await routeChoiceDifferences(files, result.model, requestsFor(result.model, ['OPTIONS'], { literals: 8, perRoute: 12 }));
  expect.soft(options.istio.slice(0, 20), 'plain OPTIONS requests Istio routes elsewhere than the gateway').toEqual([]);
  expect.soft(options.kong.slice(0, 20), 'plain OPTIONS requests Kong routes elsewhere than the gateway, not in its NOTES.md').toEqual([]);
  // A CORS preflight for each method is answered with the policy of the route the gateway answers it with (or routed as OPTIONS where the gateway does).
  const preflights = await routeChoiceDifferences(files, result.model, preflightsOf(requestsFor(result.model, ['OPTIONS'], { literals: 8, perRoute: 12 })));
  expect.soft(preflights.kong.slice(0, 20), 'CORS preflights Kong answers otherwise than the gateway, not in its NOTES.md').toEqual([]);

  // The same model gives the same files, byte for byte.
  const again = await generate({ models: paths, targets: TARGETS, cwd: ROOT });
  if (!again.ok) throw new Error('the second generation failed');
  expect.soft(again.files.map((f) => f.path), 'the same files').toEqual(result.files.map((f) => f.path));
  for (const f of again.files) expect.soft(f.content, `${f.path} differs between two runs`).toBe(files[f.path]);
}
