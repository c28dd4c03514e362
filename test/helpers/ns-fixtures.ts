// North-south Service fixtures (externalIPs, load-balancer status, node ports) and the Node
// objects that give this node its addresses, for the model's tests.
import { service, type PortSpec } from './k8s-fixtures.js';

export interface NsPortSpec extends PortSpec {
  nodePort?: unknown;
}

export interface NsExtra {
  type?: string;
  externalIPs?: unknown;
  externalTrafficPolicy?: unknown;
  internalTrafficPolicy?: unknown;
  loadBalancerSourceRanges?: unknown;
  allocateLoadBalancerNodePorts?: unknown;
  sessionAffinity?: 'ClientIP';
  /** status.loadBalancer.ingress */
  ingress?: unknown;
}

/** A Service as service() makes it, with the north-south fields of extra. */
export function nsService(namespace: string, name: string, clusterIPs: string[], ports: NsPortSpec[], extra: NsExtra = {}): Record<string, unknown> {
  const svc = service(namespace, name, clusterIPs, ports, { type: extra.type ?? 'ClusterIP' });
  const spec = svc.spec as Record<string, unknown>;
  for (const k of ['externalIPs', 'externalTrafficPolicy', 'internalTrafficPolicy', 'loadBalancerSourceRanges', 'allocateLoadBalancerNodePorts'] as const) {
    if (extra[k] !== undefined) spec[k] = extra[k];
  }
  if (extra.sessionAffinity) {
    spec.sessionAffinity = 'ClientIP';
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 60 } };
  }
  if (extra.ingress !== undefined) svc.status = { loadBalancer: { ingress: extra.ingress } };
  return svc;
}

/** A Node with InternalIP addresses (and a Hostname entry, which is not an address). */
export function node(name: string, addresses: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: { addresses: [...addresses.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }] },
  };
}

/** An EndpointSlice whose endpoints name the node they run on. */
export function nodeSlice(namespace: string, name: string, serviceName: string, port: number, endpoints: readonly { address: string; nodeName: string }[]): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: endpoints[0]?.address.includes(':') ? 'IPv6' : 'IPv4',
    ports: [{ name: '', protocol: 'TCP', port }],
    endpoints: endpoints.map((e) => ({ addresses: [e.address], conditions: { ready: true }, nodeName: e.nodeName })),
  };
}
