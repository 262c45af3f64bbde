import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type * as M from '../model/types.js';
import { jsonLiteral } from '../pipeline/helpers.js';
import { VERSION } from '../version.js';
import { gatewayConfig } from './gateway.js';
import { istioNamespace } from './istio.js';
import { groupNotes, type NoteGroup } from './kong.js';
import { atMost, clusterHost, compareStrings, dnsName, hostPort, labelValue, mtlsModeOf, otlpTracesUrl, ownWorkloadNames, ISTIO_PROXY_PORTS, serviceResourceName, standardLabels, type Label } from './mesh-common.js';
import type { Limitation, PlannedFile, Target } from './types.js';

/**
 * Kubernetes: the gwgen gateway (Deployment, Service, ServiceAccount, ConfigMap, HPA, PDB,
 * NetworkPolicy) in its own namespace named after the gateway, every backend service that has
 * an agw:image in its agw:namespace, Redis beside the gateway when a rate limiter keeps its
 * counters there, and a kustomization.yaml listing it all. Secrets are referenced, never
 * written: the gateway reads the variables the model names from one Secret.
 */
export const k8sTarget: Target = {
  name: 'k8s',
  description: 'Kubernetes manifests for the gateway, its backends and Redis, with a kustomization: k8s/*.yaml',
  // Every model has a gateway to deploy.
  applies: () => true,
  partials: { dir: 'k8s', names: ['_k8sMeta.hbs', '_k8sProbe.hbs', '_k8sWorkload.hbs'] },
  view: (model) => k8sView(model),
  plan(model): PlannedFile[] {
    const view = k8sView(model);
    const files: PlannedFile[] = [];
    if (view.namespaces.length > 0) files.push({ path: 'k8s/namespaces.yaml', template: 'k8s/namespaces.yaml.hbs', context: view });
    files.push({ path: 'k8s/gateway.yaml', template: 'k8s/gateway.yaml.hbs', context: view });
    if (view.redis) files.push({ path: 'k8s/redis.yaml', template: 'k8s/redis.yaml.hbs', context: view });
    for (const backend of view.backends) files.push({ path: `k8s/${backend.file}`, template: 'k8s/backend.yaml.hbs', context: { gateway: view.gateway, workload: backend } });
    files.push({ path: 'k8s/kustomization.yaml', template: 'k8s/kustomization.yaml.hbs', context: view });
    files.push({ path: 'k8s/NOTES.md', template: 'k8s/NOTES.md.hbs', context: view });
    return files;
  },
};

// --- the view the templates render ---------------------------------------------------------

export interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels: readonly Label[];
  readonly annotations: readonly Label[];
}

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  /** Secret name: the value is the key of the same name in that Secret. */
  readonly secret?: string;
}

/**
 * Kubernetes expands `$(VAR)` in an env value from the variables before it and reads `$$` as `$`:
 * a collector URL with `$(PORT)` in it would reach the pod as another URL than Kong's and
 * config.json's. Every `$` is written `$$`, so each value arrives as the model gave it.
 */
function literalEnv(env: readonly EnvVar[]): EnvVar[] {
  return env.map((e) => (e.value?.includes('$') ? { ...e, value: e.value.replaceAll('$', () => '$$') } : e));
}

