// The state kube-proxy's IPVS mode builds for ClusterIP services (pkg/proxy/ipvs/proxier.go,
// syncProxyRules and writeIptablesRules): every cluster IP bound to the kube-ipvs0 dummy
// device, one IPVS virtual server per service port with its endpoints as masquerading real
// servers (round robin, weight 1), the ipsets its iptables rules match on, and those rules:
// a handful per table whatever the number of services, since the per-service work is an IPVS
// hash lookup and ipset matches. Pure: text out, no I/O.
import type { DesiredService } from '../../model/desired-services.js';
import { formatHostPort, ipFamily, type IpFamily } from '../../net/ip-address.js';

export const IPVS_DUMMY_DEVICE = 'kube-ipvs0';

export interface IpvsOptions {
  /** The pod CIDR of this family (kube-proxy's local traffic detector): traffic from outside it to a cluster IP is masqueraded. */
  clusterCidr?: string;
  /** --masquerade-all: every packet to a cluster IP is masqueraded. */
  masqueradeAll?: boolean;
  /** --iptables-masquerade-bit; kube-proxy's default is 14 (mark 0x4000). */
  masqueradeBit?: number;
  /** --ipvs-scheduler; kube-proxy's default is rr. */
  scheduler?: string;
  /** Whether the endpoints run on this node (they get KUBE-LOOP-BACK entries for hairpin SNAT); the lab has one node. */
  endpointsLocal?: boolean;
}

export interface IpvsState {
  /** Addresses kube-proxy binds to kube-ipvs0, with the host prefix. */
  addresses: string[];
  /** ipvsadm-restore input: virtual servers (-A) and real servers (-a). */
  ipvsadm: string;
  /** ipset restore input: every set kube-proxy creates and the entries of the ClusterIP ones. */
  ipset: string;
  /** iptables-restore --noflush input (ip6tables-restore for IPv6). */
  iptables: string;
  /** The rules kube-proxy inserts (iptables -I) into the built-in chains: [table, chain, rule args]. */
  entryJumps: [string, string, string[]][];
  /** What kube-proxy's IPVS mode sets (sysctl name: value); conn_reuse_mode is left alone on kernels >= 5.9. */
  sysctls: Record<string, string>;
  /** IPVS virtual servers: what the kernel's IPVS hash lookup chooses among. */
  virtualServers: number;
}

type SetType = 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port';

