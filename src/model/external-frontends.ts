// One Service → its north-south frontends: each externalIP, each load-balancer ingress IP and
// each of this node's addresses with a NodePort, × each port, for the clients socklb balances:
// pods and the node's own processes, all inside the cluster. Pure: no I/O, no clock.
//
// Endpoints follow kube-proxy (pkg/proxy/nftables/proxier.go, the service's "external" chain):
// with externalTrafficPolicy Local, traffic from a pod ("short-circuit pod traffic") or from
// the node itself ("short-circuit local traffic") to an external destination goes to the
// cluster policy chain, as if it went out to the load balancer and came back: all of the
// service's endpoints (topology hints apply, internalTrafficPolicy does not).
// Traffic from outside the node under externalTrafficPolicy Local goes to this node's endpoints
// only (kube-proxy's local policy chain, ready ones, else serving and terminating ones; none:
// dropped): with `localScope` (the node programs run) each such frontend gets a twin of scope
// 'local' holding those, which only the node programs look up.
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
  /** Write the local-scope twins of externalTrafficPolicy Local frontends (see the top). */
  localScope?: boolean;
}

export function externalFrontends(svc: DecodedService, endpoints: ServiceEndpoints, node: NodeContext, context: ExternalContext, sink: ProblemSink): ServiceFrontend[] {
  const out: ServiceFrontend[] = [];
  const ext = svc.external;
  const policy: SelectionPolicy = { localOnly: false, topologyAware: svc.topologyAware };
  const localScope = ext.externalPolicyLocal && context.localScope === true;
  if (localScope && node.name === undefined) {
    sink.add(
      'spec.externalTrafficPolicy',
      'is Local, but the agent does not know its node (set --node-name or NODE_NAME): no endpoint is known to be on this node, so connections from outside the node to this service are dropped',
    );
  }
  // Backends per family, port and scope, shared by every address of the family.
  const chosen = new Map<string, Backend[]>();
  const backendsFor = (family: IpFamily, sp: DecodedServicePort, local: boolean): Backend[] => {
    const id = [family, sp.field, local].join('|');
    let backends = chosen.get(id);
    if (!backends) chosen.set(id, (backends = selectEndpoints(endpoints.candidates(family, sp), local ? { localOnly: true, topologyAware: false } : policy, node)));
    return backends;
  };
  const add = (address: string, family: IpFamily, field: string, sp: DecodedServicePort, port: number): void => {
    const row = (local: boolean): ServiceFrontend => ({
      frontend: local ? { address, port, protocol: sp.protocol, scope: 'local' } : { address, port, protocol: sp.protocol },
      backends: backendsFor(family, sp, local),
      owner: portOwner(svc, sp),
      affinityTimeoutSeconds: svc.affinityTimeoutSeconds,
      field,
      reach: 'external',
      ...(ext.externalPolicyLocal ? { externalPolicyLocal: true as const } : {}),
      ...(local && ext.healthCheckNodePort ? { healthCheckNodePort: ext.healthCheckNodePort } : {}),
    });
    // The twin right after its frontend: the index takes it only with that one.
    out.push(row(false));
    if (localScope) out.push(row(true));
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
