// Kubernetes objects shaped as the API serves them, for tests.
import jsYaml from 'js-yaml';

export interface PortSpec {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export function service(
  namespace: string,
  name: string,
  clusterIPs: string[],
  ports: PortSpec[],
  extra: { labels?: Record<string, string>; type?: string } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: '1', ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: {
      type: extra.type ?? 'ClusterIP',
      clusterIP: clusterIPs[0],
      clusterIPs,
      ipFamilies: clusterIPs.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')),
      ports: ports.map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p })),
      sessionAffinity: 'None',
    },
  };
}

export interface EndpointSpec {
  address: string;
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
}

export function endpointSlice(
  namespace: string,
  name: string,
  serviceName: string,
  addressType: 'IPv4' | 'IPv6',
  ports: { name?: string; port?: number | null; protocol?: string }[],
  endpoints: (string | EndpointSpec)[],
): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType,
    ports: ports.map((p) => ({ name: '', protocol: 'TCP', ...p })),
    endpoints: endpoints.map((e) => {
      const spec = typeof e === 'string' ? { address: e, ready: true, serving: true, terminating: false } : e;
      const conditions: Record<string, boolean | null> = {};
      for (const k of ['ready', 'serving', 'terminating'] as const) if (spec[k] !== undefined) conditions[k] = spec[k]!;
      return { addresses: [spec.address], conditions };
    }),
  };
}

export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => jsYaml.dump(o)).join('---\n');
}

/** A service's two EndpointSlices (<service>-v4, <service>-v6) over the same pods, as a dual-stack cluster has them. */
export function dualStackSlices(
  namespace: string,
  serviceName: string,
  ports: { name?: string; port?: number | null; protocol?: string }[],
  pods: readonly { ipv4: string; ipv6: string }[],
): Record<string, unknown>[] {
  return [
    endpointSlice(
      namespace,
      `${serviceName}-v4`,
      serviceName,
      'IPv4',
      ports,
      pods.map((p) => p.ipv4),
    ),
    endpointSlice(
      namespace,
      `${serviceName}-v6`,
      serviceName,
      'IPv6',
      ports,
      pods.map((p) => p.ipv6),
    ),
  ];
}

/** A one-port Service and its one IPv4 EndpointSlice (<name>-1) over the given addresses. */
export function webService(namespace: string, name: string, clusterIP: string, port: number, targetPort: number, addresses: readonly string[]): Record<string, unknown>[] {
  return [service(namespace, name, [clusterIP], [{ port, targetPort }]), endpointSlice(namespace, `${name}-1`, name, 'IPv4', [{ port: targetPort }], [...addresses])];
}
