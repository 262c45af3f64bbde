import { isIP } from 'node:net';
import type * as M from '../model/types.js';
import { authorityOf, clusterHost, dnsName, hostPort, inCluster, standardLabels, type Label } from './mesh-common.js';
import type { Limitation } from './types.js';

/**
 * A backend gwgen does not deploy whose explicit instances (agw:hasInstance) are its targets. Istio
 * reaches them only through a ServiceEntry with one endpoint per instance: its agw:host, or
 * `<serviceName>.<namespace>.svc.cluster.local`, need not exist (the mesh would answer 503), and a
 * Kubernetes Service would ignore the instances' weights. A service gwgen deploys (agw:image) is
 * its own Kubernetes Service, as in the k8s target, and its instances are not used.
 */
export function instanceEntry(s: M.BackendService): boolean {
  return s.image === undefined && s.instances.length > 0;
}

/**
 * The ServiceEntry host of such a service: a name of its own under `gwgen.internal` (`.internal`
 * is reserved for private use, so no public or cluster name is shadowed), unique per service and
 * gateway, which the VirtualService and the DestinationRule use too.
 */
export function instancesHost(s: M.BackendService, gateway: string): string {
  return `${s.name}.${gateway}.gwgen.internal`;
}

/** An instance's address as Envoy resolves it: a bare name or `*.svc` is a cluster Service (clusterHost). */
function address(i: M.ServiceInstance, s: M.BackendService): string {
  return clusterHost(i.host, s.namespace);
}

/** Whether some instance is outside the cluster: the entry is MESH_EXTERNAL, without mesh mTLS. */
export function instancesOutside(s: M.BackendService): boolean {
  return s.instances.some((i) => !inCluster(address(i, s)));
}

/** The instances that take traffic: the gateway drains one of weight 0, and Istio reads weight 0 as unset (1). */
function live(s: M.BackendService): readonly M.ServiceInstance[] {
  return s.instances.filter((i) => i.weight > 0);
}

/**
 * The Host the gateway sends to the instances of a service outside the cluster: the instance's
 * address (with its port unless it is the protocol's default). Istio sets one authority per route
 * entry, so only instances that share host and port have one.
 */
export function instancesAuthority(s: M.BackendService): string | undefined {
  const targets = new Set(live(s).map((i) => hostPort(i.host, i.port)));
  if (targets.size !== 1) return undefined;
  const i = live(s)[0]!;
  return authorityOf(i.host, i.port, s.protocol);
}

/** The SNI of TLS to the instances: their common host name (an address names no certificate). */
export function instancesSni(s: M.BackendService): string | undefined {
  const hosts = new Set(live(s).map((i) => i.host));
  const [host] = hosts;
  return hosts.size === 1 && isIP(host!) === 0 ? host : undefined;
}

export interface ServiceEntryEndpoint {
  readonly address: string;
  readonly ports: readonly { name: string; number: number }[];
  readonly weight: number;
}

/** A host outside the cluster's registry, which Istio routes to only through a ServiceEntry. */
export interface ServiceEntry {
  readonly meta: { name: string; namespace: string; labels: readonly Label[] };
  readonly hosts: readonly string[];
  readonly exportTo?: readonly string[];
  readonly location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  readonly resolution: 'DNS' | 'STATIC';
  readonly ports: readonly { number: number; name: string; protocol: string }[];
  /** None for a DNS entry of a host, which then resolves the host itself, and for a STATIC one with every instance drained (503). */
  readonly endpoints: readonly ServiceEntryEndpoint[];
}

const PROTOCOL: Record<M.BackendService['protocol'], string> = { http: 'HTTP', https: 'HTTPS', grpc: 'GRPC' };

export function servicePort(s: M.BackendService): { number: number; name: string; protocol: string } {
  return { number: s.port, name: `${s.protocol}-${s.port}`, protocol: PROTOCOL[s.protocol] };
}

/**
 * The ServiceEntry of a service's instances, in the ingress gateway's namespace and exported to it
 * alone (no other workload addresses the made-up host). Its one port is the service's, which the
 * VirtualService names; each endpoint maps it to its instance's own port and carries the
 * instance's weight. STATIC when every instance is an IP address (Istio refuses a name there),
 * else DNS, where Envoy resolves each name and keeps it as one weighted endpoint.
 */
export function instancesServiceEntry(s: M.BackendService, gateway: string, namespace: string, notes: Limitation[]): ServiceEntry {
  const port = servicePort(s);
  const endpoints = live(s).map((i) => ({ address: address(i, s), ports: [{ name: port.name, number: i.port }], weight: i.weight }));
  if (endpoints.length === 0) {
    notes.push({ subject: `service ${s.name}`, feature: 'agw:weight 0 on every instance', detail: 'Every instance is drained, so the ServiceEntry has no endpoint and Istio answers 503, as the gateway does' });
  }
  const outside = instancesOutside(s);
  if (outside && s.instances.some((i) => inCluster(address(i, s)))) {
    notes.push({ subject: `service ${s.name}`, feature: 'agw:hasInstance (inside and outside the cluster)', detail: 'Some instances are outside the cluster, so the ServiceEntry is MESH_EXTERNAL and Istio reaches every instance, those in the cluster too, without mesh mTLS' });
  }
  return {
    meta: { name: dnsName(s.name, 'instances'), namespace, labels: standardLabels(gateway, s.name) },
    hosts: [instancesHost(s, gateway)],
    exportTo: [namespace],
    location: outside ? 'MESH_EXTERNAL' : 'MESH_INTERNAL',
    resolution: endpoints.every((e) => isIP(e.address) !== 0) ? 'STATIC' : 'DNS',
    ports: [port],
    endpoints,
  };
}
