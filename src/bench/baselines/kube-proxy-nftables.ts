// The ruleset kube-proxy's nftables mode writes for services (pkg/proxy/nftables,
// setupNFTables + syncProxyRules), as the `nft -f` text of its first full sync: one
// transaction. Services are found with one lookup in the service-ips verdict map (address .
// protocol . port), whatever their number; that map lookup is what the mode has instead of
// iptables' linear KUBE-SERVICES walk. A service chain picks an endpoint with
// `numgen random mod N vmap`, the endpoint chain marks hairpin traffic for masquerade and does
// the DNAT; services without endpoints are rejected through the no-endpoint-services map.
// North-south frontends (reach 'external', externalTrafficPolicy Cluster) go to the port's
// external chain, which marks for masquerade and goes on to the service chain: an external IP
// through service-ips, a NodePort (a frontend on one of nodePortIPs) through service-nodeports,
// by protocol and port alone.
// Pure: text out, no I/O.
import type { DesiredService } from '../../model/desired-services.js';
import { formatHostPort, ipFamily, type IpFamily } from '../../net/ip-address.js';
import { nftEndpointChain, nftExternalChain, nftServiceChain } from './kube-proxy-chains.js';
import { hasExternal, kubeProxyServicePorts } from './kube-proxy-service-ports.js';

export interface NftablesOptions {
  /** The pod CIDR of this family (kube-proxy's local traffic detector): traffic from outside it to a cluster IP is masqueraded. */
  clusterCidr?: string;
  /** The service CIDRs of this family: traffic to an address in them that is no cluster IP is dropped. */
  serviceCidrs?: readonly string[];
  /** --nodeport-addresses resolved to this node's IPs (kube-proxy's default, "primary"); unset: every local address ("0.0.0.0/0"). */
  nodePortIPs?: readonly string[];
  /** This node's addresses: a north-south frontend on one of them is a NodePort, any other an
   * external IP (default: nodePortIPs). */
  nodeAddresses?: readonly string[];
  /** --iptables-masquerade-bit; kube-proxy's default is 14 (mark 0x4000). */
  masqueradeBit?: number;
}

export interface NftablesRuleSet {
  /** `nft -f` input: the whole table in one transaction. */
  transaction: string;
  /** Elements of the service-ips map. A packet's lookup is one hash-map lookup, not a walk over these. */
  serviceElements: number;
  /** "ip kube-proxy" or "ip6 kube-proxy". */
  table: string;
}

interface BaseChain {
  name: string;
  type: 'filter' | 'nat';
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  /** knftables.DNATPriority is -100, SNATPriority 100, FilterPriority 0. */
  priority: number;
}

// nftablesBaseChains: the filter chains that must see pre-DNAT addresses run just before DNAT.
export const NFT_BASE_CHAINS: readonly BaseChain[] = [
  { name: 'filter-prerouting-pre-dnat', type: 'filter', hook: 'prerouting', priority: -110 },
  { name: 'filter-output-pre-dnat', type: 'filter', hook: 'output', priority: -110 },
  { name: 'filter-input', type: 'filter', hook: 'input', priority: 0 },
  { name: 'filter-forward', type: 'filter', hook: 'forward', priority: 0 },
  { name: 'filter-output', type: 'filter', hook: 'output', priority: 0 },
  { name: 'nat-prerouting', type: 'nat', hook: 'prerouting', priority: -100 },
  { name: 'nat-output', type: 'nat', hook: 'output', priority: -100 },
  { name: 'nat-postrouting', type: 'nat', hook: 'postrouting', priority: 100 },
];

// nftablesJumpChains, in kube-proxy's order (the order of the jumps within a base chain).
const JUMP_CHAINS: readonly { to: string; from: string; match: string }[] = [
  { to: 'nodeport-endpoints-check', from: 'filter-input', match: 'ct state new' },
  { to: 'service-endpoints-check', from: 'filter-input', match: 'ct state new' },
  { to: 'service-endpoints-check', from: 'filter-forward', match: 'ct state new' },
  { to: 'service-endpoints-check', from: 'filter-output', match: 'ct state new' },
  { to: 'firewall-check', from: 'filter-prerouting-pre-dnat', match: 'ct state new' },
  { to: 'firewall-check', from: 'filter-output-pre-dnat', match: 'ct state new' },
  { to: 'services', from: 'nat-output', match: '' },
  { to: 'services', from: 'nat-prerouting', match: '' },
  { to: 'masquerading', from: 'nat-postrouting', match: '' },
  { to: 'cluster-ips-check', from: 'filter-forward', match: 'ct state new' },
  { to: 'cluster-ips-check', from: 'filter-output', match: 'ct state new' },
];

