// What `socklb policy list` shows per pod: its identity, whether each direction is isolated,
// and the rules that apply, in words close to kubectl's. Computed from the same rows and tables
// the datapath gets. Pure.
import type { LabelSelector, PolicyDirection, PolicyPeer, PolicyPort, PolicyRule } from '../policy-objects.js';
import type { CompiledPolicy } from './policy-compiler.js';
import { ClusterIndex, podId } from './policy-cluster.js';
import { isolatingPolicies, rulesOf } from './reference-evaluator.js';

export interface RuleSummary {
  policy: string;
  rule: number;
  peers: string[];
  ports: string[];
}

export interface DirectionSummary {
  isolated: boolean;
  /** namespace/name of the policies that isolate it. */
  policies: string[];
  rules: RuleSummary[];
}

export interface PodPolicySummary {
  pod: string;
  ips: readonly string[];
  nodeName?: string;
  /** Absent for a pod without an address (it has no table entries yet). */
  identity?: number;
  ingress: DirectionSummary;
  egress: DirectionSummary;
}

/** A selector as kubectl prints one: "app=web,tier in (a,b),!debug"; "{}" selects everything. */
export function describeSelector(s: LabelSelector): string {
  const parts = Object.entries(s.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of s.matchExpressions) {
    if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator === 'In' ? 'in' : 'notin'} (${r.values.join(',')})`);
  }
  return parts.length === 0 ? '{}' : parts.join(',');
}

export function describePeer(peer: PolicyPeer, policyNamespace: string): string {
  if (peer.ipBlock) return peer.ipBlock.except.length === 0 ? `ipBlock ${peer.ipBlock.cidr}` : `ipBlock ${peer.ipBlock.cidr} except ${peer.ipBlock.except.join(', ')}`;
  const pods = peer.podSelector ? `pods ${describeSelector(peer.podSelector)}` : 'all pods';
  const namespaces = peer.namespaceSelector ? `in namespaces ${describeSelector(peer.namespaceSelector)}` : `in namespace ${policyNamespace}`;
  return `${pods} ${namespaces}`;
}

export function describePort(port: PolicyPort): string {
  const ignored = port.protocol === 'SCTP' ? ' (ignored: no SCTP)' : '';
  if (port.port === undefined) return `${port.protocol} all ports${ignored}`;
  const range = port.endPort !== undefined && typeof port.port === 'number' ? `${port.port}-${port.endPort}` : `${port.port}`;
  return `${port.protocol}/${range}${ignored}`;
}

export function describeRule(policy: string, namespace: string, rule: PolicyRule, i: number): RuleSummary {
  return {
    policy,
    rule: i,
    peers: rule.peers.length === 0 ? ['all peers'] : rule.peers.map((p) => describePeer(p, namespace)),
    ports: rule.ports.length === 0 ? ['all ports and protocols'] : rule.ports.map(describePort),
  };
}

/** Per pod, sorted by namespace/name; `localOnly` keeps the local node's pods. */
export function summarisePods(index: ClusterIndex, tables: CompiledPolicy, localOnly = false): PodPolicySummary[] {
  const identityOf = new Map<string, number>();
  for (const entry of tables.endpoints.values()) identityOf.set(entry.pod, entry.identity);
  const direction = (pod: Parameters<typeof isolatingPolicies>[1], d: PolicyDirection): DirectionSummary => {
    const policies = isolatingPolicies(index, pod, d);
    return {
      isolated: policies.length > 0,
      policies: policies.map(podId),
      rules: policies.flatMap((p) => rulesOf(p, d).map((r, i) => describeRule(podId(p), p.namespace, r, i))),
    };
  };
  return index.cluster.pods
    .filter((pod) => !localOnly || index.isOnLocalNode(pod))
    .map((pod) => ({
      pod: podId(pod),
      ips: pod.ips,
      ...(pod.nodeName !== undefined ? { nodeName: pod.nodeName } : {}),
      ...(identityOf.has(podId(pod)) ? { identity: identityOf.get(podId(pod))! } : {}),
      ingress: direction(pod, 'Ingress'),
      egress: direction(pod, 'Egress'),
    }))
    .sort((a, b) => (a.pod < b.pod ? -1 : 1));
}
