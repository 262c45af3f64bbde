import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'prettier';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate, type GatewayModel } from '../dist/index.js';
import { K8S_MODELS } from './output-checks.js';
import { ROOT, tempDir } from './helpers.js';

/**
 * The Kubernetes target: every document of every example is valid for kubernetes-models, one
 * resource per document, labelled, prettier-formatted; the kustomization lists every file;
 * secrets are referenced, never written; workloads, probes, autoscaling and network policies
 * follow the model.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ttl')).sort();
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

interface Generated {
  model: GatewayModel;
  files: Record<string, string>;
  docs: Doc[];
}

/** Generations are shared between tests: each model is generated once. */
const cache = new Map<string, Promise<Generated>>();
function k8sOf(models: string[]): Promise<Generated> {
  const key = JSON.stringify(models);
  if (!cache.has(key)) cache.set(key, generateK8s(models));
  return cache.get(key)!;
}

async function generateK8s(models: string[]): Promise<Generated> {
  const result = await generate({ models, targets: ['k8s'], cwd: ROOT });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const files = Object.fromEntries(result.files.filter((f) => f.path.startsWith('k8s/')).map((f) => [f.path, f.content]));
  const docs = Object.entries(files)
    .filter(([p]) => p.endsWith('.yaml') && p !== 'k8s/kustomization.yaml')
    .flatMap(([, text]) => parseAllDocuments(text).map((d) => d.toJS() as Doc))
    .filter((d) => d !== null);
  return { model: result.model, files, docs };
}

/** Whether the gateway's replicas share counters in Redis: limiters with policy "redis", or quota tiers. */
const usesRedis = (model: GatewayModel) => model.routes.some((r) => r.rateLimit?.policy === 'redis') || model.consumers.some((c) => c.quotaTier !== undefined);
const find = (g: Generated, kind: string, name: string, namespace?: string) => g.docs.find((d) => d.kind === kind && d.metadata.name === name && (namespace === undefined || d.metadata.namespace === namespace));
const container = (d: Doc) => d.spec.template.spec.containers[0];