// ipsetInfo in kube-proxy's order, with the comments its iptables rules carry.
const IPSETS: readonly [string, SetType, string][] = [
  ['KUBE-LOOP-BACK', 'hash:ip,port,ip', 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose'],
  ['KUBE-CLUSTER-IP', 'hash:ip,port', 'Kubernetes service cluster ip + port for masquerade purpose'],
  ['KUBE-EXTERNAL-IP', 'hash:ip,port', 'Kubernetes service external ip + port for masquerade and filter purpose'],
  ['KUBE-EXTERNAL-IP-LOCAL', 'hash:ip,port', 'Kubernetes service external ip + port with externalTrafficPolicy=local'],
  ['KUBE-LOAD-BALANCER', 'hash:ip,port', 'Kubernetes service lb portal'],
  ['KUBE-LOAD-BALANCER-FW', 'hash:ip,port', 'Kubernetes service load balancer ip + port for load balancer with sourceRange'],
  ['KUBE-LOAD-BALANCER-LOCAL', 'hash:ip,port', 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local'],
  ['KUBE-LOAD-BALANCER-SOURCE-IP', 'hash:ip,port,ip', 'Kubernetes service load balancer ip + port + source IP for packet filter purpose'],
  ['KUBE-LOAD-BALANCER-SOURCE-CIDR', 'hash:ip,port,net', 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose'],
  ['KUBE-NODE-PORT-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port for masquerade purpose'],
  ['KUBE-NODE-PORT-LOCAL-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port with externalTrafficPolicy=local'],
  ['KUBE-NODE-PORT-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port for masquerade purpose'],
  ['KUBE-NODE-PORT-LOCAL-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port with externalTrafficPolicy=local'],
  ['KUBE-NODE-PORT-SCTP-HASH', 'hash:ip,port', "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"],
  ['KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'hash:ip,port', "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"],
  ['KUBE-HEALTH-CHECK-NODE-PORT', 'bitmap:port', 'Kubernetes health check node port'],
  ['KUBE-IPVS-IPS', 'hash:ip', 'Addresses on the ipvs interface'],
];

/** IPv6 sets are "KUBE-6-...", cut to ipset's 31 characters (NewIPSet). */
export function ipsetName(name: string, family: IpFamily): string {
  return family === 4 ? name : name.replace(/^KUBE-/, 'KUBE-6-').slice(0, 31);
}

// iptablesChains, in kube-proxy's order.
const NAT_CHAINS = ['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-NODE-PORT', 'KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ'];
const FILTER_CHAINS = ['KUBE-FORWARD', 'KUBE-NODE-PORT', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'KUBE-IPVS-FILTER', 'KUBE-IPVS-OUT-FILTER'];

// iptablesJumpChain: table, built-in chain, kube chain, comment.
const JUMPS: readonly [string, string, string, string][] = [
  ['nat', 'OUTPUT', 'KUBE-SERVICES', 'kubernetes service portals'],
  ['nat', 'PREROUTING', 'KUBE-SERVICES', 'kubernetes service portals'],
  ['nat', 'POSTROUTING', 'KUBE-POSTROUTING', 'kubernetes postrouting rules'],
  ['filter', 'FORWARD', 'KUBE-FORWARD', 'kubernetes forwarding rules'],
  ['filter', 'INPUT', 'KUBE-NODE-PORT', 'kubernetes health check rules'],
  ['filter', 'INPUT', 'KUBE-PROXY-FIREWALL', 'kube-proxy firewall rules'],
  ['filter', 'FORWARD', 'KUBE-PROXY-FIREWALL', 'kube-proxy firewall rules'],
  ['filter', 'INPUT', 'KUBE-IPVS-FILTER', 'kubernetes ipvs access filter'],
  ['filter', 'OUTPUT', 'KUBE-IPVS-OUT-FILTER', 'kubernetes ipvs access filter'],
];

export function kubeProxyIpvs(services: readonly DesiredService[], family: IpFamily, opts: IpvsOptions = {}): IpvsState {
  const mine = services.filter((s) => ipFamily(s.frontend.address) === family);
  const set = (name: string): string => ipsetName(name, family);
  const comment = (name: string): string => `"${IPSETS.find(([n]) => n === name)![2]}"`;
  // fmt.Sprintf("%#08x", 1<<bit): 0x prefix counted in the width of 8.
  const mark = `0x${(1 << (opts.masqueradeBit ?? 14)).toString(16).padStart(6, '0')}`;

  const entries = new Map<string, Set<string>>(IPSETS.map(([n]) => [n, new Set<string>()]));
  const ipvsadm: string[] = [];
  const bound = new Set<string>();
  for (const s of mine) {
    const proto = s.frontend.protocol.toLowerCase();
    const flag = s.frontend.protocol === 'UDP' ? '-u' : '-t';
    const vs = formatHostPort(s.frontend.address, s.frontend.port);
    if (opts.endpointsLocal ?? true) for (const b of s.backends) entries.get('KUBE-LOOP-BACK')!.add(`${b.address},${proto}:${b.port},${b.address}`);
    entries.get('KUBE-CLUSTER-IP')!.add(`${s.frontend.address},${proto}:${s.frontend.port}`);
    // The virtual server exists (and its address is bound) even without endpoints.
    ipvsadm.push(`-A ${flag} ${vs} -s ${opts.scheduler ?? 'rr'}`);
    for (const b of s.backends) ipvsadm.push(`-a ${flag} ${vs} -r ${formatHostPort(b.address, b.port)} -m -w 1`);
    bound.add(s.frontend.address);
  }
  for (const a of bound) entries.get('KUBE-IPVS-IPS')!.add(a);

  const ipset = IPSETS.flatMap(([name, type]) => {
    const params = type === 'bitmap:port' ? 'range 0-65535' : `family ${family === 4 ? 'inet' : 'inet6'} hashsize 1024 maxelem 65536`;
    return [`create ${set(name)} ${type} ${params} -exist`, ...[...entries.get(name)!].map((e) => `add ${set(name)} ${e} -exist`)];
  });
  const empty = (name: string): boolean => entries.get(name)!.size === 0;

  // writeIptablesRules, for what ClusterIP services fill (the NodePort, LoadBalancer and
  // external-IP sets stay empty, and kube-proxy writes no rule for an empty set).
  const nat: string[] = [`-A KUBE-SERVICES -s ${family === 4 ? '127.0.0.0/8' : '::1/128'} -j RETURN`];
  if (!empty('KUBE-LOOP-BACK')) {
    nat.push(`-A KUBE-POSTROUTING -m comment --comment ${comment('KUBE-LOOP-BACK')} -m set --match-set ${set('KUBE-LOOP-BACK')} dst,dst,src -j MASQUERADE`);
  }
  if (!empty('KUBE-CLUSTER-IP')) {
    const match = `-A KUBE-SERVICES -m comment --comment ${comment('KUBE-CLUSTER-IP')} -m set --match-set ${set('KUBE-CLUSTER-IP')}`;
    if (opts.masqueradeAll) nat.push(`${match} dst,dst -j KUBE-MARK-MASQ`);
    else if (opts.clusterCidr) nat.push(`${match} dst,dst ! -s ${opts.clusterCidr} -j KUBE-MARK-MASQ`);
    // Without a pod CIDR: node-originated traffic gets a VIP of kube-ipvs0 as its source.
    else nat.push(`${match} src,dst -j KUBE-MARK-MASQ`);
  }
  nat.push('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT', '-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ');
  const filter: string[] = ['-A KUBE-SOURCE-RANGES-FIREWALL -j DROP'];
  // acceptIPVSTraffic: last in KUBE-SERVICES, so no other rule in the table can drop VIP traffic.
  if (!empty('KUBE-CLUSTER-IP')) nat.push(`-A KUBE-SERVICES -m set --match-set ${set('KUBE-CLUSTER-IP')} dst,dst -j ACCEPT`);
  filter.push(
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    `-A KUBE-NODE-PORT -m comment --comment ${comment('KUBE-HEALTH-CHECK-NODE-PORT')} -m set --match-set ${set('KUBE-HEALTH-CHECK-NODE-PORT')} dst -j ACCEPT`,
    // KUBE-IPVS-FILTER: only service ports of the VIPs on kube-ipvs0 are reachable, not the node's own.
    ...['KUBE-LOAD-BALANCER', 'KUBE-CLUSTER-IP', 'KUBE-EXTERNAL-IP', 'KUBE-EXTERNAL-IP-LOCAL'].map((n) => `-A KUBE-IPVS-FILTER -m set --match-set ${set(n)} dst,dst -j RETURN`),
    `-A KUBE-IPVS-FILTER -m set --match-set ${set('KUBE-HEALTH-CHECK-NODE-PORT')} dst -j RETURN`,
    `-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set ${set('KUBE-IPVS-IPS')} dst -j REJECT`,
  );
  nat.push(
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
  );
  const iptables = ['*nat', ...NAT_CHAINS.map((c) => `:${c} - [0:0]`), ...nat, 'COMMIT', '*filter', ...FILTER_CHAINS.map((c) => `:${c} - [0:0]`), ...filter, 'COMMIT', ''].join(
    '\n',
  );

  return {
    addresses: [...bound].map((a) => `${a}/${family === 4 ? 32 : 128}`),
    ipvsadm: ipvsadm.length ? `${ipvsadm.join('\n')}\n` : '',
    ipset: `${ipset.join('\n')}\n`,
    iptables,
    entryJumps: JUMPS.map(([table, chain, to, text]) => [table, chain, ['-m', 'comment', '--comment', text, '-j', to]]),
    sysctls: {
      'net.ipv4.vs.conntrack': '1',
      'net.ipv4.vs.expire_nodest_conn': '1',
      'net.ipv4.vs.expire_quiescent_template': '1',
      'net.ipv4.ip_forward': '1',
    },
    virtualServers: mine.length,
  };
}
