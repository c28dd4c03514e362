// The cluster as policy sees it: pods, namespaces, policies and the node the datapath runs on,
// indexed once for both the reference evaluator and the compiler, so they agree on what is not
// policy semantics (which pod owns an address, a namespace's labels). Pure.
import { canonicalIp, ipFamily, type IpFamily } from '../../net/ip-address.js';
import { NAMESPACE_NAME_LABEL, type Labels, type NamespaceRow, type NetworkPolicyRow, type PodRow } from '../policy-objects.js';

/** The node the agent runs on: its name (pods' spec.nodeName) and its own addresses. */
export interface LocalNode {
  name: string;
  addresses: readonly string[];
}

export interface PolicyCluster {
  pods: readonly PodRow[];
  namespaces: readonly NamespaceRow[];
  policies: readonly NetworkPolicyRow[];
  /** Absent: no address counts as a pod's own node (the "from own node" rule never applies). */
  localNode?: LocalNode;
}

export const podId = (pod: { namespace: string; name: string }): string => `${pod.namespace}/${pod.name}`;

export class ClusterIndex {
  readonly cluster: PolicyCluster;
  /** Pods by address. One owner per address: see the constructor. */
  readonly podsByIp = new Map<string, PodRow>();
  /** Addresses two pods claimed, with the pod that was not used. */
  readonly addressConflicts: { ip: string; pod: string; owner: string }[] = [];
  private readonly namespaceLabelsByName = new Map<string, Labels>();
  private readonly nodeAddresses: Set<string>;

  constructor(cluster: PolicyCluster) {
    this.cluster = cluster;
    for (const ns of cluster.namespaces) this.namespaceLabelsByName.set(ns.name, ns.labels);
    this.nodeAddresses = new Set((cluster.localNode?.addresses ?? []).map(canonicalIp));
    // An address is a pod's only while no older claim holds it; ties go to the lowest
    // namespace/name so the result does not depend on row order. A node address is never a
    // pod's: pods that share it (hostNetwork) are the node to every peer.
    const sorted = [...cluster.pods].sort((a, b) => (podId(a) < podId(b) ? -1 : podId(a) > podId(b) ? 1 : 0));
    for (const pod of sorted) {
      for (const raw of pod.ips) {
        const ip = canonicalIp(raw);
        const owner = this.podsByIp.get(ip);
        if (this.nodeAddresses.has(ip)) continue;
        if (owner) this.addressConflicts.push({ ip, pod: podId(pod), owner: podId(owner) });
        else this.podsByIp.set(ip, pod);
      }
    }
  }

  /** A namespace's labels; one we have no row for yet still has its name label, which the API
   * server sets on every namespace and nobody can change. */
  namespaceLabels(namespace: string): Labels {
    return this.namespaceLabelsByName.get(namespace) ?? { [NAMESPACE_NAME_LABEL]: namespace };
  }

  isLocalNodeAddress(ip: string): boolean {
    return this.nodeAddresses.has(ip);
  }

  /** Whether `pod` runs on the local node, so traffic from the node's addresses is its own node's. */
  isOnLocalNode(pod: PodRow): boolean {
    return this.cluster.localNode !== undefined && pod.nodeName === this.cluster.localNode.name;
  }

  /** The address `policy check` probes for "namespace/name" (the pod's first address of
   * `family`, else its first) or for an address given as such. */
  addressOf(text: string, family?: IpFamily): string {
    if (ipFamily(text) !== undefined) return canonicalIp(text);
    const pod = this.cluster.pods.find((p) => podId(p) === text);
    if (!pod) throw new Error(`policy check: no pod "${text}"; give namespace/name of a known pod, or an IP address`);
    const ip = pod.ips.find((a) => ipFamily(a) === family) ?? pod.ips[0];
    if (ip === undefined) throw new Error(`policy check: pod ${text} has no address yet (status.podIPs is empty); wait until it runs`);
    return canonicalIp(ip);
  }
}