describe.each(examples)('k8s target: %s', (example) => {
  let g: Generated;
  beforeAll(async () => {
    g = await k8sOf([join('examples', example)]);
  });

  it('every document is a valid Kubernetes object (kubernetes-models)', () => {
    for (const doc of g.docs) {
      const Model = K8S_MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc).validate(), `${doc.kind}/${doc.metadata.name}`).not.toThrow();
    }
  });

  it('is one resource per document, without anchors, already prettier-formatted', async () => {
    for (const [path, text] of Object.entries(g.files)) {
      if (path.endsWith('.md')) {
        expect(await format(text, { parser: 'markdown', printWidth: 120, proseWrap: 'preserve' }), path).toBe(text);
        continue;
      }
      expect(await format(text, { parser: 'yaml', printWidth: 120 }), path).toBe(text);
      expect(text, path).not.toMatch(/(^|\s)[&*][A-Za-z0-9_-]+\s*$/m);
      for (const doc of parseAllDocuments(text)) expect(doc.errors, path).toEqual([]);
    }
  });

  it('labels every resource and gives it a DNS-1123 name', () => {
    for (const doc of g.docs) {
      expect(doc.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'gwgen', 'app.kubernetes.io/part-of': g.model.gateway.name });
      expect(doc.metadata.labels['app.kubernetes.io/name']).toBeTruthy();
      expect(doc.metadata.name).toMatch(DNS_LABEL);
    }
  });

  it('the kustomization lists every manifest', () => {
    const k = parse(g.files['k8s/kustomization.yaml']!) as Doc;
    expect(k.kind).toBe('Kustomization');
    const manifests = Object.keys(g.files)
      .filter((p) => p.endsWith('.yaml') && p !== 'k8s/kustomization.yaml')
      .map((p) => p.slice('k8s/'.length));
    expect([...k.resources].sort()).toEqual(manifests.sort());
    expect(k.images).toEqual([{ name: 'ghcr.io/gwgen/gateway', newTag: expect.any(String) }]);
  });

  it('deploys the gateway: listen port, ConfigMap, secrets by reference only, HPA, PDB', () => {
    const gw = g.model.gateway.name;
    const dep = find(g, 'Deployment', gw, gw)!;
    const c = container(dep);
    expect(c.image).toMatch(/^ghcr\.io\/gwgen\/gateway:/);
    expect(c.ports).toEqual([{ name: 'http', containerPort: g.model.gateway.listenPort, protocol: 'TCP' }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: g.model.gateway.listenPort });
    expect(find(g, 'ConfigMap', `${gw}-config`, gw)).toBeDefined();
    expect(JSON.parse(find(g, 'ConfigMap', `${gw}-config`, gw)!.data['gateway.json']).gateway.name).toBe(gw);
    expect(g.docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    const secretEnv = [
      ...g.model.routes.flatMap((r) => (r.auth?.kind === 'jwt' && r.auth.secretEnv ? [r.auth.secretEnv] : [])),
      ...g.model.consumers.flatMap((cn) => (cn.apiKeyEnv ? [cn.apiKeyEnv] : [])),
    ];
    for (const name of new Set(secretEnv)) {
      const env = c.env.find((e: Doc) => e.name === name);
      expect(env, name).toEqual({ name, valueFrom: { secretKeyRef: { name: `${gw}-secrets`, key: name } } });
    }
    // REDIS_URL names the Redis deployed beside the gateway (no password, so no Secret).
    const redisUrl = c.env.find((e: Doc) => e.name === 'REDIS_URL');
    if (usesRedis(g.model)) expect(redisUrl).toEqual({ name: 'REDIS_URL', value: `redis://redis.${gw}.svc.cluster.local:6379` });
    else expect(redisUrl).toBeUndefined();
    // One value per variable: a name listed twice would have the later entry replace the earlier.
    expect(new Set(c.env.map((e: Doc) => e.name)).size).toBe(c.env.length);
    for (const s of g.model.services) expect(c.env.map((e: Doc) => e.name)).toContain(`GW_UPSTREAM_${s.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`);
    expect(dep.spec.replicas).toBeUndefined();
    expect(find(g, 'HorizontalPodAutoscaler', gw, gw)!.spec).toMatchObject({ minReplicas: 2, scaleTargetRef: { kind: 'Deployment', name: gw } });
    expect(find(g, 'PodDisruptionBudget', gw, gw)!.spec).toMatchObject({ maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect(find(g, 'Service', gw, gw)!.spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
  });

  it('NOTES.md lists every route whose rate limit each of the HPA\'s gateway replicas counts on its own (policy local)', () => {
    const local = g.model.routes.filter((r) => r.rateLimit?.policy === 'local').map((r) => `route ${r.name}`).sort();
    const section = /## agw:policy "local" on 2 to 10 gateway replicas\n\n[^\n]*up to that many times the limit[^\n]*\n\nApplies to: ([^\n]*)\n/.exec(g.files['k8s/NOTES.md']!);
    expect(section?.[1]?.split(', ') ?? []).toEqual(local);
    const hpa = find(g, 'HorizontalPodAutoscaler', g.model.gateway.name, g.model.gateway.name)!;
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 10]);
  });

  it('a stopping gateway pod keeps serving until its endpoint is gone, then drains within the grace period', () => {
    const gw = g.model.gateway.name;
    const spec = find(g, 'Deployment', gw, gw)!.spec.template.spec;
    // The gateway stops accepting at SIGTERM; kube-proxy and the load balancer learn of the
    // endpoint's removal later, so without a wait before SIGTERM a rollout refuses connections.
    const wait: number = container(find(g, 'Deployment', gw, gw)!).lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(wait).toBeGreaterThanOrEqual(5);
    // The wait, GW_SHUTDOWN_TIMEOUT_MS's default (10 s) and the gateway's 2 s of grace (main.ts) fit the grace period.
    const shutdown = (Number(readFileSync(join(ROOT, 'templates/gateway/src/env.ts.hbs'), 'utf8').match(/'GW_SHUTDOWN_TIMEOUT_MS', ([\d_]+)/)![1]!.replace(/_/g, '')) + 2000) / 1000;
    expect(wait + shutdown).toBeLessThanOrEqual(spec.terminationGracePeriodSeconds ?? 30);
    // The sidecar gets SIGTERM at once; the gateway's calls to the backends need it until the gateway has drained.
    const annotations = find(g, 'Deployment', gw, gw)!.spec.template.metadata.annotations;
    if (g.model.gateway.mesh?.type === 'istio') expect(Number(/^terminationDrainDuration: (\d+)s$/.exec(annotations['proxy.istio.io/config'])?.[1])).toBeGreaterThanOrEqual(wait + shutdown);
  });

  it('deploys every service with an image: replicas, version label, probes from its health check, fenced to the gateway', () => {
    const gw = g.model.gateway.name;
    for (const s of g.model.services) {
      const dep = find(g, 'Deployment', s.name, s.namespace);
      if (!s.image) {
        expect(dep).toBeUndefined();
        continue;
      }
      const c = container(dep!);
      expect(c.image).toBe(s.image);
      expect(dep!.spec.template.metadata.labels).toMatchObject({ app: s.name, ...(s.version ? { version: s.version } : {}) });
      const hpa = find(g, 'HorizontalPodAutoscaler', s.name, s.namespace);
      if (s.replicas >= 2) {
        expect(hpa!.spec.minReplicas).toBe(s.replicas);
        expect(find(g, 'PodDisruptionBudget', s.name, s.namespace)).toBeDefined();
      } else {
        expect(dep!.spec.replicas).toBe(s.replicas);
        expect(hpa).toBeUndefined();
      }
      const hc = s.healthCheck;
      if (hc) {
        expect(c.readinessProbe).toMatchObject({ httpGet: { path: hc.path, port: s.port }, periodSeconds: hc.intervalSeconds, successThreshold: hc.successThreshold, failureThreshold: hc.failureThreshold });
        expect(c.livenessProbe).toMatchObject({ periodSeconds: hc.intervalSeconds, successThreshold: 1, failureThreshold: hc.failureThreshold });
      }
      const np = find(g, 'NetworkPolicy', s.name, s.namespace)!;
      const from = np.spec.ingress[0].from;
      expect(from[0]).toEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': gw } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': gw } } });
      expect(from.slice(1).every((f: Doc) => f.podSelector.matchLabels.istio === 'ingressgateway')).toBe(true);
      expect(np.spec.ingress[0].ports).toEqual([{ port: s.port, protocol: 'TCP' }]);
    }
  });

  it('deploys Redis beside the gateway exactly when a limiter or a quota tier keeps its counters there', () => {
    const gw = g.model.gateway.name;
    const redis = usesRedis(g.model);
    expect(find(g, 'Deployment', 'redis', gw) !== undefined).toBe(redis);
    if (redis) expect(find(g, 'Service', 'redis', gw)!.spec.ports[0].port).toBe(6379);
  });
});

/** A model of routes "/r0", "/r1" … with the given IP restrictions (undefined = none) and extra gateway Turtle. */
function writeModel(restrictions: readonly ({ allow?: string[]; deny?: string[] } | undefined)[], gatewayExtra = '', name = 'edge', listenPort = 9000): string {
  const list = (p: string, values: string[] | undefined) => (values && values.length > 0 ? ` ; agw:${p} ${values.map((v) => JSON.stringify(v)).join(' , ')}` : '');
  const routes = restrictions.map((ip, i) => `ex:r${i} a agw:Route ; agw:routePath "/r${i}" ; agw:hasBackendService ex:svc${ip ? ` ; agw:hasIpRestriction [ a agw:IpRestriction${list('allowCidr', ip.allow)}${list('denyCidr', ip.deny)} ]` : ''} .`);
  const file = join(tempDir(), `${name}.ttl`);
  writeFileSync(
    file,
    `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/${name}#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "${name}" ; agw:listenPort ${listenPort} ; agw:hasRoute ${restrictions.map((_, i) => `ex:r${i}`).join(' , ')}${gatewayExtra} .
ex:svc a agw:BackendService ; agw:serviceName "svc" ; agw:image "ghcr.io/example/svc:1.0" ; agw:replicas 1 .
${routes.join('\n')}
`,
  );
  return file;
}

