// The agent's --mode, as the components it runs (datapath-component.ts):
//   socket     (default) SocketHooks: the cgroup socket programs translate at connect/sendmsg:
//              no NAT, no conntrack on the service path; with --network-policy also PodTc
//              with the policy object (tc_policy.bpf.o) on the pods' interfaces, and the
//              hooks check egress policy at connect (sock_lb_policy.bpf.o).
//   conntrack  PodTc with translation: tc programs on the pods' interfaces translate every
//              packet and keep a conntrack entry per flow (the design of the tc-eBPF datapaths
//              socket mode is measured against); with --network-policy the same programs
//              enforce it, on their full conntrack.
// In either mode --node-devices adds NodeTc on the node's external devices: connections from
// outside the node to NodePorts, externalIPs and load-balancer IPs (tc_node.bpf.c).
// Both load their programs against the same pinned maps, so switching is a restart: the
// components of the other mode are detached (and conntrack state unpinned), the maps adopted,
// and the first sync fixes any drift.
import type { Cidr } from '../net/cidr.js';
import type { ComponentConfigs } from './datapath.js';

export const DATAPATH_MODES = ['socket', 'conntrack'] as const;
export type DatapathMode = (typeof DATAPATH_MODES)[number];

export function modeComponents(
  mode: DatapathMode,
  opts: {
    cgroup: string;
    podInterfaces: readonly string[];
    networkPolicy?: boolean;
    serviceCidrs?: readonly Cidr[];
    nodeDevices?: readonly string[];
    nodeNetns?: string;
  },
): ComponentConfigs {
  const ranges = opts.serviceCidrs ? { serviceCidrs: opts.serviceCidrs } : {};
  // North-south traffic from outside the node, in either mode: NodeTc on the node's devices.
  const nodeTc = opts.nodeDevices && opts.nodeDevices.length > 0 ? { 'node-tc': { devices: opts.nodeDevices, ...(opts.nodeNetns ? { netns: opts.nodeNetns } : {}) } } : {};
  if (mode === 'conntrack') return { 'pod-tc': { podInterfaces: opts.podInterfaces, policy: opts.networkPolicy === true, ...ranges }, ...nodeTc };
  // With NetworkPolicy the pods' interfaces get the policy object: the socket hooks translate.
  return {
    'socket-hooks': { cgroup: opts.cgroup, ...(opts.networkPolicy ? { networkPolicy: true } : {}), ...ranges },
    ...(opts.networkPolicy ? { 'pod-tc': { podInterfaces: opts.podInterfaces, translate: false } } : {}),
    ...nodeTc,
  };
}
