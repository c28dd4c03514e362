// The rule set kube-proxy's iptables mode writes, as iptables-restore input: KUBE-SERVICES with
// one jump per service port (traversed linearly, which is what makes iptables slow at thousands
// of services), KUBE-SVC-* choosing an endpoint with the statistic cascade 1/n, 1/(n-1), ...,
// and KUBE-SEP-* doing the DNAT, with masquerade marks; services without endpoints get
// kube-proxy's REJECT in the filter table. North-south frontends (reach 'external') are written
// as kube-proxy writes a Service's externalIPs and NodePorts with externalTrafficPolicy Cluster:
// a jump to the port's KUBE-EXT-* chain (from KUBE-SERVICES for an external IP, from
// KUBE-NODEPORTS by port alone for a NodePort, which every local address takes), which marks the
// connection for masquerade and goes on to the same KUBE-SVC-* chain. Pure: text out, no I/O.
import type { DesiredService } from '../../model/desired-services.js';
import { formatHostPort, ipFamily, type IpFamily } from '../../net/ip-address.js';
import { endpointChain, externalChain, serviceChain } from './kube-proxy-chains.js';
import { hasExternal, kubeProxyServicePorts } from './kube-proxy-service-ports.js';

export interface IptablesOptions {
  /** Traffic from outside this range to a cluster IP is masqueraded (kube-proxy --cluster-cidr). */
  clusterCidr?: string;
  /** Also the jumps from the built-in chains, which kube-proxy installs with iptables -I. */
  entryJumps?: boolean;
  /** This node's addresses: a north-south frontend on one of them is a NodePort (any other is
   * an external IP). */
  nodeAddresses?: readonly string[];
}

export interface IptablesRuleSet {
  /** iptables-restore input (--noflush) for the nat and filter tables. */
  restore: string;
  /** Rules in KUBE-SERVICES of the nat table: what a packet to the last service walks. */
  serviceRules: number;
}

/** The 10 decimals kube-proxy prints: fmt.Sprintf("%0.10f", 1.0/float64(n)). */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

const quote = (s: string): string => (/^[A-Za-z0-9_./:-]+$/.test(s) ? s : `"${s}"`);

export function kubeProxyIptables(services: readonly DesiredService[], family: IpFamily, opts: IptablesOptions = {}): IptablesRuleSet {
  const mine = services.filter((s) => ipFamily(s.frontend.address) === family);
  const host = family === 4 ? '/32' : '/128';
  const natChains = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];
  const entry = opts.entryJumps
    ? [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      ]
    : [];
  const natRules: string[] = [
    ...entry,
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
  ];
  const filterChains = ['KUBE-SERVICES'];
  const filterRules: string[] = [];
  const serviceJumps: string[] = [];
  const nodePortJumps: string[] = [];
  const match = (proto: string, address: string, port: number): string => `-m ${proto} -p ${proto} -d ${address}${host} --dport ${port}`;
  const nodePortMatch = (proto: string, port: number): string => `-m ${proto} -p ${proto} --dport ${port}`;
  for (const sp of kubeProxyServicePorts(mine, opts.nodeAddresses)) {
    const { owner, proto } = sp;
    if (sp.backends.length === 0) {
      const reject = (chain: string, what: string): number => filterRules.push(`-A ${chain} -m comment --comment ${quote(`${owner} has no endpoints`)} ${what} -j REJECT`);
      if (sp.clusterIp) reject('KUBE-SERVICES', match(proto, sp.clusterIp.frontend.address, sp.clusterIp.frontend.port));
      if (hasExternal(sp) && !filterChains.includes('KUBE-EXTERNAL-SERVICES')) filterChains.push('KUBE-EXTERNAL-SERVICES');
      for (const e of sp.externalIps) reject('KUBE-EXTERNAL-SERVICES', match(proto, e.frontend.address, e.frontend.port));
      for (const port of sp.nodePorts) reject('KUBE-EXTERNAL-SERVICES', `-m addrtype --dst-type LOCAL ${nodePortMatch(proto, port)}`);
      continue;
    }
    const svc = serviceChain(owner, proto);
    natChains.push(svc);
    if (sp.clusterIp) {
      const m = match(proto, sp.clusterIp.frontend.address, sp.clusterIp.frontend.port);
      serviceJumps.push(`-A KUBE-SERVICES -m comment --comment ${quote(`${owner} cluster IP`)} ${m} -j ${svc}`);
      if (opts.clusterCidr) natRules.push(`-A ${svc} -m comment --comment ${quote(`${owner} cluster IP`)} ${m} ! -s ${opts.clusterCidr} -j KUBE-MARK-MASQ`);
    }
    sp.backends.forEach((b, i) => {
      const endpoint = formatHostPort(b.address, b.port);
      const sep = endpointChain(owner, proto, endpoint);
      natChains.push(sep);
      const left = sp.backends.length - i;
      const pick = left > 1 ? ` -m statistic --mode random --probability ${probability(left)}` : '';
      natRules.push(`-A ${svc} -m comment --comment ${quote(`${owner} -> ${endpoint}`)}${pick} -j ${sep}`);
      natRules.push(`-A ${sep} -m comment --comment ${quote(owner)} -s ${b.address}${host} -j KUBE-MARK-MASQ`);
      natRules.push(`-A ${sep} -m comment --comment ${quote(owner)} -m ${proto} -p ${proto} -j DNAT --to-destination ${endpoint}`);
    });
    if (!hasExternal(sp)) continue;
    // externalTrafficPolicy Cluster: every connection from outside is masqueraded.
    const ext = externalChain(owner, proto);
    natChains.push(ext);
    for (const e of sp.externalIps) serviceJumps.push(`-A KUBE-SERVICES -m comment --comment ${quote(`${owner} external IP`)} ${match(proto, e.frontend.address, e.frontend.port)} -j ${ext}`);
    for (const port of sp.nodePorts) nodePortJumps.push(`-A KUBE-NODEPORTS -m comment --comment ${quote(owner)} ${nodePortMatch(proto, port)} -j ${ext}`);
    natRules.push(`-A ${ext} -m comment --comment ${quote(`masquerade traffic for ${owner} external destinations`)} -j KUBE-MARK-MASQ`);
    natRules.push(`-A ${ext} -j ${svc}`);
  }
  // kube-proxy keeps this jump last in KUBE-SERVICES.
  serviceJumps.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  const restore = [
    '*filter',
    ...filterChains.map((c) => `:${c} - [0:0]`),
    ...filterRules,
    'COMMIT',
    '*nat',
    ...natChains.map((c) => `:${c} - [0:0]`),
    ...nodePortJumps,
    ...serviceJumps,
    ...natRules,
    'COMMIT',
    '',
  ].join('\n');
  return { restore, serviceRules: serviceJumps.length };
}
