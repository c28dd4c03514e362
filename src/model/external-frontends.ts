// One Service → its north-south frontends: each externalIP, each load-balancer ingress IP and
// each of this node's addresses with a NodePort, × each port, for the clients socklb balances:
// pods and the node's own processes, all inside the cluster. Pure: no I/O, no clock.
//
// Endpoints follow kube-proxy (pkg/proxy/nftables/proxier.go, the service's "external" chain):
// with externalTrafficPolicy Local, traffic from a pod ("short-circuit pod traffic") or from
// the node itself ("short-circuit local traffic") to an external destination goes to the
// cluster policy chain, as if it went out to the load balancer and came back: all of the
// service's endpoints (topology hints apply, internalTrafficPolicy does not).
import type { Backend } from './desired-services.js';
import { selectEndpoints, type NodeContext, type SelectionPolicy } from './endpoint-selection.js';
import type { DecodedService, DecodedServicePort } from './k8s-decode.js';
import type { DecodedAddress } from './decode-fields.js';
import type { ProblemSink } from './problems.js';
import { portOwner, type ServiceEndpoints, type ServiceFrontend } from './service-frontends.js';
import { ipFamily, type IpFamily } from '../net/ip-address.js';

export interface ExternalContext {
  /** This node's addresses (canonical), where its NodePorts are served; undefined: unknown. */
  nodeAddresses: readonly string[] | undefined;
  /** Why an externalIP or load-balancer IP must not be programmed, or undefined. */
  refuse: (ip: string) => string | undefined;
}

export function externalFrontends(svc: DecodedService, endpoints: ServiceEndpoints, node: NodeContext, context: ExternalContext, sink: ProblemSink): ServiceFrontend[] {
  const out: ServiceFrontend[] = [];
  const ext = svc.external;
  const policy: SelectionPolicy = { localOnly: false, topologyAware: svc.topologyAware };
  // Backends per family and port, shared by every address of the family.
  const chosen = new Map<string, Backend[]>();
  const add = (address: string, family: IpFamily, field: string, sp: DecodedServicePort, port: number): void => {
    const id = [family, sp.field].join('|');
    let backends = chosen.get(id);
    if (!backends) chosen.set(id, (backends = selectEndpoints(endpoints.candidates(family, sp), policy, node)));
    const row: ServiceFrontend = {
      frontend: { address, port, protocol: sp.protocol },
      backends,
      owner: portOwner(svc, sp),
      affinityTimeoutSeconds: svc.affinityTimeoutSeconds,
      field,
      reach: 'external',
    };
    if (ext.externalPolicyLocal) row.externalPolicyLocal = true;
    out.push(row);
  };
  const addresses = (list: readonly DecodedAddress[], ranges: boolean): void => {
    for (const { ip, family, field } of list) {
      const refusal = context.refuse(ip);
      if (refusal !== undefined) {
        sink.add(field, refusal);
        continue;
      }
      // kube-proxy keeps the ranges of the address's family: one of the other family only limits that family.
      const sourceRanges = ranges ? ext.sourceRanges.filter((r) => r.family === family).map((r) => r.cidr) : [];
      if (sourceRanges.length > 0) {
        // Balancing every pod to it would let in clients the ranges keep out: left to the load
        // balancer, which enforces them, until the datapath checks them too.
        sink.add(
          field,
          `${ip} has loadBalancerSourceRanges (${sourceRanges.join(', ')}), which socklb does not enforce yet: connections from the cluster to it are not balanced at the socket but left to the load balancer`,
        );
        continue;
      }
      for (const sp of svc.ports) add(ip, family, field, sp, sp.port);
    }
  };
  addresses(ext.externalIPs, false);
  addresses(ext.loadBalancerIPs, true);
  const nodePorts = svc.ports.filter((sp) => sp.nodePort !== undefined);
  if (nodePorts.length === 0) return out;
  if (!context.nodeAddresses || context.nodeAddresses.length === 0) {
    sink.add(
      `${nodePorts[0]!.field}.nodePort`,
      "is set, but the agent does not know this node's addresses (set --node-name to a Node whose status.addresses lists its InternalIP/ExternalIP, or give the addresses explicitly), so the service's node ports get no frontend on this node",
    );
    return out;
  }
  for (const address of context.nodeAddresses) {
    // Checked addresses: a Node's by nodeAddresses(), explicit ones by the index's constructor.
    const family = ipFamily(address)!;
    for (const sp of nodePorts) add(address, family, `${sp.field}.nodePort`, sp, sp.nodePort!);
  }
  return out;
}
