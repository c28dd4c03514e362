// Puts kube-proxy's iptables mode on the lab's node namespace: the rule set loaded with
// iptables-restore and forwarding on. The bench switches the mode on only for its own runs:
// the jumps from the built-in chains and bridge-nf-call-iptables (bridged pod traffic through
// iptables, as on a node whose CNI uses a bridge) are what make a node pay for kube-proxy, and
// the other modes must not. Everything lives in the node namespace and goes with it.
// Two backends of the same rules, as kube-proxy runs on nodes:
//   nft     iptables-nft (Debian's default): the tables are nf_tables tables, deleted when off.
//   legacy  iptables-legacy (x_tables): a table, once loaded in a namespace, keeps its hooks and
//           the kernel's conntrack on until the namespace goes, whatever is flushed. Such a
//           namespace can run nothing else honestly, so legacy mode is switched on once and
//           switching it off is refused (the bench gives it a topology of its own).
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

export type IptablesBackend = 'nft' | 'legacy';

const RESTORE: Record<IptablesBackend, string> = { nft: 'iptables-nft-restore', legacy: 'iptables-legacy-restore' };

/** The rules are where the backend puts them and nowhere else: a run labelled legacy that
 * went through nf_tables (or the reverse) would measure the other backend. The x_tables side
 * is only asked in a legacy namespace: listing a legacy table instantiates it, hooks and all. */
function checkBackend(netns: string, backend: IptablesBackend): void {
  const ns = ['netns', 'exec', netns];
  // As long as the load: next to thousands of services' chains, nft's listing takes tens of seconds.
  const inNft = run('ip', [...ns, 'nft', 'list', 'tables'], { timeoutMs: 300_000 }).includes('table ip nat');
  const inLegacy = backend === 'legacy' && run('ip', [...ns, 'iptables-legacy-save', '-t', 'nat']).includes(':KUBE-SERVICES');
  if (backend === 'nft' && !inNft) throw new Error(`kube-proxy's iptables rules did not reach nf_tables in ${netns}`);
  if (backend === 'legacy' && (inNft || !inLegacy))
    throw new Error(`kube-proxy's iptables-legacy rules in ${netns}: ${inLegacy ? 'in x_tables' : 'not in x_tables'}${inNft ? ', and an nf_tables nat table exists' : ''}; the legacy run would not measure x_tables alone`);
}

/** nodeAddresses: the node's addresses its NodePorts are on (kubeProxyIptables' option). */
export function installIptablesMode(net: PodNetwork, services: readonly DesiredService[], backend: IptablesBackend = 'nft', nodeAddresses: readonly string[] = []): IptablesMode {
  const ns = ['netns', 'exec', net.nodeNetns];
  // A new namespace starts with bridge-nf-call-iptables=1: once tables are loaded, bridged pod
  // traffic of every mode would be tracked. Off until iptables mode is switched on.
  prepareNode(net.nodeNetns);
  const rules = kubeProxyIptables(services, 4, { clusterCidr: POD_CIDR_V4, nodeAddresses });
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
      if (!on && backend === 'legacy')
        throw new Error(`iptables-legacy's tables cannot be removed from namespace ${net.nodeNetns}: run nothing else on a topology after its legacy mode was on`);
      if (on) {
        run('ip', [...ns, RESTORE[backend], '--noflush'], { input: withJumps, timeoutMs: 300_000 });
        checkBackend(net.nodeNetns, backend);
      } else run('ip', [...ns, 'nft', 'delete table ip nat; delete table ip filter'], { timeoutMs: 300_000 });
      wantBridgeNetfilter(net.nodeNetns, 'iptables', on);
      enabled = on;
    },
  };
}
