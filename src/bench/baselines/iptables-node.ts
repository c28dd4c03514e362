// Puts kube-proxy's iptables mode on the lab's node namespace: the rule set loaded with
// iptables-restore and forwarding on. The bench switches the mode on only for its own runs:
// the jumps from the built-in chains and bridge-nf-call-iptables (bridged pod traffic through
// iptables, as on a node whose CNI uses a bridge) are what make a node pay for kube-proxy, and
// the other modes must not. Everything lives in the node namespace and goes with it.
import type { DesiredService } from '../../datapath/desired-state.js';
import { run } from '../../lab/command.js';
import type { PodNetwork } from '../../lab/pod-network.js';
import { kubeProxyIptables } from './kube-proxy-iptables.js';
import { POD_CIDR_V4, prepareNode, wantBridgeNetfilter } from './node-netfilter.js';

export { POD_CIDR_V4 };

const ENTRY_JUMPS: [string, string[]][] = [
  ['PREROUTING', ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']],
  ['OUTPUT', ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']],
  ['POSTROUTING', ['-m', 'comment', '--comment', 'kubernetes postrouting rules', '-j', 'KUBE-POSTROUTING']],
];

export interface IptablesMode {
  serviceRules: number;
  /** On: traffic on the node goes through kube-proxy's rules; off: as if kube-proxy were not there. */
  enable(on: boolean): void;
}

export function installIptablesMode(net: PodNetwork, services: readonly DesiredService[]): IptablesMode {
  const ns = ['netns', 'exec', net.nodeNetns];
  // A new namespace starts with bridge-nf-call-iptables=1: once tables are loaded, bridged pod
  // traffic of every mode would be tracked. Off until iptables mode is switched on.
  prepareNode(net.nodeNetns);
  const rules = kubeProxyIptables(services, 4, { clusterCidr: POD_CIDR_V4 });
  run('ip', [...ns, 'iptables-restore', '--noflush'], { input: rules.restore });
  let enabled = false;
  return {
    serviceRules: rules.serviceRules,
    enable(on) {
      if (on === enabled) return;
      for (const [chain, rule] of ENTRY_JUMPS) run('ip', [...ns, 'iptables', '-t', 'nat', on ? '-A' : '-D', chain, ...rule]);
      wantBridgeNetfilter(net.nodeNetns, 'iptables', on);
      enabled = on;
    },
  };
}
