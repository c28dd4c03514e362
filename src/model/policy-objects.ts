// The objects NetworkPolicy is computed from, decoded: Pods (where they run, their labels, their
// addresses and named container ports), Namespaces (their labels) and networking.k8s.io/v1
// NetworkPolicies, as the sources deliver them in their own tables (desired-tables.ts). The
// decoders (raw API object → these, with problems) and the policy compiler both use only
// these shapes, so the sources never see compiler internals and the compiler never sees raw
// input. Pure: no I/O.
// Empty lists keep the API's meaning where the API gives one: a rule's `peers` or `ports` that
// is empty (or was absent) matches every peer or every port, exactly as NetworkPolicy v1 says.
import type { TableKind } from './desired-tables.js';
import { flatKey } from './k8s-decode.js';

export type Labels = Readonly<Record<string, string>>;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelRequirement {
  key: string;
  operator: SelectorOperator;
  /** For In and NotIn; empty for Exists and DoesNotExist. */
  values: readonly string[];
}

/** A metav1.LabelSelector: every matchLabels pair AND every requirement. Empty: everything. */
export interface LabelSelector {
  matchLabels: Labels;
  matchExpressions: readonly LabelRequirement[];
}

/** Protocols a NetworkPolicy port can name. SCTP is decoded (it still isolates a pod) although
 * this kernel has no SCTP and the datapath ignores SCTP rules. */
export type PolicyProtocol = 'TCP' | 'UDP' | 'SCTP';

/** A container port with a name: what a policy's named port resolves to, per destination pod. */
export interface NamedPort {
  name: string;
  port: number;
  protocol: PolicyProtocol;
}

export interface PodRow {
  namespace: string;
  name: string;
  /** spec.nodeName; absent while the pod is not scheduled. */
  nodeName?: string;
  labels: Labels;
  /** status.podIPs (or status.podIP), canonical text form; empty until the pod has an address. */
  ips: readonly string[];
  /** spec.containers[].ports[] that have a name. */
  namedPorts: readonly NamedPort[];
}

export interface NamespaceRow {
  name: string;
  /** Always holds kubernetes.io/metadata.name = name, as the API server sets it. */
  labels: Labels;
}

/** The label the API server puts on every Namespace, so a namespaceSelector can name one. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface IpBlock {
  /** Canonical CIDR text ("10.0.0.0/8", "fd00::/64"). */
  cidr: string;
  except: readonly string[];
}

/** One NetworkPolicyPeer. The API allows exactly one of ipBlock or the selectors: either ipBlock
 * is set, or at least one of podSelector / namespaceSelector is. */
export interface PolicyPeer {
  /** Absent: all pods (of the selected namespaces, or of the policy's namespace when
   * namespaceSelector is absent too). */
  podSelector?: LabelSelector;
  /** Absent: the policy's own namespace. */
  namespaceSelector?: LabelSelector;
  ipBlock?: IpBlock;
}

export interface PolicyPort {
  protocol: PolicyProtocol;
  /** Absent: every port of the protocol. A string is a named port (a container port's name). */
  port?: number | string;
  /** With a numeric port: the range port..endPort. */
  endPort?: number;
}

export interface PolicyRule {
  /** from (ingress) or to (egress); empty: every peer. */
  peers: readonly PolicyPeer[];
  /** Empty: every port and protocol. */
  ports: readonly PolicyPort[];
}

export type PolicyDirection = 'Ingress' | 'Egress';

export interface NetworkPolicyRow {
  namespace: string;
  name: string;
  /** The pods (of `namespace`) the policy selects. */
  podSelector: LabelSelector;
  /** After inference (inferPolicyTypes) when spec.policyTypes was absent. */
  policyTypes: readonly PolicyDirection[];
  ingress: readonly PolicyRule[];
  egress: readonly PolicyRule[];
}

/** spec.policyTypes as the API server defaults it when absent: Ingress always, Egress when the
 * policy has at least one egress rule. */
export function inferPolicyTypes(egressRules: number): PolicyDirection[] {
  return egressRules > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

// flatKey: one flat string, as these ids are kept for every row (see k8s-decode.ts).
const namespacedId = (row: { namespace: string; name: string }): string => flatKey(row.namespace, row.name);

export const PODS: TableKind<PodRow> = { name: 'pods', rowId: namespacedId };
export const NAMESPACES: TableKind<NamespaceRow> = { name: 'namespaces', rowId: (row) => row.name };
export const NETWORK_POLICIES: TableKind<NetworkPolicyRow> = { name: 'networkpolicies', rowId: namespacedId };
