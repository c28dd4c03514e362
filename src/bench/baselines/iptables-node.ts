// Puts kube-proxy's iptables mode on the lab's node namespace: the rule set loaded with
// iptables-restore and forwarding on. The bench switches the mode on only for its own runs:
// the jumps from the built-in chains and bridge-nf-call-iptables (bridged pod traffic through
// iptables, as on a node whose CNI uses a bridge) are what make a node pay for kube-proxy, and
// the other modes must not. Everything lives in the node namespace and goes with it.
import type { DesiredService } from '../../model/desired-services.js';
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

/** The rule set exists only while the mode is on, which needs the nf_tables backend of iptables (Debian's default) to remove it again. */
export function iptablesBackendProblem(): string | undefined {
  const version = run('iptables', ['-V']);
  return version.includes('nf_tables')
    ? undefined
    : `iptables is ${version.trim()}; the bench needs the nf_tables backend (update-alternatives --set iptables /usr/sbin/iptables-nft)`;
}

export function installIptablesMode(net: PodNetwork, services: readonly DesiredService[]): IptablesMode {
  const problem = iptablesBackendProblem();
  if (problem) throw new Error(problem);
  const ns = ['netns', 'exec', net.nodeNetns];
  // A new namespace starts with bridge-nf-call-iptables=1: once tables are loaded, bridged pod
  // traffic of every mode would be tracked. Off until iptables mode is switched on.
  prepareNode(net.nodeNetns);
  const rules = kubeProxyIptables(services, 4, { clusterCidr: POD_CIDR_V4 });
  const jumps = ENTRY_JUMPS.map(([chain, rule]) => `-A ${chain} ${rule.map((w) => (w.includes(' ') ? `"${w}"` : w)).join(' ')}`);
  const withJumps = rules.restore.replace(/\*nat\n((?::[^\n]*\n)*)/, (m) => `${m}${jumps.join('\n')}\n`);
  let enabled = false;
  return {
    serviceRules: rules.serviceRules,
    enable(on) {
      if (on === enabled) return;
      // The rules exist only while the mode is on: a DNAT rule anywhere in the namespace,
      // even unhooked, keeps the kernel's conntrack on and would charge the other modes for
      // iptables. Thousands of services take iptables-restore seconds to load.
      if (on) run('ip', [...ns, 'iptables-restore', '--noflush'], { input: withJumps, timeoutMs: 300_000 });
      else run('ip', [...ns, 'nft', 'delete table ip nat; delete table ip filter'], { timeoutMs: 300_000 });
      wantBridgeNetfilter(net.nodeNetns, 'iptables', on);
      enabled = on;
    },
  };
}
