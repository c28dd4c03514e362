// The rule set kube-proxy's iptables mode writes for ClusterIP services, as iptables-restore
// input: KUBE-SERVICES with one jump per service port (traversed linearly, which is what makes
// iptables slow at thousands of services), KUBE-SVC-* choosing an endpoint with the statistic
// cascade 1/n, 1/(n-1), ..., and KUBE-SEP-* doing the DNAT, with masquerade marks; services
// without endpoints get kube-proxy's REJECT in the filter table. Pure: text out, no I/O.
import type { DesiredService } from '../../model/desired-services.js';
import { formatHostPort, ipFamily, type IpFamily } from '../../net/ip-address.js';
import { endpointChain, serviceChain } from './kube-proxy-chains.js';

export interface IptablesOptions {
  /** Traffic from outside this range to a cluster IP is masqueraded (kube-proxy --cluster-cidr). */
  clusterCidr?: string;
  /** Also the jumps from the built-in chains, which kube-proxy installs with iptables -I. */
  entryJumps?: boolean;
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
  const filterRules: string[] = [];
  const serviceJumps: string[] = [];
  for (const s of mine) {
    const proto = s.frontend.protocol.toLowerCase();
    const match = `-m ${proto} -p ${proto} -d ${s.frontend.address}${host} --dport ${s.frontend.port}`;
    if (s.backends.length === 0) {
      filterRules.push(`-A KUBE-SERVICES -m comment --comment ${quote(`${s.owner} has no endpoints`)} ${match} -j REJECT`);
      continue;
    }
    const svc = serviceChain(s.owner, proto);
    natChains.push(svc);
    serviceJumps.push(`-A KUBE-SERVICES -m comment --comment ${quote(`${s.owner} cluster IP`)} ${match} -j ${svc}`);
    if (opts.clusterCidr) natRules.push(`-A ${svc} -m comment --comment ${quote(`${s.owner} cluster IP`)} ${match} ! -s ${opts.clusterCidr} -j KUBE-MARK-MASQ`);
    s.backends.forEach((b, i) => {
      const endpoint = formatHostPort(b.address, b.port);
      const sep = endpointChain(s.owner, proto, endpoint);
      natChains.push(sep);
      const left = s.backends.length - i;
      const pick = left > 1 ? ` -m statistic --mode random --probability ${probability(left)}` : '';
      natRules.push(`-A ${svc} -m comment --comment ${quote(`${s.owner} -> ${endpoint}`)}${pick} -j ${sep}`);
      natRules.push(`-A ${sep} -m comment --comment ${quote(s.owner)} -s ${b.address}${host} -j KUBE-MARK-MASQ`);
      natRules.push(`-A ${sep} -m comment --comment ${quote(s.owner)} -m ${proto} -p ${proto} -j DNAT --to-destination ${endpoint}`);
    });
  }
  // kube-proxy keeps this jump last in KUBE-SERVICES.
  serviceJumps.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  const restore = [
    '*filter',
    ':KUBE-SERVICES - [0:0]',
    ...filterRules,
    'COMMIT',
    '*nat',
    ...natChains.map((c) => `:${c} - [0:0]`),
    ...serviceJumps,
    ...natRules,
    'COMMIT',
    '',
  ].join('\n');
  return { restore, serviceRules: serviceJumps.length };
}