interface Probe {
  readonly kind: 'http' | 'grpc' | 'tcp';
  readonly path?: string;
  readonly scheme?: string;
  readonly port: number;
  readonly periodSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

type Peer = { readonly cidr: string; readonly except: readonly string[] } | { readonly namespace: string; readonly pods: readonly Label[] };

export interface Workload {
  /** File under k8s/ for a backend. */
  readonly file: string;
  readonly meta: Meta;
  /** The pods' ServiceAccount: named after the workload, never "default" (see serviceAccountName). */
  readonly serviceAccount: Meta;
  readonly selector: readonly Label[];
  readonly podLabels: readonly Label[];
  readonly podAnnotations: readonly Label[];
  /** Absent when an HPA owns the replica count. */
  readonly replicas?: number;
  readonly image: string;
  readonly containerName: string;
  readonly args: readonly string[];
  readonly port: { name: string; number: number };
  readonly env: readonly EnvVar[];
  readonly readiness?: Probe;
  readonly liveness?: Probe;
  /** Seconds a stopping pod keeps serving before it is sent SIGTERM (preStop sleep). */
  readonly preStopSleepSeconds?: number;
  readonly resources: { requestCpu: string; requestMemory: string; limitCpu: string; limitMemory: string };
  /** Non-root user and group the image runs as; absent = the image's own user (a user's backend image). */
  readonly runAs?: number;
  /** Read-only root file system and no capabilities (images gwgen knows). */
  readonly hardened: boolean;
  readonly mounts: readonly { name: string; path: string; configMap?: string; readOnly: boolean }[];
  /** The Service in front of the pods; its name is a DNS-1035 label (serviceResourceName). */
  readonly service: { meta: Meta; loadBalancer: boolean; port: number };
  readonly hpa?: { min: number; max: number };
  readonly pdb: boolean;
  /** Who may connect to the pods' port; empty = anyone, unless closed. */
  readonly ingressFrom: readonly Peer[];
  /** The ports those peers may connect to: the pods' port, and a mesh proxy's inbound port (PROXY_INBOUND_PORT). */
  readonly policyPorts: readonly number[];
  /** No ingress rule at all: the NetworkPolicy admits nobody (an empty `from` would admit anyone). */
  readonly closed: boolean;
}

export interface K8sView {
  readonly gateway: string;
  readonly namespace: string;
  readonly namespaces: readonly Meta[];
  readonly configMap: { meta: Meta; key: string; value: string };
  readonly gatewayWorkload: Workload;
  readonly redis?: Workload;
  readonly backends: readonly Workload[];
  /** The gateway's REDIS_URL: the Redis Service beside it. */
  readonly redisUrl?: string;
  readonly secretName: string;
  readonly secretKeys: readonly string[];
  readonly image: { name: string; tag: string };
  readonly resources: readonly string[];
  readonly notes: readonly NoteGroup[];
}

export const GATEWAY_IMAGE = 'ghcr.io/gwgen/gateway';
export const REDIS_IMAGE = 'redis:7.4-alpine';
/** Where the gateway container finds the model it serves. */
export const CONFIG_DIR = '/etc/gwgen';
export const CONFIG_KEY = 'gateway.json';

/** GW_UPSTREAM_<SERVICE>: the serviceName upper-cased, every non-alphanumeric character as "_" (interfaces.md). */
export function upstreamEnvName(service: string): string {
  return `GW_UPSTREAM_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The namespace the gateway, its ConfigMap and Redis are deployed to. */
export function gatewayNamespace(model: M.GatewayModel): string {
  return model.gateway.name;
}

const GATEWAY_RESOURCES = { requestCpu: '100m', requestMemory: '128Mi', limitCpu: '1', limitMemory: '512Mi' };
/**
 * How long a stopping gateway pod keeps serving before SIGTERM. The wait, the gateway's shutdown
 * (GW_SHUTDOWN_TIMEOUT_MS, 10 s, plus 2 s) fit the pod's default 30 s grace period.
 */
const GATEWAY_PRESTOP_SECONDS = 5;
/** The gateway's longest drain after SIGTERM: GW_SHUTDOWN_TIMEOUT_MS (10 s) and its 2 s of grace (main.ts). */
const GATEWAY_DRAIN_SECONDS = 12;
/** Where the gateway container listens when the model's port needs privileges (below 1024). */
const UNPRIVILEGED_PORT = 8080;
const BACKEND_RESOURCES = { requestCpu: '100m', requestMemory: '128Mi', limitCpu: '500m', limitMemory: '512Mi' };
const REDIS_RESOURCES = { requestCpu: '50m', requestMemory: '64Mi', limitCpu: '500m', limitMemory: '256Mi' };
/**
 * Namespaces gwgen never writes: those every cluster has, and the control planes' of the meshes
 * (Istio's root namespace among them). A Namespace in kustomization.yaml is deleted with
 * `kubectl delete -k`, and labelling a control plane's namespace for injection would put
 * sidecars into the mesh's own pods.
 */
const NOT_OWNED_NAMESPACES = /^(default|kube-system|kube-public|kube-node-lease|istio-system|linkerd|linkerd-viz|kuma-system|consul)$/;
const ownsNamespace = (model: M.GatewayModel, namespace: string): boolean => !NOT_OWNED_NAMESPACES.test(namespace) && !(model.gateway.mesh?.type === 'istio' && namespace === istioNamespace(model));

/**
 * The port a mesh's proxy takes meshed connections on, where a meshed client's proxy connects
 * instead of the pod's own port, so a NetworkPolicy that admits only the pod's port drops every
 * meshed connection. Linkerd's proxy inbound port (always for opaque ports such as Redis's 6379,
 * and for HTTP too; linkerd.io common-errors/network-policy); Consul's sidecar public listener,
 * which its catalog registers as the pod's mesh port (consul-k8s ProxyDefaultInboundPort). Istio
 * and Kuma keep the connection's own port and redirect it inside the pod.
 */
const PROXY_INBOUND_PORT: Partial<Record<M.ServiceMesh['type'], number>> = { linkerd: 4143, consul: 20000 };

/**
 * The ports a mesh's sidecar listens on in every pod it joins (Istio's "Ports used by Istio",
 * Linkerd's proxy ports, Kuma's and consul-k8s's redirect and admin ports): a container
 * of the pod cannot bind one of them, or takes it from the sidecar.
 */
const SIDECAR_PORTS: Record<M.ServiceMesh['type'], readonly number[]> = {
  istio: ISTIO_PROXY_PORTS,
  linkerd: [4140, 4143, 4190, 4191],
  kuma: [9901, 15001, 15006],
  consul: [15001, 19000, 20000],
};

/** Whether a pod's own port is one its mesh sidecar takes; under DISABLE Linkerd and Consul run no sidecar (proxyInbound). */
function sidecarPort(mesh: M.ServiceMesh | undefined, mode: M.MutualTls['mode'] | undefined, port: number): boolean {
  if (!mesh || (mode === 'DISABLE' && (mesh.type === 'linkerd' || mesh.type === 'consul'))) return false;
  return SIDECAR_PORTS[mesh.type].includes(port);
}

/** The largest int32: Kubernetes' probe thresholds and periods and an HPA's replica counts are int32s. */
const INT32_MAX = 2_147_483_647;

/** A model count for an int32 field: at most INT32_MAX, noted when the model's is larger. */
function int32(value: number, subject: string, feature: string, field: string, notes: Limitation[]): number {
  return atMost(value, INT32_MAX, notes, () => ({ subject, feature: `${feature} (above Kubernetes' maximum)`, detail: `${field} is an int32 in Kubernetes, at most ${INT32_MAX}; ${value} is written as ${INT32_MAX}` }));
}

export function k8sView(model: M.GatewayModel): K8sView {
  const gw = model.gateway.name;
  const ns = gatewayNamespace(model);
  const notes: Limitation[] = [];
  const meta = (name: string, namespace: string | undefined, component: string, annotations: Label[] = []): Meta => ({
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    labels: standardLabels(gw, component),
    annotations,
  });
  const own = ownWorkloadNames(model);
  // Every namespace has a ServiceAccount "default", which its other pods run as: a workload named
  // "default" gets another one, or applying would relabel that one and turn off its token for them.
  const workloadNames = new Set([...[own.gateway, own.redis].map((n) => `${ns}/${n}`), ...model.services.filter((s) => s.image !== undefined).map((s) => `${s.namespace}/${s.name}`)]);
  const serviceAccountName = (name: string, namespace: string): string => {
    if (name !== 'default') return name;
    let candidate = dnsName(name, 'workload');
    for (let n = 2; workloadNames.has(`${namespace}/${candidate}`); n++) candidate = dnsName(name, 'workload', String(n));
    return candidate;
  };
  const gatewayPods: Peer = { namespace: ns, pods: [{ key: 'app.kubernetes.io/name', value: labelValue(own.gateway) }] };
  for (const [name, wanted] of [[own.gateway, gw], [own.redis, 'redis']] as const) {
    if (name !== wanted) notes.push({ subject: `${wanted === gw ? 'gateway' : 'redis'} ${name}`, feature: 'Kubernetes resource names', detail: `The name ${wanted} is taken in namespace ${ns} (by a backend deployed there, or by the gateway), so the gateway's own ${wanted === gw ? 'workload' : 'Redis'} there is named ${name}${wanted === gw ? '' : ' (the gateway\'s REDIS_URL and Kong point at it)'}` });
  }
  const mesh = model.gateway.mesh;
  const istioIngress: Peer | undefined = mesh?.type === 'istio' ? { namespace: istioNamespace(model), pods: [{ key: 'istio', value: 'ingressgateway' }] } : undefined;

  // Secrets: the variables the model names. REDIS_URL is not one: it names the Redis deployed
  // beside the gateway, which has no password.
  const redisLimiters = model.routes.some((r) => r.rateLimit?.policy === 'redis');
  // The gateway counts quota tiers in Redis whenever REDIS_URL is set; without it each of its 2
  // to 10 replicas would count on its own, granting a consumer up to 10 times its quota.
  const quotaTiers = model.consumers.some((c) => c.quotaTier !== undefined);
  const usesRedis = redisLimiters || quotaTiers;
  const redisUrl = usesRedis ? `redis://${clusterHost(own.redis, ns)}:6379` : undefined;
  const secretName = dnsName(gw, 'secrets');
  const secretKeys = [
    ...new Set([
      ...model.routes.flatMap((r) => (r.auth?.kind === 'jwt' && r.auth.secretEnv ? [r.auth.secretEnv] : [])),
      ...model.consumers.flatMap((c) => (c.apiKeyEnv ? [c.apiKeyEnv] : [])),
    ]),
  ].sort(compareStrings);

  const deployed = model.services.filter((s) => s.image !== undefined);
  const deployedNames = new Set(deployed.map((s) => s.name));
  const upstreams: EnvVar[] = model.services.map((s) => ({ name: upstreamEnvName(s.name), value: upstreamUrls(s, deployedNames.has(s.name)) }));
  const tracing = model.gateway.tracing;
  // The gateway's config.json, byte for byte: the gateway image reads it at GWGEN_CONFIG.
  const configJson = `${jsonLiteral(gatewayConfig(model), 2)}\n`;
  const configHash = createHash('sha256').update(configJson).digest('hex');
  if (configJson.length > 900 * 1024) notes.push({ subject: `gateway ${gw}`, feature: 'ConfigMap size', detail: `The model is ${Math.round(configJson.length / 1024)} KiB as JSON, close to or above the 1 MiB limit of a ConfigMap; mount it from a volume instead` });

  const configName = dnsName(gw, 'config');
  // The container runs as a non-root user without capabilities, which cannot bind a port below
  // 1024: there it listens on 8080, and the Service still exposes the model's port.
  // Nor can it bind a port its mesh sidecar listens on: it listens on 8080 there too.
  const listenPort = model.gateway.listenPort;
  const taken = sidecarPort(mesh, mesh?.mtls?.mode, listenPort);
  const containerPort = listenPort >= 1024 && !taken ? listenPort : UNPRIVILEGED_PORT;
  if (listenPort < 1024) {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:listenPort below 1024', detail: `The gateway container runs as a non-root user without capabilities and cannot bind port ${listenPort}: it listens on ${UNPRIVILEGED_PORT} (PORT), and its Service exposes port ${listenPort}` });
  } else if (taken) {
    notes.push({ subject: `gateway ${gw}`, feature: `agw:listenPort taken by the ${mesh!.type} sidecar`, detail: `The ${mesh!.type} sidecar in the gateway's pods listens on port ${listenPort} itself: the gateway container listens on ${UNPRIVILEGED_PORT} (PORT), and its Service exposes port ${listenPort}` });
  }
  const edge = edgePeers(model, notes);
  // Under Linkerd with the mesh's mTLS off, a backend whose own mode is STRICT takes no plaintext:
  // the gateway then runs the proxy (its inbound port skipped, as at any edge), or reaches it not at all.
  const strict = mesh?.type === 'linkerd' && mesh.mtls?.mode === 'DISABLE' ? model.services.filter((s) => s.mtls?.mode === 'STRICT') : [];
  const gatewayMesh: M.ServiceMesh | undefined = strict.length > 0 ? { ...mesh!, mtls: undefined } : mesh;
  if (strict.length > 0) {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:mtlsMode "DISABLE" of the mesh beside STRICT services', detail: `The mesh's mTLS mode is DISABLE, so its pods run without Linkerd's proxy, but ${strict.map((s) => `service ${s.name}`).join(', ')} ${strict.length > 1 ? 'are' : 'is'} STRICT and take${strict.length > 1 ? '' : 's'} no plaintext: the gateway's pods run the proxy (linkerd.io/inject enabled) so that its calls carry mesh mTLS` });
  }
  const bypass = edgeBypass(gatewayMesh, containerPort);
  if (bypass.length > 0) {
    notes.push({ subject: `gateway ${gw}`, feature: `agw:meshType "${mesh!.type}" at the edge`, detail: `The gateway's clients are outside the mesh, so its sidecar does not take the gateway's inbound port ${containerPort} (a pod annotation): connections to the gateway are not mesh mTLS, whatever the mode, and the gateway sees each client's own address; its calls to the backends go through the sidecar` });
  }
  const gatewayWorkload: Workload = {
    file: 'gateway.yaml',
    meta: meta(own.gateway, ns, own.gateway),
    serviceAccount: meta(serviceAccountName(own.gateway, ns), ns, own.gateway),
    selector: [{ key: 'app.kubernetes.io/name', value: labelValue(own.gateway) }],
    podLabels: [...standardLabels(gw, own.gateway), { key: 'app', value: labelValue(own.gateway) }, { key: 'version', value: labelValue(VERSION) }, ...podInjection(model, ns).labels],
    podAnnotations: [
      { key: 'gwgen.dev/config-sha256', value: configHash },
      ...bypass,
      ...sidecarLifetime(gatewayMesh, GATEWAY_PRESTOP_SECONDS + GATEWAY_DRAIN_SECONDS),
      // A pod's annotation overrides its namespace's linkerd.io/inject disabled.
      ...(strict.length > 0 ? linkerdAnnotations(undefined) : podInjection(model, ns).annotations),
    ],
    image: `${GATEWAY_IMAGE}:${VERSION}`,
    containerName: 'gateway',
    args: [],
    port: { name: 'http', number: containerPort },
    env: literalEnv([
      { name: 'PORT', value: String(containerPort) },
      { name: 'GWGEN_CONFIG', value: `${CONFIG_DIR}/${CONFIG_KEY}` },
      ...upstreams,
      ...(tracing?.collectorEndpoint
        ? [
            { name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', value: otlpTracesUrl(tracing.collectorEndpoint) },
            { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
            { name: 'OTEL_TRACES_SAMPLER_ARG', value: String(tracing.samplingRate) },
          ]
        : []),
      ...(redisUrl ? [{ name: 'REDIS_URL', value: redisUrl }] : []),
      ...secretKeys.map((key) => ({ name: key, secret: secretName })),
    ]),
    readiness: { kind: 'http', path: '/healthz', port: containerPort, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
    liveness: { kind: 'http', path: '/healthz', port: containerPort, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
    // The gateway stops accepting at SIGTERM, while kube-proxy on every node and the load
    // balancer still send new connections to the pod until its endpoint removal reaches them:
    // without the wait each rollout (every model change) refuses some connections.
    preStopSleepSeconds: GATEWAY_PRESTOP_SECONDS,
    resources: GATEWAY_RESOURCES,
    runAs: 10001,
    hardened: true,
    mounts: [
      { name: 'config', path: CONFIG_DIR, configMap: configName, readOnly: true },
      { name: 'tmp', path: '/tmp', readOnly: false },
    ],
    service: { meta: meta(serviceResourceName(own.gateway), ns, own.gateway), loadBalancer: true, port: model.gateway.listenPort },
    hpa: { min: 2, max: 10 },
    pdb: true,
    ingressFrom: edge.peers,
    // Its clients are outside the mesh, and the proxy does not take its port (edgeBypass).
    policyPorts: [containerPort],
    closed: edge.closed,
  };

  const redis: Workload | undefined = usesRedis
    ? {
        file: 'redis.yaml',
        meta: meta(own.redis, ns, own.redis),
        serviceAccount: meta(serviceAccountName(own.redis, ns), ns, own.redis),
        selector: [{ key: 'app.kubernetes.io/name', value: own.redis }],
        podLabels: [...standardLabels(gw, own.redis), { key: 'app', value: own.redis }, ...podInjection(model, ns).labels],
        podAnnotations: podInjection(model, ns).annotations,
        replicas: 1,
        image: REDIS_IMAGE,
        containerName: 'redis',
        // Rate-limit counters only: no snapshots, no append-only file.
        args: ['--save', '', '--appendonly', 'no'],
        port: { name: 'tcp-redis', number: 6379 },
        env: [],
        readiness: { kind: 'tcp', port: 6379, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
        liveness: { kind: 'tcp', port: 6379, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
        resources: REDIS_RESOURCES,
        runAs: 999,
        hardened: true,
        mounts: [{ name: 'data', path: '/data', readOnly: false }],
        service: { meta: meta(own.redis, ns, own.redis), loadBalancer: false, port: 6379 },
        pdb: false,
        ingressFrom: [gatewayPods],
        policyPorts: [6379, ...proxyInbound(mesh, mesh?.mtls?.mode, 6379)],
        closed: false,
      }
    : undefined;
  // The HPA runs 2 to 10 gateway replicas behind one Service, and a local limiter counts in each.
  const localLimited = model.routes.filter((r) => r.rateLimit?.policy === 'local').map((r) => `route ${r.name}`).sort(compareStrings);
  for (const subject of localLimited) {
    notes.push({ subject, feature: 'agw:policy "local" on 2 to 10 gateway replicas', detail: `Each gateway replica counts the route's rate limit on its own, and the Service spreads clients over ${gatewayWorkload.hpa!.min} to ${gatewayWorkload.hpa!.max} of them (the HPA decides how many), so the gateway as a whole admits up to that many times the limit; agw:policy "redis" makes them share one budget` });
  }
  if (redis) {
    const counters = [...(redisLimiters ? ['the rate limiters with agw:policy "redis"'] : []), ...(quotaTiers ? ['the quota tiers'] : [])].join(' and ');
    notes.push({
      subject: 'redis',
      feature: redisLimiters ? 'agw:policy "redis"' : 'agw:QuotaTier',
      detail: `Every gateway replica counts ${counters} in one Redis. Redis runs as one replica without persistence or password, reachable only from the gateway's pods, whose REDIS_URL is ${redisUrl} (not a Secret: it holds no password); the counters restart empty when it restarts${redisLimiters ? `, and Kong pods (kong/kong.yml points at host ${own.redis}) need their own NetworkPolicy rule to reach it` : ''}`,
    });
  }

  const backends = deployed.map((s): Workload => {
    const hc = s.healthCheck;
    const port = { name: s.protocol, number: s.port };
    // Kubernetes probes every whole number of seconds, at least 1, at most an int32's.
    const period = hc ? Math.min(INT32_MAX, Math.max(1, Math.round(hc.intervalSeconds))) : 0;
    if (hc && period !== hc.intervalSeconds) notes.push({ subject: `service ${s.name}`, feature: 'agw:healthCheckInterval', detail: `Kubernetes probes every whole number of seconds, from 1 to ${INT32_MAX}; the interval of ${hc.intervalSeconds} s is written as periodSeconds ${period}` });
    const failures = hc ? int32(hc.failureThreshold, `service ${s.name}`, 'agw:failureThresholdHealth', 'failureThreshold', notes) : 0;
    const probe = (success: number): Probe | undefined =>
      !hc
        ? undefined
        : s.protocol === 'grpc'
          ? { kind: 'grpc', port: s.port, periodSeconds: period, successThreshold: success, failureThreshold: failures }
          : { kind: 'http', path: hc.path, ...(s.protocol === 'https' ? { scheme: 'HTTPS' } : {}), port: s.port, periodSeconds: period, successThreshold: success, failureThreshold: failures };
    if (hc && hc.successThreshold > 1) notes.push({ subject: `service ${s.name}`, feature: 'agw:successThreshold', detail: 'Kubernetes requires successThreshold 1 on a liveness probe; the readiness probe uses agw:successThreshold' });
    // Linkerd's default policies authorize the kubelet's unauthenticated probes by HTTP path, so
    // only plain httpGet probes pass an all-authenticated pod (linkerd2 #9595, #12806).
    if (hc && s.protocol !== 'http' && mesh?.type === 'linkerd' && mtlsModeOf(s, model) === 'STRICT') {
      notes.push({ subject: `service ${s.name}`, feature: 'agw:hasHealthCheck under Linkerd STRICT', detail: `Linkerd's all-authenticated inbound policy admits the kubelet's unauthenticated probes only as plain HTTP requests to a probe path, so the ${s.protocol === 'grpc' ? 'gRPC' : 'HTTPS'} readiness and liveness probes are refused: the pods never become ready and are restarted. Add a Linkerd Server for port ${s.port} and an AuthorizationPolicy admitting the nodes' addresses (a NetworkAuthentication), or remove the probes with a kustomize patch` });
    }
    if (hc && s.protocol === 'grpc') notes.push({ subject: `service ${s.name}`, feature: 'agw:healthCheckPath', detail: 'A gRPC service is probed with the gRPC health protocol; the path is not used' });
    if (s.host !== s.name) notes.push({ subject: `service ${s.name}`, feature: 'agw:host', detail: `The Kubernetes Service is named after agw:serviceName; the gateway (${upstreamEnvName(s.name)}) and the Istio target address it, but the Kong target addresses agw:host ${s.host}` });
    if (s.instances.length > 0) notes.push({ subject: `service ${s.name}`, feature: 'agw:hasInstance', detail: 'The service is deployed from agw:image, so the gateway is pointed at its Kubernetes Service; the explicit instances are not used' });
    if (sidecarPort(mesh, mtlsModeOf(s, model), s.port)) {
      notes.push({ subject: `service ${s.name} (port ${s.port})`, feature: `agw:port taken by the ${mesh!.type} sidecar`, detail: `The ${mesh!.type} sidecar in the service's pods listens on the service's port itself, so the service's container cannot (it fails to bind the port, or the sidecar does) and no call reaches it: give the service another agw:port, its image listening there` });
    }
    const scaled = s.replicas >= 2;
    return {
      file: `backend-${s.name}.yaml`,
      meta: meta(s.name, s.namespace, s.name),
      serviceAccount: meta(serviceAccountName(s.name, s.namespace), s.namespace, s.name),
      selector: [{ key: 'app.kubernetes.io/name', value: labelValue(s.name) }],
      podLabels: [...standardLabels(gw, s.name), { key: 'app', value: labelValue(s.name) }, ...(s.version !== undefined ? [{ key: 'version', value: labelValue(s.version) }] : []), ...podInjection(model, s.namespace).labels],
      podAnnotations: linkerdPodAnnotations(model, s).length > 0 ? linkerdPodAnnotations(model, s) : podInjection(model, s.namespace).annotations,
      ...(scaled ? {} : { replicas: s.replicas }),
      image: s.image!,
      containerName: 'app',
      args: [],
      port,
      env: [],
      ...(hc ? { readiness: probe(int32(hc.successThreshold, `service ${s.name}`, 'agw:successThreshold', 'successThreshold', notes))!, liveness: probe(1)! } : {}),
      resources: BACKEND_RESOURCES,
      hardened: false,
      mounts: [],
      service: { meta: meta(serviceResourceName(s.name), s.namespace, s.name), loadBalancer: false, port: s.port },
      ...(scaled ? { hpa: { min: int32(s.replicas, `service ${s.name}`, 'agw:replicas', 'minReplicas', notes), max: int32(s.replicas * 2, `service ${s.name}`, 'agw:replicas', 'maxReplicas (twice agw:replicas)', notes) } } : {}),
      pdb: scaled,
      ingressFrom: [gatewayPods, ...(istioIngress ? [istioIngress] : [])],
      policyPorts: [s.port, ...proxyInbound(mesh, mtlsModeOf(s, model), s.port)],
      closed: false,
    };
  });
  for (const w of [gatewayWorkload, ...backends]) {
    if (w.service.meta.name !== w.meta.name) notes.push({ subject: `${w === gatewayWorkload ? 'gateway' : 'service'} ${w.meta.name}`, feature: 'Kubernetes Service name', detail: `A Service name starts with a letter; the Service is named ${w.service.meta.name}, and the gateway, Istio and Kong address it by that name` });
  }
  for (const b of backends) {
    notes.push({ subject: `service ${b.meta.name}`, feature: 'NetworkPolicy of a backend', detail: `Only the gwgen gateway's pods${istioIngress && 'namespace' in istioIngress ? ` and the Istio ingress gateway's (pods labelled istio: ingressgateway in namespace ${istioIngress.namespace}, the mesh's agw:namespace; an ingress gateway run elsewhere is refused)` : ''} may connect to the service; other clients (a Kong deployment, Prometheus, other services) need a NetworkPolicy of their own` });
  }
  for (const s of model.services.filter((x) => x.image === undefined)) {
    notes.push({ subject: `service ${s.name}`, feature: 'agw:image (absent)', detail: 'Services without an image are not deployed, and no NetworkPolicy fences them; the gateway reaches them at the address its GW_UPSTREAM_<SERVICE> variable names' });
  }
  if (mesh && mesh.type === 'consul') notes.push({ subject: `mesh ${mesh.type}`, feature: 'agw:meshType "consul"', detail: 'Consul injects sidecars by pod annotation (consul.hashicorp.com/connect-inject) or by its injector\'s namespace settings; gwgen writes neither' });

  const deployedTo = [...new Set([ns, ...backends.map((b) => b.meta.namespace!)])].sort(compareStrings);
  const namespaceNames = deployedTo.filter((n) => ownsNamespace(model, n));
  const injection: Label[] = mesh?.type === 'istio' ? [{ key: 'istio-injection', value: 'enabled' }] : mesh?.type === 'kuma' ? [{ key: 'kuma.io/sidecar-injection', value: 'enabled' }] : [];
  const injectionAnnotations: Label[] = mesh?.type === 'linkerd' ? linkerdAnnotations(mesh.mtls?.mode) : [];
  if (mesh && mesh.type !== 'consul') {
    const unmarked = deployedTo.filter((n) => !ownsNamespace(model, n));
    if (unmarked.length > 0) notes.push({ subject: `namespace ${unmarked.join(', ')}`, feature: `agw:meshType "${mesh.type}" in a namespace gwgen does not write`, detail: `gwgen does not write (or label) a namespace every cluster has or a mesh's control plane runs in, so the pods it deploys there carry the sidecar-injection marker themselves (${mesh.type === 'istio' ? 'label sidecar.istio.io/inject' : mesh.type === 'kuma' ? 'label kuma.io/sidecar-injection' : 'annotation linkerd.io/inject'}); other pods of that namespace stay outside the mesh` });
  }
  notes.push(...meshMtlsNotes(model));
  const certified = [...(mesh?.mtls?.certificate ? [`mesh ${mesh.type}`] : []), ...model.services.filter((s) => s.mtls?.certificate).map((s) => `service ${s.name}`)];
  for (const subject of certified) notes.push({ subject, feature: 'agw:hasCertificate', detail: `These manifests mount no client certificate and rotate none: the gateway Deployment sets no GW_MTLS_CERT or GW_MTLS_KEY, so mTLS is left to the mesh sidecar${mesh ? `, whose CA (${mesh.type}) issues and rotates the workload certificates with its own lifetime` : ' (there is no mesh here: add the certificate as a Secret and set those variables from it)'}, not the model's agw:rotationPeriod` });
  const namespaces = namespaceNames.map((n) => ({ ...meta(n, undefined, n, injectionAnnotations), labels: [...standardLabels(gw, n), ...injection] }));

  const resources = [
    ...(namespaces.length > 0 ? ['namespaces.yaml'] : []),
    'gateway.yaml',
    ...(redis ? ['redis.yaml'] : []),
    ...backends.map((b) => b.file),
  ];

  return {
    gateway: gw,
    namespace: ns,
    namespaces,
    configMap: { meta: meta(configName, ns, gw), key: CONFIG_KEY, value: configJson },
    gatewayWorkload,
    ...(redis ? { redis } : {}),
    backends,
    ...(redisUrl ? { redisUrl } : {}),
    secretName,
    secretKeys,
    image: { name: GATEWAY_IMAGE, tag: VERSION },
    resources,
    notes: groupNotes(notes),
  };
}

/**
 * Linkerd encrypts between meshed pods always; what an mTLS mode decides is whether a pod also
 * takes plaintext, which Linkerd's default inbound policy says: STRICT = all-authenticated,
 * PERMISSIVE = all-unauthenticated. DISABLE is a pod without the proxy.
 */
const LINKERD_POLICY: Record<string, string> = { STRICT: 'all-authenticated', PERMISSIVE: 'all-unauthenticated' };

/** The Linkerd annotations of an mTLS mode (no mode: injection alone). */
function linkerdAnnotations(mode: M.MutualTls['mode'] | undefined): Label[] {
  if (mode === 'DISABLE') return [{ key: 'linkerd.io/inject', value: 'disabled' }];
  return [{ key: 'linkerd.io/inject', value: 'enabled' }, ...(mode ? [{ key: 'config.linkerd.io/default-inbound-policy', value: LINKERD_POLICY[mode]! }] : [])];
}

/** A service's own mTLS mode under Linkerd, on its pods (the namespaces carry the mesh's). */
function linkerdPodAnnotations(model: M.GatewayModel, s: M.BackendService): Label[] {
  return model.gateway.mesh?.type === 'linkerd' && s.mtls !== undefined ? linkerdAnnotations(s.mtls.mode) : [];
}

/**
 * The mesh's sidecar-injection marker on the pods themselves, for a namespace gwgen does not
 * write (default, kube-*, a mesh's control plane), which so lacks the namespace's marker: without it the pods would run
 * without a sidecar, outside the mTLS the model asks for. Istio and Kuma read a pod label,
 * Linkerd a pod annotation; Consul's injection is not written (see its note).
 */
function podInjection(model: M.GatewayModel, namespace: string): { labels: Label[]; annotations: Label[] } {
  const mesh = model.gateway.mesh;
  if (!mesh || ownsNamespace(model, namespace)) return { labels: [], annotations: [] };
  if (mesh.type === 'istio') return { labels: [{ key: 'sidecar.istio.io/inject', value: 'true' }], annotations: [] };
  if (mesh.type === 'kuma') return { labels: [{ key: 'kuma.io/sidecar-injection', value: 'enabled' }], annotations: [] };
  if (mesh.type === 'linkerd') return { labels: [], annotations: linkerdAnnotations(mesh.mtls?.mode) };
  return { labels: [], annotations: [] };
}

/**
 * The mesh proxy's inbound port (PROXY_INBOUND_PORT) for a pod that runs the proxy: under DISABLE
 * it runs none (Linkerd: linkerd.io/inject disabled; Consul: no connect-inject, see its note).
 */
function proxyInbound(mesh: M.ServiceMesh | undefined, mode: M.MutualTls['mode'] | undefined, port: number): number[] {
  const inbound = mesh ? PROXY_INBOUND_PORT[mesh.type] : undefined;
  return inbound !== undefined && mode !== 'DISABLE' && port !== inbound ? [inbound] : [];
}

/** Kuma and Consul keep mTLS modes in their own resources, which gwgen does not write. */
function meshMtlsNotes(model: M.GatewayModel): Limitation[] {
  const mesh = model.gateway.mesh;
  if (mesh?.type !== 'kuma' && mesh?.type !== 'consul') return [];
  const modes = [...(mesh.mtls ? [{ subject: `mesh ${mesh.type}`, mode: mesh.mtls.mode }] : []), ...model.services.filter((s) => s.mtls).map((s) => ({ subject: `service ${s.name}`, mode: s.mtls!.mode }))];
  const detail =
    mesh.type === 'kuma'
      ? 'Kuma keeps mTLS off until its Mesh resource enables it: set spec.mtls (enabledBackend, a builtin backend with mode STRICT or PERMISSIVE) on the Mesh, and a MeshTLS policy per service whose mode differs; gwgen writes only the sidecar-injection label'
      : 'Consul sets the mTLS mode in its config entries: mutualTLSMode strict or permissive on ProxyDefaults (mesh-wide) and ServiceDefaults (per service); a DISABLE service is one without connect-inject; gwgen writes none of them';
  return modes.map(({ subject, mode }) => ({ subject: `${subject} (${mode})`, feature: 'agw:mtlsMode', detail }));
}

/**
 * The gateway is the edge: its clients are outside the mesh and present no mesh certificate, so
 * its injected sidecar must not take its inbound port. Otherwise a STRICT mode (Istio's
 * PeerAuthentication, Linkerd's all-authenticated inbound policy, Kuma's Mesh) refuses every
 * client, and even where plaintext passes the sidecar hands the connection on from a loopback
 * address, so the gateway's IP restrictions, rate limits by IP and the edge NetworkPolicy's
 * client addresses would meet the proxy's address instead of the client's. The sidecar keeps the
 * gateway's outbound traffic, so calls to the backends still carry mesh mTLS. Consul's injection
 * is not written by gwgen (see its note).
 */
function edgeBypass(mesh: M.ServiceMesh | undefined, port: number): Label[] {
  // Linkerd's DISABLE mode injects no proxy at all (linkerdAnnotations).
  if (mesh?.type === 'linkerd' && mesh.mtls?.mode === 'DISABLE') return [];
  if (mesh?.type === 'istio') return [{ key: 'traffic.sidecar.istio.io/excludeInboundPorts', value: String(port) }];
  if (mesh?.type === 'linkerd') return [{ key: 'config.linkerd.io/skip-inbound-ports', value: String(port) }];
  if (mesh?.type === 'kuma') return [{ key: 'traffic.kuma.io/exclude-inbound-ports', value: String(port) }];
  return [];
}

/**
 * Keeps the gateway's sidecar alive while the gateway still serves after a pod's deletion (the
 * preStop wait, then its drain): the sidecar gets SIGTERM at once, and once it exits every call
 * to a backend fails. Istio's proxy stops after terminationDrainDuration (5 s by default) and
 * Linkerd's at once unless told to wait; Kuma's waits 30 s by default, enough already.
 */
function sidecarLifetime(mesh: M.ServiceMesh | undefined, seconds: number): Label[] {
  if (mesh?.type === 'istio') return [{ key: 'proxy.istio.io/config', value: `terminationDrainDuration: ${seconds}s` }];
  if (mesh?.type === 'linkerd' && mesh.mtls?.mode !== 'DISABLE') return [{ key: 'config.alpha.linkerd.io/proxy-wait-before-exit-seconds', value: String(seconds) }];
  return [];
}

/** The address(es) the gateway uses for a service: its Kubernetes Service when gwgen deploys it, else agw:host or the instances. */
function upstreamUrls(s: M.BackendService, deployed: boolean): string {
  const scheme = s.protocol === 'https' ? 'https' : 'http';
  if (deployed) return `${scheme}://${clusterHost(s.name, s.namespace)}:${s.port}`;
  if (s.instances.length === 0) return `${scheme}://${hostPort(clusterHost(s.host, s.namespace), s.port)}`;
  // The variable replaces the model's instances, weights included: an entry without ";weight="
  // weighs 100, so a 90/10 pair would be balanced evenly and a drained (weight 0) one served.
  return s.instances.map((i) => `${scheme}://${hostPort(clusterHost(i.host, s.namespace), i.port)}${i.weight === 100 ? '' : `;weight=${i.weight}`}`).join(',');
}

/** A CIDR block: its network address (host bits cleared) and its prefix length. */
interface Block {
  readonly network: ipaddr.IPv4 | ipaddr.IPv6;
  readonly prefix: number;
}

/**
 * A model CIDR (formats.cidr; an IPv4-mapped range is IPv4 already, build-model) as a Block. The
 * host bits are cleared: the gateway, Kong and Istio match "192.0.2.77/24" as 192.0.2.0/24, while
 * network plugins read such an ipBlock differently (as /24, as the one address, or not at all).
 */
function parseBlock(cidr: string): Block {
  const [address, prefix] = cidr.includes('/') ? ipaddr.parseCIDR(cidr) : ipaddr.parseCIDR(`${cidr}/${isIP(cidr) === 6 ? 128 : 32}`);
  const network = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`) : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${prefix}`);
  return { network, prefix };
}

/** A Block in the canonical form Kubernetes writes: dotted IPv4, RFC 5952 IPv6. */
function blockText(b: Block): string {
  return `${b.network.toString()}/${b.prefix}`;
}

/** Whether block a holds every address of block b. */
function holds(a: Block, b: Block): boolean {
  return a.network.kind() === b.network.kind() && a.prefix <= b.prefix && b.network.match(a.network, a.prefix);
}

const EVERY_ADDRESS: readonly Block[] = [parseBlock('0.0.0.0/0'), parseBlock('::/0')];

interface EdgeBlock {
  readonly cidr: Block;
  /** Ranges inside cidr that are refused; each strictly inside it, as Kubernetes requires. */
  readonly except: readonly Block[];
}

/**
 * The addresses one route serves: its allow list (none = every address) less its deny list, as
 * the gateway decides (deny wins). An allowed range inside a denied one serves nobody; a denied
 * range inside an allowed one becomes an `except` of it; CIDR blocks either nest or are disjoint.
 */
function routeBlocks(ip: M.IpRestriction): EdgeBlock[] {
  const deny = ip.deny.map(parseBlock);
  const allow = ip.allow.length > 0 ? ip.allow.map(parseBlock) : EVERY_ADDRESS;
  return allow
    .filter((a) => !deny.some((d) => holds(d, a)))
    .map((a) => {
      const inside = deny.filter((d) => holds(a, d));
      // An except inside another except adds nothing.
      return { cidr: a, except: inside.filter((d, i) => !inside.some((o, j) => j !== i && holds(o, d) && (!holds(d, o) || j < i))) };
    });
}

/** Whether block o admits every address block b admits (false when unsure: keeping a block is always safe). */
function admitsAll(o: EdgeBlock, b: EdgeBlock): boolean {
  if (!holds(o.cidr, b.cidr)) return false;
  // Each range o refuses must be outside b, or refused by b too.
  return o.except.every((x) => (holds(x, b.cidr) ? false : !holds(b.cidr, x) || b.except.some((y) => holds(y, x))));
}

/**
 * Who may reach the gateway. Anyone, unless every route has an IP restriction: then no request
 * from outside what some route serves can be served, and the NetworkPolicy admits only that union
 * (each route's allowed ranges, or every address, with its denied ranges as `except`); a union
 * that is empty admits nobody. That needs the client's address at the pod, hence the
 * LoadBalancer Service with externalTrafficPolicy Local.
 */
function edgePeers(model: M.GatewayModel, notes: Limitation[]): { peers: Peer[]; closed: boolean } {
  const gw = model.gateway.name;
  const restricted = model.routes.filter((r) => r.ipRestriction !== undefined && r.ipRestriction.allow.length + r.ipRestriction.deny.length > 0);
  if (restricted.length === 0) return { peers: [], closed: false };
  if (restricted.length < model.routes.length) {
    notes.push({ subject: `gateway ${gw}`, feature: 'agw:IpRestriction on some routes', detail: 'A NetworkPolicy cannot tell one route from another, so the gateway\'s NetworkPolicy admits every address; the gateway itself refuses the restricted routes\' other clients (403)' });
    return { peers: [], closed: false };
  }
  notes.push({ subject: `gateway ${gw}`, feature: 'agw:IpRestriction on every route', detail: 'The gateway\'s NetworkPolicy admits only the addresses some route serves (its allowed ranges, or every address, less its denied ranges as except), so in-cluster clients (Prometheus scraping /metrics, other pods) cannot reach it unless their addresses are among them; the client address must survive to the pod (the Service uses externalTrafficPolicy Local)' });
  const byKey = new Map<string, EdgeBlock>();
  for (const block of restricted.flatMap((r) => routeBlocks(r.ipRestriction!))) byKey.set([block.cidr, ...block.except].map(blockText).join(' '), block);
  const entries = [...byKey.entries()];
  // A block whose addresses another block admits adds nothing (of two that admit the same, the
  // first by key stays), so "0.0.0.0/0" alone stands for itself and "10.0.0.0/8".
  const kept = entries.filter(([key, b]) => !entries.some(([otherKey, o]) => otherKey !== key && admitsAll(o, b) && (!admitsAll(b, o) || otherKey < key))).map(([, b]) => b);
  const peers = kept
    .map((b) => ({ cidr: blockText(b.cidr), except: b.except.map(blockText).sort(compareStrings) }))
    .sort((a, b) => compareStrings(a.cidr, b.cidr) || compareStrings(a.except.join(' '), b.except.join(' ')));
  if (peers.length === 0) notes.push({ subject: `gateway ${gw}`, feature: 'agw:denyCidr covers every allowed address', detail: 'No route serves any client address, so the gateway\'s NetworkPolicy admits no traffic at all' });
  return { peers, closed: peers.length === 0 };
}
