// The DesiredService list regrouped as kube-proxy sees a Service: per service port (owner and
// protocol) its cluster IP and its north-south destinations (reach 'external'), which share the
// port's service chain and endpoints. A north-south frontend on one of the node's addresses is a
// NodePort (kube-proxy matches it by port on every node address, so it is listed once), any other
// an external or load-balancer IP. Both kube-proxy baselines (iptables, nftables) write from
// this. Pure.
import type { Backend, DesiredService } from '../../model/desired-services.js';

export interface KubeProxyServicePort {
  owner: string;
  /** Lower case, as kube-proxy writes it. */
  proto: string;
  backends: readonly Backend[];
  clusterIp?: DesiredService;
  externalIps: DesiredService[];
  nodePorts: number[];
}

/** The service ports in the order their first frontend is listed. */
export function kubeProxyServicePorts(services: readonly DesiredService[], nodeAddresses: readonly string[] = []): KubeProxyServicePort[] {
  const ports = new Map<string, KubeProxyServicePort>();
  const nodes = new Set(nodeAddresses);
  for (const s of services) {
    const proto = s.frontend.protocol.toLowerCase();
    const id = `${s.owner}|${proto}`;
    let port = ports.get(id);
    if (!port) ports.set(id, (port = { owner: s.owner, proto, backends: s.backends, externalIps: [], nodePorts: [] }));
    if (s.reach !== 'external') {
      if (port.clusterIp) throw new Error(`${s.owner} (${proto}) has two cluster IP frontends (${port.clusterIp.frontend.address}, ${s.frontend.address})`);
      port.clusterIp = s;
      port.backends = s.backends;
      continue;
    }
    // kube-proxy's Local policy chains (the node's endpoints only) are not in the baselines.
    if (s.externalPolicyLocal) throw new Error(`${s.owner}: externalTrafficPolicy Local is not in the kube-proxy baselines`);
    if (!nodes.has(s.frontend.address)) port.externalIps.push(s);
    else if (!port.nodePorts.includes(s.frontend.port)) port.nodePorts.push(s.frontend.port);
  }
  return [...ports.values()];
}

/** Whether the port has north-south destinations (its external chain). */
export const hasExternal = (p: KubeProxyServicePort): boolean => p.externalIps.length + p.nodePorts.length > 0;
