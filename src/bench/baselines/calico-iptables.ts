// The iptables-and-ipset layout Calico's iptables dataplane (Felix) writes for NetworkPolicy,
// for the same policies socklb enforces, as the bench's policy baseline. Felix's shape
// (felix/rules/endpoints.go, static.go, policy.go):
//   FORWARD -> cali-FORWARD -> cali-from-wl-dispatch / cali-to-wl-dispatch, which goto one
//   chain per workload interface: cali-fw-IF (what the pod sends: its egress policies) and
//   cali-tw-IF (what reaches it: its ingress policies). Each endpoint chain: established and
//   related traffic accepted by conntrack, invalid dropped, the accept/pass mark bits cleared,
//   then a jump to each policy chain (cali-pi-POLICY ingress, cali-po-POLICY egress) while no
//   verdict is marked, RETURN once a policy set the accept bit, and a drop when the tier had
//   policies and none passed; an endpoint no policy selects in that direction falls through to
//   its namespace profile, which allows. A policy chain has one rule per (rule, peer, port):
//   matches on ipsets of the selected pods' addresses (cali40s:...), CIDRs, protocol and ports,
//   setting the accept mark. Accepted packets are accepted in cali-FORWARD.
// Rendered for IPv4 only (the bench's topology) and for what the bench's policies use: pod and
// namespace selectors, ipBlock (except as a negated set), numeric ports, endPort ranges and
// protocol-only ports; a named port is refused (Felix renders it with named-port ipsets, which
// the bench does not need). Pure: text out.
import { createHash } from 'node:crypto';
import { ipFamily } from '../../net/ip-address.js';
import type { NetworkPolicyRow, PolicyDirection, PolicyPeer, PolicyPort, PodRow } from '../../model/policy-objects.js';
import { ClusterIndex, podId, type PolicyCluster } from '../../model/policy/policy-cluster.js';
import { peerMatches, policySelects, rulesOf } from '../../model/policy/reference-evaluator.js';

/** Felix's default mark bits (IptablesMarkMask 0xffff0000): accept, pass. */
export const MARK_ACCEPT = 0x10000;
export const MARK_PASS = 0x20000;

const hexMark = (n: number): string => `0x${n.toString(16)}`;
/** The accept bit, as a value/mask pair for --set-xmark and -m mark --mark. */
const ACCEPT = `${hexMark(MARK_ACCEPT)}/${hexMark(MARK_ACCEPT)}`;
const PASS_CLEAR = `0x0/${hexMark(MARK_PASS)}`;

export interface CalicoLayout {
  /** iptables-restore input (--noflush) for the filter table. */
  restore: string;
  /** `ipset restore` input: one hash:net set per distinct set of addresses a rule matches. */
  ipsets: string;
  /** Names of the sets, to destroy them again. */
  setNames: string[];
  /** Rules a packet to `interfaces[i]` may walk: for the report. */
  policyChains: number;
}

const hex = (s: string): string => createHash('sha256').update(s).digest('base64url').slice(0, 20);
const policyName = (p: NetworkPolicyRow): string => `knp.default.${p.namespace}.${p.name}`;
/** Felix's chain names are at most 28 characters; a long one ends in a hash. */
const chain = (prefix: string, name: string): string => (prefix.length + name.length <= 28 ? `${prefix}${name}` : `${prefix}${hex(name).slice(0, 28 - prefix.length)}`);

const portMatch = (port: PolicyPort): string[] => {
  const proto = port.protocol.toLowerCase();
  if (port.port === undefined) return ['-p', proto];
  if (typeof port.port === 'string') throw new Error(`named port ${port.port}: the Calico baseline renders numeric ports only`);
  const range = port.endPort !== undefined ? `${port.port}:${port.endPort}` : `${port.port}`;
  return ['-p', proto, '-m', 'multiport', '--dports', range];
};

/**
 * The layout for `interfaces`: pod (namespace/name) -> its host-side interface on this node.
 */
