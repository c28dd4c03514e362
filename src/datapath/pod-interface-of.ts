// Which interface of the agent's network namespace carries a local pod's traffic, found the
// way the node itself forwards to the pod, so it holds for any CNI that wires pods to the node
// with veths:
//   routed veths (Calico, Cilium): the route to the pod's address (a /32 or /128) goes out
//     through the pod's host-side veth: that veth;
//   a bridge (flannel, kubenet, the lab's default): the route goes out through the bridge;
//     the pod's MAC (the node's neighbour entry for its address) is then looked up in the
//     bridge's forwarding table, and the port that holds it is the pod's veth.
// Anything else (a MacVlan or IPVlan pod, a pod behind a tunnel, an address the node does not
// route) has no interface of its own here: tc cannot enforce for that pod, and the answer says
// why so the agent can report it. Reads the calling thread's namespace (inNetns()).
import { AF_BRIDGE, AF_INET, AF_INET6, listLinks, listNeighbours, routeTo, ROUTE_TYPES, RTN_UNICAST, type Link } from '../bpf/rtnetlink.js';
import { ipFamily } from '../net/ip-address.js';
import { constants } from 'node:os';
import { BpfError } from '../bpf/bpf-error.js';

export type PodInterface =
  | { interface: string }
  /** retry: the answer may change without any change to the pod (a neighbour entry not yet made). */
  | { problem: string; retry: boolean };

/** Kinds of link that are a pod's own end of the wiring. */
const POD_LINK_KINDS: ReadonlySet<string> = new Set(['veth']);

/** How the kernel refuses `ip route get` for an address it will not send anywhere. */
const UNROUTED: Readonly<Record<number, string>> = {
  [constants.errno.EINVAL]: 'as blackhole (or prohibit)',
  [constants.errno.EHOSTUNREACH]: 'as unreachable',
  [constants.errno.ENETUNREACH]: 'nowhere (no route)',
};

export function podInterfaceOf(address: string, links: readonly Link[] = listLinks()): PodInterface {
  let route;
  try {
    route = routeTo(address);
  } catch (err) {
    const how = err instanceof BpfError ? UNROUTED[err.errno] : undefined;
    if (how) return { problem: `the node routes ${address} ${how}, not to an interface`, retry: false };
    throw err;
  }
  const byIndex = new Map(links.map((l) => [l.index, l]));
  if (route.type !== RTN_UNICAST || route.oif === undefined)
    return { problem: `the node routes ${address} as ${ROUTE_TYPES[route.type] ?? `type ${route.type}`}, not to an interface`, retry: false };
  const out = byIndex.get(route.oif);
  if (!out) return { problem: `the route to ${address} goes out through interface ${route.oif}, which is gone`, retry: true };
  if (out.kind === 'bridge') return bridgePort(address, out, byIndex);
  if (out.kind && POD_LINK_KINDS.has(out.kind)) return { interface: out.name };
  return {
    problem: `the node reaches ${address} through ${out.name} (${out.kind ?? 'a device'}), which is not the pod's own interface (MacVlan/IPVlan pods and tunnels have none on the node)`,
    retry: false,
  };
}

function bridgePort(address: string, bridge: Link, byIndex: ReadonlyMap<number, Link>): PodInterface {
  const family = ipFamily(address) === 4 ? AF_INET : AF_INET6;
  const neighbour = listNeighbours(family).find((n) => n.ifindex === bridge.index && n.address === address && n.mac);
  if (!neighbour)
    return { problem: `${address} is behind bridge ${bridge.name}, and the node has no neighbour entry for it yet (it learns the pod's MAC from the first packet it exchanges with it)`, retry: true };
  const ports = listNeighbours(AF_BRIDGE).filter((e) => e.mac === neighbour.mac && e.ifindex !== bridge.index && (e.master === undefined || e.master === bridge.index));
  const port = ports.map((e) => byIndex.get(e.ifindex)).find((l) => l?.master === bridge.index);
  if (!port) return { problem: `bridge ${bridge.name} has no forwarding entry for ${address}'s MAC ${neighbour.mac} yet`, retry: true };
  if (!port.kind || !POD_LINK_KINDS.has(port.kind)) return { problem: `${address} is behind port ${port.name} (${port.kind ?? 'a device'}) of bridge ${bridge.name}, not a pod's veth`, retry: false };
  return { interface: port.name };
}