describe('k8s target: edge network policy', () => {
  const port = [{ port: 9000, protocol: 'TCP' }];
  const block = (cidr: string, except?: string[]) => ({ ipBlock: { cidr, ...(except ? { except } : {}) } });
  // [case, the routes' restrictions, the gateway NetworkPolicy's ingress rules, the note NOTES.md has]
  const cases: [string, ({ allow?: string[]; deny?: string[] } | undefined)[], Doc[], string | undefined][] = [
    ['no restriction: anyone', [undefined, undefined], [{ ports: port }], undefined],
    ['some routes only: anyone, the gateway refuses per route', [{ allow: ['10.0.0.0/8'] }, undefined], [{ ports: port }], 'agw:IpRestriction on some routes'],
    [
      'allow lists on every route: their union, a denied range inside one as except',
      [{ allow: ['192.0.2.0/24'] }, { allow: ['10.8.0.0/16', '192.0.2.0/24'], deny: ['10.8.1.0/24'] }],
      [{ ports: port, from: [block('10.8.0.0/16', ['10.8.1.0/24']), block('192.0.2.0/24')] }],
      'agw:IpRestriction on every route',
    ],
    [
      'host bits set and upper-case IPv6: the block the gateway matches, in canonical form',
      [{ allow: ['192.0.2.77/24', '2001:DB8:0:0::1/32'], deny: ['2001:db8:0:0:0:0:0:1/128'] }],
      [{ ports: port, from: [block('192.0.2.0/24'), block('2001:db8::/32', ['2001:db8::1/128'])] }],
      'agw:IpRestriction on every route',
    ],
    [
      'deny lists only, on every route: every address less what every route denies',
      [{ deny: ['198.51.100.0/24'] }, { deny: ['198.51.100.0/24', '2001:db8::/32'] }],
      [{ ports: port, from: [block('0.0.0.0/0', ['198.51.100.0/24']), block('::/0')] }],
      'agw:IpRestriction on every route',
    ],
    [
      'nested ranges: the wider one alone; an allowed range inside a denied one serves nobody',
      [{ allow: ['0.0.0.0/0', '10.0.0.0/8'] }, { allow: ['10.1.0.0/16', '2001:db8::/48'], deny: ['10.0.0.0/8'] }],
      [{ ports: port, from: [block('0.0.0.0/0'), block('2001:db8::/48')] }],
      'agw:IpRestriction on every route',
    ],
    ['every allowed address denied: nobody (an empty from would admit anyone)', [{ allow: ['10.0.0.0/16'], deny: ['10.0.0.0/8'] }, { deny: ['0.0.0.0/0', '::/0'] }], [], 'agw:denyCidr covers every allowed address'],
  ];

  it.each(cases)('%s', async (_name, restrictions, ingress, note) => {
    const g = await k8sOf([writeModel(restrictions)]);
    const policy = find(g, 'NetworkPolicy', 'edge')!;
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toEqual(ingress);
    for (const feature of ['agw:IpRestriction on some routes', 'agw:IpRestriction on every route', 'agw:denyCidr covers every allowed address']) {
      expect(g.files['k8s/NOTES.md']!.includes(`## ${feature}\n`), feature).toBe(feature === note || (note === 'agw:denyCidr covers every allowed address' && feature === 'agw:IpRestriction on every route'));
    }
    for (const doc of g.docs) expect(() => new K8S_MODELS[`${doc.apiVersion}/${doc.kind}`]!(doc).validate()).not.toThrow();
  });
});