export function calicoIptables(cluster: PolicyCluster, interfaces: ReadonlyMap<string, string>, ifacePrefix = 'veth'): CalicoLayout {
  const index = new ClusterIndex(cluster);
  const sets = new Map<string, string[]>(); // name -> members
  const setFor = (members: string[]): string => {
    const sorted = [...new Set(members)].sort();
    const name = `cali40s:${hex(sorted.join(','))}`;
    sets.set(name, sorted);
    return name;
  };
  const lines: string[] = ['*filter', ':cali-FORWARD - [0:0]', ':cali-from-wl-dispatch - [0:0]', ':cali-to-wl-dispatch - [0:0]'];
  const rules: string[] = [];
  const add = (c: string, ...words: string[]): void => void rules.push(`-A ${c} ${words.join(' ')}`);
  const declared = new Set<string>();
  const declare = (c: string): string => {
    if (!declared.has(c)) lines.push(`:${c} - [0:0]`);
    declared.add(c);
    return c;
  };

  // One chain per policy and direction.
  const peerMatchesFor = (policy: NetworkPolicyRow, peer: PolicyPeer, dir: 'src' | 'dst'): string[] => {
    if (peer.ipBlock) {
      if (ipFamily(peer.ipBlock.cidr.split('/')[0]!) !== 4) return ['-m', 'set', '--match-set', setFor([]), dir];
      const m = ['-m', 'set', '--match-set', setFor([peer.ipBlock.cidr]), dir];
      return peer.ipBlock.except.length === 0 ? m : [...m, '-m', 'set', '!', '--match-set', setFor([...peer.ipBlock.except]), dir];
    }
    const members = index.cluster.pods.flatMap((pod) => pod.ips.filter((ip) => ipFamily(ip) === 4 && peerMatches(index, policy, peer, ip, pod)));
    return ['-m', 'set', '--match-set', setFor(members), dir];
  };
  let policyChains = 0;
  for (const policy of cluster.policies) {
    for (const direction of ['Ingress', 'Egress'] as PolicyDirection[]) {
      if (!policy.policyTypes.includes(direction)) continue;
      const c = declare(chain(direction === 'Ingress' ? 'cali-pi-' : 'cali-po-', policyName(policy)));
      policyChains++;
      const dir = direction === 'Ingress' ? 'src' : 'dst';
      for (const rule of rulesOf(policy, direction)) {
        const peers = rule.peers.length === 0 ? [undefined] : rule.peers;
        const ports = rule.ports.filter((p) => p.protocol !== 'SCTP');
        if (rule.ports.length > 0 && ports.length === 0) continue; // SCTP only: matches nothing here
        for (const peer of peers) {
          for (const port of ports.length === 0 ? [undefined] : ports) {
            add(c, ...(peer ? peerMatchesFor(policy, peer, dir) : []), ...(port ? portMatch(port) : []), '-j', 'MARK', '--set-xmark', ACCEPT);
            add(c, '-m', 'mark', '--mark', ACCEPT, '-j', 'RETURN');
          }
        }
      }
    }
  }

  add('cali-FORWARD', '-i', `${ifacePrefix}+`, '-j', 'cali-from-wl-dispatch');
  add('cali-FORWARD', '-o', `${ifacePrefix}+`, '-j', 'cali-to-wl-dispatch');
  add('cali-FORWARD', '-m', 'mark', '--mark', ACCEPT, '-j', 'ACCEPT');
  const mask = hexMark(MARK_ACCEPT | MARK_PASS);
  for (const pod of cluster.pods) {
    const iface = interfaces.get(podId(pod));
    if (!iface) continue;
    for (const [prefix, dispatch, direction, flag, policyPrefix] of [
      ['cali-tw-', 'cali-to-wl-dispatch', 'Ingress', '-o', 'cali-pi-'],
      ['cali-fw-', 'cali-from-wl-dispatch', 'Egress', '-i', 'cali-po-'],
    ] as const) {
      const c = declare(chain(prefix, iface));
      add(dispatch, flag, iface, '-g', c);
      add(c, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
      add(c, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP');
      add(c, '-j', 'MARK', '--set-xmark', `0x0/${mask}`);
      const selecting = cluster.policies.filter((p) => p.policyTypes.includes(direction) && policySelects(p, pod as PodRow));
      if (selecting.length === 0) {
        // Not isolated in this direction: the namespace's profile allows.
        add(c, '-m', 'comment', '--comment', `"profile kns.${pod.namespace} allows"`, '-j', 'MARK', '--set-xmark', ACCEPT);
        add(c, '-j', 'RETURN');
        continue;
      }
      add(c, '-m', 'comment', '--comment', '"Start of tier default"', '-j', 'MARK', '--set-xmark', PASS_CLEAR);
      for (const p of selecting) {
        add(c, '-m', 'mark', '--mark', PASS_CLEAR, '-j', chain(policyPrefix, policyName(p)));
        add(c, '-m', 'mark', '--mark', ACCEPT, '-m', 'comment', '--comment', '"Return if policy accepted"', '-j', 'RETURN');
      }
      add(c, '-m', 'mark', '--mark', PASS_CLEAR, '-m', 'comment', '--comment', '"Drop if no policies passed packet"', '-j', 'DROP');
    }
  }
  lines.push(...rules, '-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD', 'COMMIT', '');
  const ipsets = [...sets].map(([name, members]) => [`create ${name} hash:net family inet`, ...members.map((m) => `add ${name} ${m}`)].join('\n')).join('\n');
  return { restore: lines.join('\n'), ipsets: ipsets + '\n', setNames: [...sets.keys()], policyChains };
}
