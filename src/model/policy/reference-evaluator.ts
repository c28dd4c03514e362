// NetworkPolicy v1, evaluated the plain way: for one flow, walk every policy and rule. This is
// the definition the compiled tables are tested against, and what `socklb policy check` shows
// (it names the policies and rules that decided). Pure.
//
// What NetworkPolicy says, and where each line below comes from (networking.k8s.io/v1 API docs):
// - A pod is isolated for ingress (egress) once any policy that selects it has Ingress (Egress)
//   in policyTypes; until then all traffic in that direction is allowed.
// - Traffic is allowed when the egress side of the source AND the ingress side of the
//   destination allow it; a side that is not an isolated pod (a bare address) allows.
// - An isolated side allows what the union of its policies' rules of that direction allows;
//   a rule allows when one of its peers matches (none listed: every peer) AND one of its ports
//   matches (none listed: every port and protocol).
// - Rules of a direction missing from a policy's policyTypes have no effect.
// Three rules on top, which NetworkPolicy leaves to the implementation and the datapath keeps:
// a pod's traffic to itself is never enforced (it does not leave the pod); traffic from the
// pod's own node is always allowed in (kubelet probes); replies of an allowed
// connection always pass. The first two are decided here (ClusterIndex knows the local node); the
// last is the datapath's (its conntrack) and is not a question this function answers: it
// decides the flow's original direction only.
import { canonicalIp, ipFamily } from '../../net/ip-address.js';
import type { NetworkPolicyRow, PodRow, PolicyDirection, PolicyPeer, PolicyPort } from '../policy-objects.js';
import { ipBlockContains } from './ip-block.js';
import { podId, type ClusterIndex } from './policy-cluster.js';
import { selectorMatches } from './label-selector.js';

export type TrafficProtocol = 'TCP' | 'UDP';

/** A flow's first packet: addresses after service translation (the backend, not the VIP). */
export interface Traffic {
  from: string;
  to: string;
  protocol: TrafficProtocol;
  port: number;
}

/** A rule of a policy: `policy` is namespace/name, `rule` its index in that direction's list. */
export interface RuleRef {
  policy: string;
  direction: PolicyDirection;
  rule: number;
}

export type SideVerdict =
  /** The address is no pod's: NetworkPolicy only restricts pods. */
  | { allowed: true; why: 'not-a-pod' }
  | { allowed: true; why: 'not-isolated'; pod: string }
  /** A pod's traffic to itself never leaves its network namespace, so nothing enforces it
   * (the upstream e2e's AllowLoopback). */
  | { allowed: true; why: 'loopback'; pod: string }
  | { allowed: true; why: 'own-node'; pod: string }
  | { allowed: true; why: 'rules'; pod: string; rules: RuleRef[] }
  | { allowed: false; why: 'no-rule'; pod: string; isolatedBy: string[] };

export interface TrafficVerdict {
  allowed: boolean;
  egress: SideVerdict;
  ingress: SideVerdict;
}

export function policySelects(policy: NetworkPolicyRow, pod: PodRow): boolean {
  return policy.namespace === pod.namespace && selectorMatches(policy.podSelector, pod.labels);
}

/** The policies that isolate `pod` in `direction`, by namespace/name. */
export function isolatingPolicies(index: ClusterIndex, pod: PodRow, direction: PolicyDirection): NetworkPolicyRow[] {
  return index.cluster.policies.filter((p) => p.policyTypes.includes(direction) && policySelects(p, pod));
}

export const rulesOf = (policy: NetworkPolicyRow, direction: PolicyDirection) => (direction === 'Ingress' ? policy.ingress : policy.egress);

/** Whether a peer entry matches the other end of the flow (`pod` when the address is a pod's). */
export function peerMatches(index: ClusterIndex, policy: NetworkPolicyRow, peer: PolicyPeer, ip: string, pod: PodRow | undefined): boolean {
  // ipBlock is matched against the address, pod or not (the e2e "egress access to server in
  // CIDR block" cases send to pods).
  if (peer.ipBlock) return ipBlockContains(peer.ipBlock, ip);
  if (!pod) return false;
  // namespaceSelector alone: every pod of the selected namespaces; podSelector alone: pods of
  // the policy's namespace; both in one peer: the selected pods of the selected namespaces.
  if (peer.namespaceSelector) {
    if (!selectorMatches(peer.namespaceSelector, index.namespaceLabels(pod.namespace))) return false;
  } else if (pod.namespace !== policy.namespace) return false;
  return peer.podSelector === undefined || selectorMatches(peer.podSelector, pod.labels);
}

/** Whether a port entry matches; a named port is resolved against the DESTINATION pod's named
 * container ports (for egress rules too), so it matches nothing when the destination is no pod.
 * SCTP entries match no TCP or UDP flow (this kernel has no SCTP). */
export function portMatches(entry: PolicyPort, protocol: TrafficProtocol, port: number, destination: PodRow | undefined): boolean {
  if (entry.protocol !== protocol) return false;
  if (entry.port === undefined) return true;
  if (typeof entry.port === 'string') {
    const name = entry.port;
    return destination?.namedPorts.some((np) => np.name === name && np.protocol === protocol && np.port === port) ?? false;
  }
  // endPort below port is rejected by API validation; as a range it holds nothing.
  return entry.endPort === undefined ? port === entry.port : port >= entry.port && port <= entry.endPort;
}

function side(index: ClusterIndex, direction: PolicyDirection, traffic: Traffic): SideVerdict {
  const [localIp, peerIp] = direction === 'Ingress' ? [traffic.to, traffic.from] : [traffic.from, traffic.to];
  const local = index.podsByIp.get(localIp);
  if (!local) return { allowed: true, why: 'not-a-pod' };
  const pod = podId(local);
  const isolating = isolatingPolicies(index, local, direction);
  if (isolating.length === 0) return { allowed: true, why: 'not-isolated', pod };
  if (direction === 'Ingress' && index.isLocalNodeAddress(peerIp) && index.isOnLocalNode(local)) return { allowed: true, why: 'own-node', pod };
  const peer = index.podsByIp.get(peerIp);
  if (peer === local) return { allowed: true, why: 'loopback', pod };
  const destination = direction === 'Ingress' ? local : peer;
  const rules: RuleRef[] = [];
  for (const policy of isolating) {
    rulesOf(policy, direction).forEach((rule, i) => {
      const peerOk = rule.peers.length === 0 || rule.peers.some((p) => peerMatches(index, policy, p, peerIp, peer));
      const portOk = rule.ports.length === 0 || rule.ports.some((p) => portMatches(p, traffic.protocol, traffic.port, destination));
      if (peerOk && portOk) rules.push({ policy: podId(policy), direction, rule: i });
    });
  }
  if (rules.length > 0) return { allowed: true, why: 'rules', pod, rules };
  return { allowed: false, why: 'no-rule', pod, isolatedBy: isolating.map(podId) };
}

/** The verdict on a flow's original direction, with the policies and rules that decided. */
export function checkTraffic(index: ClusterIndex, traffic: Traffic): TrafficVerdict {
  if (ipFamily(traffic.from) === undefined || ipFamily(traffic.to) === undefined) {
    throw new Error(`policy check: "${traffic.from}" → "${traffic.to}" needs two IP addresses; give a pod as namespace/name or an address`);
  }
  const canonical = { ...traffic, from: canonicalIp(traffic.from), to: canonicalIp(traffic.to) };
  const egress = side(index, 'Egress', canonical);
  const ingress = side(index, 'Ingress', canonical);
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}
