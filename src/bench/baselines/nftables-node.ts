// Puts kube-proxy's nftables mode on the lab's node namespace: its tables loaded with `nft -f`
// and forwarding on. As with iptables mode, the bench switches the mode on only for its own
// runs: the tables exist only while it is on (kube-proxy's transaction loads them, deleting
// the tables takes them away) and bridged pod traffic goes through the ip-family hooks (which
// nftables' ip/ip6 tables share with iptables) only then. Unhooking alone is not enough: a
// table holding dnat or ct rules keeps the kernel's conntrack on for the whole namespace,
// which would charge every other mode for nftables. Everything lives in the node namespace.
import type { DesiredService } from '../../model/desired-services.js';
import { run } from '../../lab/command.js';
import { NODE_V4, NODE_V6, SERVICE_CIDR_V4, SERVICE_CIDR_V6, type PodNetwork } from '../../lab/pod-network.js';
import { ipFamily } from '../../net/ip-address.js';
import { kubeProxyNftables, nftTable } from './kube-proxy-nftables.js';
import { POD_CIDR_V4, POD_CIDR_V6, prepareNode, wantBridgeNetfilter } from './node-netfilter.js';

const LAB = {
  4: { clusterCidr: POD_CIDR_V4, serviceCidrs: [SERVICE_CIDR_V4], nodePortIPs: [NODE_V4] },
  6: { clusterCidr: POD_CIDR_V6, serviceCidrs: [SERVICE_CIDR_V6], nodePortIPs: [NODE_V6] },
} as const;

export interface NftablesMode {
  /** Elements in the service-ips maps (all families): what one map lookup chooses among. */
  serviceElements: number;
  /** On: traffic on the node goes through kube-proxy's tables; off: as if kube-proxy were not there. */
  enable(on: boolean): void;
}

/** nodeAddresses: more of the node's addresses its NodePorts are on (--nodeport-addresses), besides its pod-network one. */
export function installNftablesMode(net: PodNetwork, services: readonly DesiredService[], nodeAddresses: readonly string[] = []): NftablesMode {
  const nft = (text: string): string => run('ip', ['netns', 'exec', net.nodeNetns, 'nft', '-f', '-'], { input: text, timeoutMs: 300_000 });
  prepareNode(net.nodeNetns);
  // Like kube-proxy in dual stack: one table per family that has services.
  const families = ([4, 6] as const).filter((f) => services.some((s) => ipFamily(s.frontend.address) === f));
  const rules = families.map((family) => {
    const nodePortIPs = [...LAB[family].nodePortIPs, ...nodeAddresses.filter((a) => ipFamily(a) === family)];
    return { family, ...kubeProxyNftables(services, family, { ...LAB[family], nodePortIPs }) };
  });
  let enabled = false;
  return {
    serviceElements: rules.reduce((n, r) => n + r.serviceElements, 0),
    enable(on) {
      if (on === enabled) return;
      // kube-proxy's own transaction (its first full sync), or the tables deleted.
      for (const r of rules) nft(on ? r.transaction : `delete table ${nftTable(r.family)}\n`);
      wantBridgeNetfilter(net.nodeNetns, 'nftables', on);
      enabled = on;
    },
  };
}