export const nftTable = (family: IpFamily): string => `${family === 4 ? 'ip' : 'ip6'} kube-proxy`;

const baseChainLine = (table: string, c: BaseChain): string => `add chain ${table} ${c.name} { type ${c.type} hook ${c.hook} priority ${c.priority} ; }`;
const jumpLine = (table: string, j: (typeof JUMP_CHAINS)[number]): string => `add rule ${table} ${j.from} ${j.match ? `${j.match} ` : ''}jump ${j.to}`;

/** A transaction hooking the table into netfilter: the base chains and their jumps (the chains jumped to must exist). */
export function nftHooksOn(family: IpFamily): string {
  const table = nftTable(family);
  return [...NFT_BASE_CHAINS.map((c) => baseChainLine(table, c)), ...JUMP_CHAINS.map((j) => jumpLine(table, j)), ''].join('\n');
}

/** A transaction unhooking the table: without base chains nothing in it sees a packet. */
export function nftHooksOff(family: IpFamily): string {
  const table = nftTable(family);
  return [...NFT_BASE_CHAINS.map((c) => `delete chain ${table} ${c.name}`), ''].join('\n');
}

export function kubeProxyNftables(services: readonly DesiredService[], family: IpFamily, opts: NftablesOptions = {}): NftablesRuleSet {
  const table = nftTable(family);
  const ipX = family === 4 ? 'ip' : 'ip6';
  const addrType = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  const noLocalhost = family === 4 ? 'ip daddr != 127.0.0.0/8' : 'ip6 daddr != ::1';
  // fmt.Sprintf("%#08x", 1<<bit): 0x prefix counted in the width of 8.
  const mark = `0x${(1 << (opts.masqueradeBit ?? 14)).toString(16).padStart(6, '0')}`;
  const tx: string[] = [];
  const add = (what: string): number => tx.push(`add ${what.replace(/^(\w+) /, `$1 ${table} `)}`);
  const flush = (what: string): number => tx.push(`flush ${what.replace(/^(\w+) /, `$1 ${table} `)}`);
  const rule = (chain: string, text: string, comment?: string): number => add(`rule ${chain} ${text}${comment ? ` comment "${comment}"` : ''}`);
  const created = new Set<string>();
  const ensureChain = (name: string): void => {
    if (created.has(name)) return;
    created.add(name);
    add(`chain ${name}`);
    flush(`chain ${name}`);
  };

  // setupNFTables. On its first sync kube-proxy adds and deletes every base chain once, so a
  // leftover one with other properties (an older priority) cannot fail the transaction.
  add(`table { comment "rules for kube-proxy" ; }`);
  for (const c of NFT_BASE_CHAINS) {
    add(`chain ${c.name}`);
    tx.push(`delete chain ${table} ${c.name}`);
  }
  for (const c of NFT_BASE_CHAINS) {
    tx.push(baseChainLine(table, c));
    flush(`chain ${c.name}`);
  }
  for (const j of JUMP_CHAINS) {
    ensureChain(j.to);
    tx.push(jumpLine(table, j));
  }
  for (const c of ['services', 'cluster-ips-check', 'masquerading', 'mark-for-masquerade']) ensureChain(c);
  rule('mark-for-masquerade', `mark set mark or ${mark}`);
  rule('masquerading', `mark and ${mark} == 0 return`);
  rule('masquerading', `mark set mark xor ${mark}`);
  rule('masquerading', 'masquerade fully-random');

  add(`set cluster-ips { type ${addrType} ; comment "Active ClusterIPs" ; }`);
  rule('cluster-ips-check', `${ipX} daddr @cluster-ips reject`, 'Reject traffic to invalid ports of ClusterIPs');
  if (opts.serviceCidrs?.length) rule('cluster-ips-check', `${ipX} daddr { ${opts.serviceCidrs.join(',')} } drop`, 'Drop traffic to unallocated ClusterIPs');

  add(`set nodeport-ips { type ${addrType} ; comment "IPs that accept NodePort traffic" ; }`);
  if (opts.nodePortIPs) {
    flush('set nodeport-ips');
    for (const ip of opts.nodePortIPs) add(`element nodeport-ips { ${ip} }`);
  } else tx.push(`delete set ${table} nodeport-ips`);

  add(`map no-endpoint-services { type ${addrType} . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }`);
  add(`map no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }`);
  add(`chain reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }`);
  flush('chain reject-chain');
  rule('reject-chain', 'reject');
  rule('service-endpoints-check', `${ipX} daddr . meta l4proto . th dport vmap @no-endpoint-services`);
  const nodePortMatch = opts.nodePortIPs ? `${ipX} daddr @nodeport-ips` : noLocalhost;
  rule('nodeport-endpoints-check', `${nodePortMatch} meta l4proto . th dport vmap @no-endpoint-nodeports`);

  add(`map firewall-ips { type ${addrType} . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }`);
  ensureChain('firewall-check');
  rule('firewall-check', `${ipX} daddr . meta l4proto . th dport vmap @firewall-ips`);

  add(`map service-ips { type ${addrType} . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }`);
  add(`map service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }`);
  rule('services', `${ipX} daddr . meta l4proto . th dport vmap @service-ips`);
  rule('services', `${opts.nodePortIPs ? '' : 'fib daddr type local '}${nodePortMatch} meta l4proto . th dport vmap @service-nodeports`);
  flush('set cluster-ips');
  for (const m of ['service-ips', 'firewall-ips', 'no-endpoint-services', 'no-endpoint-nodeports', 'service-nodeports']) flush(`map ${m}`);

  // syncProxyRules, one service port at a time.
  const clusterIPs = new Set<string>();
  let serviceElements = 0;
  const mine = services.filter((x) => ipFamily(x.frontend.address) === family);
  for (const sp of kubeProxyServicePorts(mine, opts.nodeAddresses ?? opts.nodePortIPs)) {
    const { owner, proto } = sp;
    const svcChain = nftServiceChain(owner, proto);
    const extChain = nftExternalChain(owner, proto);
    const endpoints = sp.backends.map((b) => ({ ...b, chain: nftEndpointChain(owner, proto, b.address, b.port) }));
    for (const e of endpoints) ensureChain(e.chain);
    if (endpoints.length > 0) ensureChain(svcChain);
    if (endpoints.length > 0 && hasExternal(sp)) ensureChain(extChain);
    const vip = sp.clusterIp?.frontend.address;
    // A service with two ports adds its cluster IP once (kube-proxy's element storage dedupes).
    if (vip !== undefined && !clusterIPs.has(vip)) add(`element cluster-ips { ${vip} }`);
    if (vip !== undefined) clusterIPs.add(vip);
    const keyOf = (f: DesiredService['frontend']): string => `${f.address} . ${proto} . ${f.port}`;
    if (endpoints.length === 0) {
      for (const f of [...(sp.clusterIp ? [sp.clusterIp] : []), ...sp.externalIps]) add(`element no-endpoint-services { ${keyOf(f.frontend)} comment "${owner}" : goto reject-chain }`);
      for (const port of sp.nodePorts) add(`element no-endpoint-nodeports { ${proto} . ${port} comment "${owner}" : goto reject-chain }`);
      continue;
    }
    if (sp.clusterIp) {
      add(`element service-ips { ${keyOf(sp.clusterIp.frontend)} : goto ${svcChain} }`);
      serviceElements++;
      if (opts.clusterCidr) rule(svcChain, `${ipX} daddr ${vip} ${ipX} saddr != ${opts.clusterCidr} jump mark-for-masquerade`);
    }
    rule(svcChain, `numgen random mod ${endpoints.length} vmap { ${endpoints.map((e, i) => `${i} : goto ${e.chain}`).join(' , ')} }`);
    for (const e of endpoints) {
      // Hairpin: a pod reaching itself through the VIP needs SNAT to get the reply.
      rule(e.chain, `${ipX} saddr ${e.address} jump mark-for-masquerade`);
      rule(e.chain, `meta l4proto ${proto} dnat to ${formatHostPort(e.address, e.port)}`);
    }
    if (!hasExternal(sp)) continue;
    // externalTrafficPolicy Cluster: every connection from outside is masqueraded.
    rule(extChain, 'jump mark-for-masquerade');
    rule(extChain, `goto ${svcChain}`);
    for (const e of sp.externalIps) {
      add(`element service-ips { ${keyOf(e.frontend)} : goto ${extChain} }`);
      serviceElements++;
    }
    for (const port of sp.nodePorts) add(`element service-nodeports { ${proto} . ${port} : goto ${extChain} }`);
  }
  return { transaction: `${tx.join('\n')}\n`, serviceElements, table };
}