describe('k8s target: names of the gateway\'s own workloads', () => {
  const limiter = 'agw:hasRateLimiter [ a agw:RateLimiter ; agw:requestsPerSecond 5 ; agw:policy "redis" ]';
  const backend = (name: string, ns: string) => `ex:${name.replace(/-/g, '_')} a agw:BackendService ; agw:serviceName "${name}" ; agw:namespace "${ns}" ; agw:image "example/${name}:1" .`;
  // [case, gateway name, backends deployed to its namespace, the gateway's workload name, Redis's]
  const cases: [string, string, string[], string, string][] = [
    ['nothing taken', 'g', [], 'g', 'redis'],
    ['a backend has each name', 'g', ['g', 'redis'], 'g-gateway', 'g-redis'],
    ['the fallback names are taken too', 'g', ['g', 'g-gateway', 'redis', 'g-redis'], 'g-gateway-2', 'g-redis-2'],
    ['a gateway named redis', 'redis', [], 'redis', 'redis-redis'],
  ];
  it.each(cases)('%s: every resource is one of its kind in its namespace, and Kong\'s Redis host follows', async (_name, gw, backends, gatewayName, redisName) => {
    const file = join(tempDir(), 'taken.ttl');
    writeFileSync(
      file,
      `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/taken#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "${gw}" ; agw:hasRoute ex:r .
ex:r a agw:Route ; agw:routePath "/" ; agw:hasBackendService ex:main ; ${limiter} .
ex:main a agw:BackendService ; agw:serviceName "main" ; agw:image "example/main:1" .
${backends.map((b) => backend(b, gw)).join('\n')}
`,
    );
    const result = await generate({ models: [file], targets: ['k8s', 'kong'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const docs = result.files.filter((f) => f.path.startsWith('k8s/') && f.path.endsWith('.yaml') && f.path !== 'k8s/kustomization.yaml').flatMap((f) => parseAllDocuments(f.content).map((d) => d.toJS() as Doc));
    const ids = docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    const inGatewayNs = (kind: string) => docs.filter((d) => d.kind === kind && d.metadata.namespace === gw).map((d) => d.metadata.name).sort();
    expect(inGatewayNs('Deployment')).toEqual([gatewayName, redisName, ...backends].sort());
    // Two Deployments never select each other's pods.
    const selectors = docs.filter((d) => d.kind === 'Deployment' && d.metadata.namespace === gw).map((d) => JSON.stringify(d.spec.selector.matchLabels));
    expect(new Set(selectors).size).toBe(selectors.length);
    expect(find({ docs } as Generated, 'Deployment', redisName, gw)!.spec.template.spec.containers[0].name).toBe('redis');
    expect(find({ docs } as Generated, 'Deployment', gatewayName, gw)!.spec.template.spec.containers[0].name).toBe('gateway');
    const kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content) as Doc;
    expect(JSON.stringify(kong)).toContain(`"redis":{"host":"${redisName}"`);
  });
});

describe('k8s target: the gateway in a mesh', () => {
  // The gateway's clients are outside the mesh: its sidecar must leave its inbound port alone.
  // [mesh, its mTLS mode, the annotation that keeps the port out of its sidecar (none: no sidecar gwgen injects)]
  const cases: [string, string, string | undefined][] = [
    ['istio', 'STRICT', 'traffic.sidecar.istio.io/excludeInboundPorts'],
    ['linkerd', 'STRICT', 'config.linkerd.io/skip-inbound-ports'],
    ['linkerd', 'DISABLE', undefined],
    ['kuma', 'PERMISSIVE', 'traffic.kuma.io/exclude-inbound-ports'],
    ['consul', 'STRICT', undefined],
  ];
  it.each(cases)('%s %s: the gateway pods keep their inbound port out of the sidecar (%s), the backends do not', async (mesh, mode, annotation) => {
    const extra = ` ; agw:hasServiceMesh [ a agw:ServiceMesh ; agw:meshType "${mesh}" ; agw:hasMutualTLS [ a agw:MutualTLS ; agw:mtlsMode "${mode}" ] ]`;
    const g = await k8sOf([writeModel([undefined], extra, `mesh-${mesh}-${mode.toLowerCase()}`)]);
    const gatewayPods = find(g, 'Deployment', `mesh-${mesh}-${mode.toLowerCase()}`)!.spec.template.metadata;
    const expected = annotation ? { [annotation]: '9000' } : {};
    // (The sidecar's lifetime after SIGTERM is checked with the preStop wait.)
    const lifetime = ['gwgen.dev/config-sha256', 'proxy.istio.io/config', 'config.alpha.linkerd.io/proxy-wait-before-exit-seconds'];
    expect(Object.fromEntries(Object.entries(gatewayPods.annotations as Record<string, string>).filter(([k]) => !lifetime.includes(k)))).toEqual(expected);
    const backendPods = find(g, 'Deployment', 'svc')!.spec.template.metadata;
    expect(Object.keys(backendPods.annotations ?? {}).filter((k) => /inbound-?ports/i.test(k))).toEqual([]);
    // The backend runs in namespace default, which gwgen does not label: its pods carry the mesh's injection marker.
    const marker = { istio: { labels: { 'sidecar.istio.io/inject': 'true' } }, kuma: { labels: { 'kuma.io/sidecar-injection': 'enabled' } }, linkerd: { annotations: { 'linkerd.io/inject': mode === 'DISABLE' ? 'disabled' : 'enabled' } } }[mesh as 'istio'];
    if (marker) expect(backendPods).toMatchObject(marker);
    else expect(JSON.stringify(backendPods)).not.toMatch(/inject/);
    expect(g.files['k8s/NOTES.md']!.includes(`## agw:meshType "${mesh}" at the edge`)).toBe(annotation !== undefined);
  });

  it('Linkerd with the mesh\'s mTLS DISABLE and a STRICT service: the gateway pods run the proxy (else the service refuses their plaintext), their inbound port left out of it', async () => {
    const file = join(tempDir(), 'linkerd-strict.ttl');
    writeFileSync(
      file,
      `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/ls#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "edge" ; agw:listenPort 9000 ; agw:hasRoute ex:r ;
  agw:hasServiceMesh [ a agw:ServiceMesh ; agw:meshType "linkerd" ; agw:namespace "linkerd" ; agw:hasMutualTLS [ a agw:MutualTLS ; agw:mtlsMode "DISABLE" ] ] .
ex:s a agw:BackendService ; agw:serviceName "orders" ; agw:namespace "shop" ; agw:image "x/o:1" ; agw:hasMutualTLS [ a agw:MutualTLS ; agw:mtlsMode "STRICT" ] .
ex:r a agw:Route ; agw:routePath "/orders" ; agw:hasBackendService ex:s .
`,
    );
    const g = await k8sOf([file]);
    const pods = find(g, 'Deployment', 'edge')!.spec.template.metadata.annotations as Record<string, string>;
    expect(pods).toMatchObject({ 'linkerd.io/inject': 'enabled', 'config.linkerd.io/skip-inbound-ports': '9000' });
    expect(find(g, 'Namespace', 'edge')!.metadata.annotations).toMatchObject({ 'linkerd.io/inject': 'disabled' });
    expect(find(g, 'Deployment', 'orders')!.spec.template.metadata.annotations).toMatchObject({ 'linkerd.io/inject': 'enabled', 'config.linkerd.io/default-inbound-policy': 'all-authenticated' });
    expect(g.files['k8s/NOTES.md']).toContain('## agw:mtlsMode "DISABLE" of the mesh beside STRICT services');
  });

  it('Istio: a backend admits the ingress gateway\'s pods in the mesh\'s agw:namespace only, and NOTES.md names that namespace', async () => {
    for (const [extra, ns] of [[' ; agw:namespace "mesh-edge"', 'mesh-edge'], ['', 'default']] as const) {
      const name = `ingress-${ns}`;
      const g = await k8sOf([writeModel([undefined], ` ; agw:hasServiceMesh [ a agw:ServiceMesh ; agw:meshType "istio"${extra} ]`, name)]);
      expect(find(g, 'NetworkPolicy', 'svc')!.spec.ingress[0].from).toContainEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } }, podSelector: { matchLabels: { istio: 'ingressgateway' } } });
      expect(g.files['k8s/NOTES.md']).toContain(`pods labelled istio: ingressgateway in namespace ${ns}, the mesh's agw:namespace`);
    }
  });

  // [mesh, its agw:namespace, a namespace gwgen writes, namespaces it must not write]
  const controlPlanes: [string, string, string[]][] = [
    ['istio', 'mesh-root', ['istio-system', 'mesh-root', 'linkerd', 'kuma-system', 'consul', 'kube-system']],
    ['linkerd', 'default', ['linkerd', 'linkerd-viz', 'istio-system']],
    ['kuma', 'default', ['kuma-system']],
  ];
  it.each(controlPlanes)('%s: a backend in a mesh control plane\'s namespace gets no Namespace of gwgen\'s (kubectl delete -k would delete it) and carries the injection marker itself', async (mesh, meshNs, notOwned) => {
    const name = `cp-${mesh}`;
    const file = join(tempDir(), `${name}.ttl`);
    const all = [...notOwned, 'apps'];
    writeFileSync(
      file,
      `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/${name}#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "${name}" ; agw:listenPort 9000 ; agw:hasServiceMesh [ a agw:ServiceMesh ; agw:meshType "${mesh}" ; agw:namespace "${meshNs}" ] ; agw:hasRoute ${all.map((_, i) => `ex:r${i}`).join(' , ')} .
${all.map((ns, i) => `ex:s${i} a agw:BackendService ; agw:serviceName "s${i}" ; agw:namespace "${ns}" ; agw:image "ghcr.io/example/s:1" ; agw:replicas 1 .\nex:r${i} a agw:Route ; agw:routePath "/r${i}" ; agw:hasBackendService ex:s${i} .`).join('\n')}
`,
    );
    const g = await k8sOf([file]);
    const written = g.docs.filter((d) => d.kind === 'Namespace').map((d) => d.metadata.name).sort();
    expect(written).toEqual(['apps', name].sort());
    const markerOf = (i: number) => JSON.stringify(find(g, 'Deployment', `s${i}`)!.spec.template.metadata);
    notOwned.forEach((ns, i) => expect(markerOf(i), ns).toMatch(/sidecar\.istio\.io\/inject|kuma\.io\/sidecar-injection|linkerd\.io\/inject/));
    expect(markerOf(notOwned.length)).not.toMatch(/inject/);
    expect(g.files['k8s/NOTES.md']).toContain(`Applies to: namespace ${[...notOwned].sort().join(', ')}`);
  });

  it('under a privileged listen port the annotation names the port the container listens on', async () => {
    const g = await k8sOf([writeModel([undefined], ' ; agw:hasServiceMesh [ a agw:ServiceMesh ; agw:meshType "istio" ]', 'mesh-443', 443)]);
    expect(find(g, 'Deployment', 'mesh-443')!.spec.template.metadata.annotations['traffic.sidecar.istio.io/excludeInboundPorts']).toBe('8080');
  });
});

describe('k8s target: ports a mesh sidecar listens on (test/fixtures/valid/mesh-sidecar-ports.ttl)', () => {
  it('the gateway on one listens on 8080 behind the model\'s Service port; NOTES.md names the backends on one', async () => {
    const g = await k8sOf(['test/fixtures/valid/mesh-sidecar-ports.ttl']);
    const dep = find(g, 'Deployment', 'sp', 'sp')!;
    const c = container(dep);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.env).toContainEqual({ name: 'PORT', value: '8080' });
    expect([c.readinessProbe.httpGet.port, c.livenessProbe.httpGet.port]).toEqual([8080, 8080]);
    expect(dep.spec.template.metadata.annotations['traffic.sidecar.istio.io/excludeInboundPorts']).toBe('8080');
    expect(find(g, 'Service', 'sp', 'sp')!.spec.ports).toEqual([{ name: 'http', port: 15021, targetPort: 'http', protocol: 'TCP' }]);
    expect(find(g, 'NetworkPolicy', 'sp', 'sp')!.spec.ingress[0].ports).toEqual([{ port: 8080, protocol: 'TCP' }]);
    const notes = g.files['k8s/NOTES.md']!;
    expect(notes).toMatch(/## agw:listenPort taken by the istio sidecar\n\n[^\n]*listens on port 15021 itself: the gateway container listens on 8080 \(PORT\), and its Service exposes port 15021\.\n\nApplies to: gateway sp\n/);
    // Istio's DISABLE turns off mutual TLS, not the sidecar: 15090 stays taken.
    expect(notes).toMatch(/## agw:port taken by the istio sidecar\n\n[^\n]*\n\nApplies to: service inbound \(port 15006\), service stats \(port 15090\)\n/);
  });

  it('a port is taken only where the sidecar runs: Linkerd under DISABLE runs none', async () => {
    const lk = (mode: string) => writeModel([undefined], ` ; agw:hasServiceMesh [ a agw:ServiceMesh ; agw:meshType "linkerd" ; agw:hasMutualTLS [ a agw:MutualTLS ; agw:mtlsMode "${mode}" ] ]`, `lk-${mode.toLowerCase()}`, 4191);
    const strict = await k8sOf([lk('STRICT')]);
    expect(container(find(strict, 'Deployment', 'lk-strict')!).ports[0].containerPort).toBe(8080);
    const off = await k8sOf([lk('DISABLE')]);
    expect(container(find(off, 'Deployment', 'lk-disable')!).ports[0].containerPort).toBe(4191);
    expect(off.files['k8s/NOTES.md']).not.toContain('taken by the linkerd sidecar');
  });
});

describe('k8s target: edge cases (test/fixtures/valid/k8s-edge-cases.ttl)', () => {
  let g: Generated;
  let kong: Doc;
  const gw = '9edge-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu';
  beforeAll(async () => {
    g = await k8sOf(['test/fixtures/valid/k8s-edge-cases.ttl']);
    const result = await generate({ models: ['test/fixtures/valid/k8s-edge-cases.ttl'], targets: ['kong'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    kong = parse(result.files.find((f) => f.path === 'kong/kong.yml')!.content) as Doc;
  });
  const env = (name: string) => container(find(g, 'Deployment', gw, gw)!).env.find((e: Doc) => e.name === name);

  it('GW_UPSTREAM_* keeps the instances\' weights: a drained instance stays drained, 100 is the default', () => {
    expect(env('GW_UPSTREAM_LEGACY')).toEqual({
      name: 'GW_UPSTREAM_LEGACY',
      value: 'https://10.1.2.3:9443;weight=80,https://legacy2.example.com:443;weight=20,https://legacy3.example.com:443;weight=0,https://legacy4.example.com:443',
    });
  });

  it('REDIS_URL names the Redis Service beside the gateway, a valid Service name that selects the Redis pods, which Kong addresses too', () => {
    const url = new URL(env('REDIS_URL').value);
    const [name, namespace] = url.hostname.split('.');
    expect(url.hostname).toBe(`${name}.${gw}.svc.cluster.local`);
    expect(namespace).toBe(gw);
    expect(name).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    const service = find(g, 'Service', name!, gw)!;
    expect(service.spec.ports[0]).toMatchObject({ port: Number(url.port), targetPort: 'tcp-redis' });
    const redis = find(g, 'Deployment', name!, gw)!;
    expect(container(redis).name).toBe('redis');
    expect(redis.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(JSON.stringify(kong)).toContain(`"redis":{"host":"${name}"`);
    expect(g.files['k8s/NOTES.md']).not.toContain('REDIS_URL=');
  });

  it('a backend in namespace default carries the mesh\'s injection marker; one in a labelled namespace does not need it', () => {
    expect(g.docs.some((d) => d.kind === 'Namespace' && d.metadata.name === 'default')).toBe(false);
    expect(find(g, 'Deployment', 'plain', 'default')!.spec.template.metadata.labels['sidecar.istio.io/inject']).toBe('true');
    expect(find(g, 'Deployment', 'grpc-svc', 'rpc')!.spec.template.metadata.labels['sidecar.istio.io/inject']).toBeUndefined();
    expect(find(g, 'Namespace', 'rpc')!.metadata.labels['istio-injection']).toBe('enabled');
    expect(g.files['k8s/NOTES.md']).toMatch(/## agw:meshType "istio" in a namespace gwgen does not write\n\n[^\n]*\n\nApplies to: namespace default\n/);
  });

  it('writes a kube-* namespace that is not built in', () => {
    expect(find(g, 'Namespace', 'kube-apps')!.metadata.labels['istio-injection']).toBe('enabled');
    expect(find(g, 'Deployment', 'secure', 'kube-apps')).toBeDefined();
  });

  it('probes a gRPC backend with gRPC and an HTTPS one over HTTPS, at the container port the Service targets', () => {
    for (const [name, ns, probe] of [
      ['grpc-svc', 'rpc', { grpc: { port: 50051 } }],
      ['secure', 'kube-apps', { httpGet: { path: '/health', port: 8443, scheme: 'HTTPS' } }],
    ] as const) {
      const c = container(find(g, 'Deployment', name, ns)!);
      expect(c.readinessProbe).toMatchObject(probe);
      expect(c.livenessProbe).toMatchObject(probe);
      expect(find(g, 'Service', name, ns)!.spec.ports[0].targetPort).toBe(c.ports[0].name);
      expect(find(g, 'NetworkPolicy', name, ns)!.spec.ingress[0].ports).toEqual([{ port: c.ports[0].containerPort, protocol: 'TCP' }]);
    }
  });

  it('a backend of one replica has no HPA and no PDB, which would block every eviction', () => {
    const name = 'svc-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvw';
    const ns = 'ns-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwx';
    expect(find(g, 'Deployment', name, ns)!.spec.replicas).toBe(1);
    expect(find(g, 'HorizontalPodAutoscaler', name, ns)).toBeUndefined();
    expect(find(g, 'PodDisruptionBudget', name, ns)).toBeUndefined();
    for (const pdb of g.docs.filter((d) => d.kind === 'PodDisruptionBudget')) {
      const hpa = find(g, 'HorizontalPodAutoscaler', pdb.metadata.name, pdb.metadata.namespace)!;
      // maxUnavailable 1 leaves an eviction possible whenever at least two replicas run.
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      // A PDB counts ready pods only: with every replica failing its readiness probe (a bad image,
      // a crash loop) the default policy (IfHealthyBudget) refuses to evict even the failing pods,
      // and a node drain waits forever for pods that will never serve.
      expect(pdb.spec.unhealthyPodEvictionPolicy, `${pdb.metadata.namespace}/${pdb.metadata.name}`).toBe('AlwaysAllow');
    }
  });
});

describe('k8s target: workloads named "default" (test/fixtures/valid/default-named-workloads.ttl)', () => {
  it('run as a ServiceAccount of their own, never the namespace\'s "default" that its other pods use', async () => {
    const g = await k8sOf(['test/fixtures/valid/default-named-workloads.ttl']);
    const accounts = g.docs.filter((d) => d.kind === 'ServiceAccount').map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
    expect(accounts.sort()).toEqual(['default/default-workload', 'shop/default-workload', 'shop/default-workload-2']);
    const runsAs = (name: string, ns: string) => find(g, 'Deployment', name, ns)!.spec.template.spec.serviceAccountName;
    expect(runsAs('default', 'default')).toBe('default-workload');
    expect(runsAs('default', 'shop')).toBe('default-workload-2');
    expect(runsAs('default-workload', 'shop')).toBe('default-workload');
  });
});

describe('k8s target: quota tiers without a Redis limiter', () => {
  it('deploys Redis so that the gateway\'s replicas share each consumer\'s quota, and says so', async () => {
    const g = await k8sOf(['test/fixtures/valid/blank-quota-tier.ttl']);
    expect(g.model.routes.some((r) => r.rateLimit?.policy === 'redis')).toBe(false);
    const gw = g.model.gateway.name;
    expect(container(find(g, 'Deployment', gw, gw)!).env).toContainEqual({ name: 'REDIS_URL', value: `redis://redis.${gw}.svc.cluster.local:6379` });
    expect(container(find(g, 'Deployment', 'redis', gw)!).name).toBe('redis');
    expect(find(g, 'NetworkPolicy', 'redis', gw)!.spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': gw } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': gw } } }]);
    expect(g.files['k8s/NOTES.md']).toMatch(/## agw:QuotaTier\n\nEvery gateway replica counts the quota tiers in one Redis\./);
    expect(g.files['k8s/kustomization.yaml']).toContain('  - redis.yaml\n');
  });
});

describe('k8s target: mTLS modes of other meshes', () => {
  it('Linkerd: STRICT and PERMISSIVE as the default inbound policy (namespace, pods), DISABLE as a pod without the proxy', async () => {
    const g = await k8sOf(['test/fixtures/valid/mesh-linkerd-mtls-modes.ttl']);
    const annotations = (kind: string, name: string) => {
      const d = g.docs.find((x) => x.kind === kind && x.metadata.name === name)!;
      return kind === 'Namespace' ? d.metadata.annotations : d.spec.template.metadata.annotations;
    };
    expect(annotations('Namespace', 'apps')).toEqual({ 'linkerd.io/inject': 'enabled', 'config.linkerd.io/default-inbound-policy': 'all-authenticated' });
    expect(annotations('Deployment', 'legacy')).toEqual({ 'linkerd.io/inject': 'disabled' });
    expect(annotations('Deployment', 'soft')).toEqual({ 'linkerd.io/inject': 'enabled', 'config.linkerd.io/default-inbound-policy': 'all-unauthenticated' });
  });

  it('Linkerd: a meshed pod\'s NetworkPolicy also admits the gateway at the proxy\'s inbound port 4143, where meshed calls arrive', async () => {
    const g = await k8sOf(['test/fixtures/valid/mesh-linkerd-network-policy.ttl']);
    const ports = (name: string) => find(g, 'NetworkPolicy', name)!.spec.ingress.map((rule: Doc) => rule.ports.map((p: Doc) => p.port));
    expect(ports('meshed')).toEqual([[8081, 4143]]);
    // Redis's 6379 is one of Linkerd's default opaque ports: meshed connections always go to 4143.
    expect(ports('redis')).toEqual([[6379, 4143]]);
    // Without the proxy (DISABLE) the gateway's proxy connects to the pod's own port.
    expect(ports('plain')).toEqual([[8082]]);
    // The gateway's inbound port skips its proxy: its clients reach it at its own port.
    expect(ports('lk')).toEqual([[8080]]);
  });

  it('Consul: a meshed pod\'s NetworkPolicy also admits the gateway at port 20000, where Consul\'s sidecar takes meshed calls', async () => {
    const g = await k8sOf(['test/fixtures/valid/mesh-consul-network-policy.ttl']);
    const ports = (name: string) => find(g, 'NetworkPolicy', name)!.spec.ingress.map((rule: Doc) => rule.ports.map((p: Doc) => p.port));
    expect(ports('meshed')).toEqual([[8081, 20000]]);
    expect(ports('redis')).toEqual([[6379, 20000]]);
    // A DISABLE service is one without connect-inject: no sidecar takes its calls.
    expect(ports('plain')).toEqual([[8082]]);
    // gwgen injects no sidecar into the gateway: its clients reach it at its own port.
    expect(ports('cs')).toEqual([[8080]]);
  });

  it('Linkerd: the gateway\'s proxy outlives the gateway\'s preStop wait and drain, which still call the backends through it', async () => {
    const g = await k8sOf(['test/fixtures/valid/mesh-linkerd-network-policy.ttl']);
    const c = container(find(g, 'Deployment', 'lk')!);
    const wait: number = c.lifecycle.preStop.sleep.seconds;
    expect(Number(find(g, 'Deployment', 'lk')!.spec.template.metadata.annotations['config.alpha.linkerd.io/proxy-wait-before-exit-seconds'])).toBeGreaterThanOrEqual(wait + 12);
  });

  it('Linkerd STRICT: NOTES.md says the gRPC and HTTPS probes are refused (only plain HTTP probes are authorized)', async () => {
    const g = await k8sOf(['test/fixtures/valid/mesh-linkerd-network-policy.ttl']);
    expect(container(find(g, 'Deployment', 'rpc')!).readinessProbe.grpc).toEqual({ port: 9090 });
    expect(g.files['k8s/NOTES.md']).toMatch(/## agw:hasHealthCheck under Linkerd STRICT\n\n[^\n]*the gRPC readiness and liveness probes are refused[^\n]*\n\nApplies to: service rpc\n/);
    expect(g.files['k8s/NOTES.md']).toMatch(/## agw:hasHealthCheck under Linkerd STRICT\n\n[^\n]*the HTTPS readiness and liveness probes are refused[^\n]*\n\nApplies to: service tls\n/);
    expect(g.files['k8s/NOTES.md']).not.toMatch(/Applies to: service web\n/);
  });

  it('Kuma: the modes it keeps in its own resources are in NOTES.md, not dropped silently', async () => {
    const g = await k8sOf(['test/fixtures/valid/mesh-kuma-mtls-modes.ttl']);
    expect(g.files['k8s/NOTES.md']).toMatch(/## agw:mtlsMode\n\nKuma keeps mTLS off[^\n]*\n\nApplies to: mesh kuma \(STRICT\), service legacy \(DISABLE\), service soft \(PERMISSIVE\)/);
  });
});

describe('k8s target: escaping', () => {
  it('yamlBlock round-trips any text as a literal block, or falls back to a quoted scalar', async () => {
    const { yamlBlock } = await import('../dist/pipeline/helpers.js');
    const texts = ['{\n  "a": "b: c # d"\n}', 'line\n\nafter blank\n', 'x: |\n  ---\n- &a *a', ' leading space', 'trailing \nspace', 'tab\tinside', 'ctrl\u0001char', '', 'one\n\n'];
    for (const text of texts) {
      const doc = `data:\n  key: ${yamlBlock(text, 4)}\n`;
      expect((parse(doc) as { data: { key: string } }).data.key, JSON.stringify(text)).toBe(text);
    }
  });

  it('a listen port below 1024: the non-root container listens on 8080, its Service on the model\'s port, and NOTES.md says so', async () => {
    const g = await k8sOf(['test/fixtures/valid/privileged-port.ttl']);
    const c = container(find(g, 'Deployment', 'edge')!);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.env).toContainEqual({ name: 'PORT', value: '8080' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 8080 });
    expect(find(g, 'Service', 'edge')!.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(g.files['k8s/NOTES.md']).toContain('cannot bind port 80: it listens on 8080 (PORT), and its Service exposes port 80');
  });

  it('gives the gateway the OTLP traces URL of the collector: the endpoint + /v1/traces, or the endpoint when it ends so', async () => {
    for (const [model, gw, url] of [
      ['test/fixtures/valid/tiny-sampling-rate.ttl', 'tiny', 'http://otel:4318/v1/traces'],
      ['test/fixtures/valid/collector-traces-url.ttl', 'traced', 'http://otel-collector:4318/v1/traces'],
    ] as const) {
      const env: Doc[] = container(find(await k8sOf([model]), 'Deployment', gw)!).env;
      expect(env.filter((e) => e.name.startsWith('OTEL_EXPORTER_OTLP_'))).toEqual([{ name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', value: url }]);
    }
  });

  it('a "$" in an env value is written "$$": Kubernetes would expand $(PORT) in the collector URL and read $$ as $', async () => {
    const file = join(tempDir(), 'dollar.ttl');
    writeFileSync(
      file,
      `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/dl#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "dollar" ; agw:hasRoute ex:r ; agw:hasDistributedTracing [ a agw:DistributedTracing ; agw:collectorEndpoint "http://otel:4318/a$$b/$(PORT)" ] .
ex:r a agw:Route ; agw:routePath "/p" ; agw:hasBackendService ex:a .
ex:a a agw:BackendService ; agw:serviceName "a" .
`,
    );
    const env: Doc[] = container(find(await k8sOf([file]), 'Deployment', 'dollar')!).env;
    const written = env.find((e) => e.name === 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')!.value as string;
    expect(written).toBe('http://otel:4318/a$$$$b/$$(PORT)/v1/traces');
    // What the kubelet makes of it (Kubernetes' expansion: $$ is $, $(NAME) a variable before it).
    const expanded = written.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name?: string) => (name === undefined ? '$' : (env.find((e) => e.name === name)?.value ?? m)));
    expect(expanded).toBe('http://otel:4318/a$$b/$(PORT)/v1/traces');
  });

  it('hostile strings stay inert and every document stays valid', async () => {
    const g = await k8sOf(['test/fixtures/valid/hostile-strings.ttl']);
    for (const doc of g.docs) {
      expect(() => new K8S_MODELS[`${doc.apiVersion}/${doc.kind}`]!(doc).validate()).not.toThrow();
      expect(Object.keys(doc).every((k) => ['apiVersion', 'kind', 'metadata', 'spec', 'data', 'automountServiceAccountToken'].includes(k))).toBe(true);
    }
    for (const text of Object.values(g.files)) expect(text).not.toMatch(/^\s*injected:/m);
    const config = JSON.parse(find(g, 'ConfigMap', 'hostile-config', 'hostile')!.data['gateway.json']);
    expect(JSON.stringify(config)).toContain('kind: Secret');
  });
});

describe('certificates the gateway and its manifests do not manage (test/fixtures/valid/unhonoured-terms.ttl)', () => {
  it('k8s NOTES.md and the gateway README list the service whose agw:Certificate nothing tracks or rotates', async () => {
    const result = await generate({ models: ['test/fixtures/valid/unhonoured-terms.ttl'], cwd: ROOT, targets: ['k8s', 'gateway'] });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const file = (path: string) => result.files.find((f) => f.path === path)!.content;
    expect(file('k8s/NOTES.md')).toMatch(/## agw:hasCertificate\n\n[^\n]*GW\\_MTLS\\_CERT[^\n]*agw:rotationPeriod\.\n\nApplies to: service svc\n/);
    expect(file('gateway/README.md')).toMatch(/- Service svc has an agw:Certificate: the gateway neither tracks its expiry nor rotates it/);
  });
});

describe('k8s target: a deployed service whose name starts with a digit (test/fixtures/valid/names-starting-with-a-digit.ttl)', () => {
  it('is one Service name in every target: svc-9lives in Kubernetes, in the gateway\'s upstream and among Kong\'s targets', async () => {
    const result = await generate({ models: ['test/fixtures/valid/names-starting-with-a-digit.ttl'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const text = (path: string) => result.files.find((f) => f.path === path)!.content;
    const services = parseAllDocuments(text('k8s/backend-9lives.yaml')).map((d) => d.toJS() as Doc).filter((d) => d.kind === 'Service');
    expect(services.map((d) => d.metadata.name)).toEqual(['svc-9lives']);
    const port = services[0]!.spec.ports[0].port as number;
    const kong = parse(text('kong/kong.yml')) as Doc;
    const targets = (kong.upstreams as Doc[]).flatMap((u) => (u.targets as Doc[]).map((t) => t.target as string));
    expect(targets).toEqual([`svc-9lives:${port}`]);
    const gatewayEnv = parseAllDocuments(text('k8s/gateway.yaml')).map((d) => d.toJS() as Doc).find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0].env as Doc[];
    expect(gatewayEnv.find((e) => e.name === 'GW_UPSTREAM_9LIVES')?.value).toContain(`svc-9lives.default.svc.cluster.local:${port}`);
  });
});
