// A small cluster for the named semantic tests: namespaces x, y, z; pods a and b in x and y, c in
// z; each probe is answered by the reference evaluator AND by the compiled tables' lookup, and
// the two must agree, so every named rule is checked on both.
import assert from 'node:assert/strict';
import { PolicyCompiler } from '../../../src/model/policy/policy-compiler.js';
import { ClusterIndex, type PolicyCluster } from '../../../src/model/policy/policy-cluster.js';
import { lookupPacket } from '../../../src/model/policy/policy-lookup.js';
import { checkTraffic, type TrafficProtocol, type TrafficVerdict } from '../../../src/model/policy/reference-evaluator.js';
import { EVERYTHING } from '../../../src/model/policy/label-selector.js';
import type { LabelSelector, NamedPort, NetworkPolicyRow, PodRow, PolicyPeer, PolicyPort, PolicyRule } from '../../../src/model/policy-objects.js';

export const NODE_IP = '192.168.0.1';

export function pod(namespace: string, name: string, ip: string, labels: Record<string, string> = { pod: name }, namedPorts: NamedPort[] = [], nodeName = 'node1'): PodRow {
  return { namespace, name, nodeName, labels, ips: [ip], namedPorts };
}

export const PODS: PodRow[] = [
  pod('x', 'a', '10.0.0.1'),
  pod('x', 'b', '10.0.0.2'),
  pod('x', 'c', '10.0.0.3'),
  pod('y', 'a', '10.0.1.1'),
  pod('y', 'b', '10.0.1.2'),
  pod('y', 'c', '10.0.1.3'),
  pod('z', 'a', '10.0.2.1'),
  pod('z', 'b', '10.0.2.2'),
  pod('z', 'c', '10.0.2.3'),
];

export const IP: Record<string, string> = Object.fromEntries(PODS.map((p) => [`${p.namespace}/${p.name}`, p.ips[0]!]));

export const labels = (matchLabels: Record<string, string>): LabelSelector => ({ matchLabels, matchExpressions: [] });

export function policy(
  namespace: string,
  name: string,
  spec: { podSelector?: LabelSelector; types?: NetworkPolicyRow['policyTypes']; ingress?: PolicyRule[]; egress?: PolicyRule[] },
): NetworkPolicyRow {
  const egress = spec.egress ?? [];
  return {
    namespace,
    name,
    podSelector: spec.podSelector ?? EVERYTHING,
    policyTypes: spec.types ?? (egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress']),
    ingress: spec.ingress ?? [],
    egress,
  };
}

export const rule = (peers: PolicyPeer[] = [], ports: PolicyPort[] = []): PolicyRule => ({ peers, ports });

export function clusterOf(policies: NetworkPolicyRow[], pods: PodRow[] = PODS): PolicyCluster {
  const namespaces = ['x', 'y', 'z'].map((n) => ({ name: n, labels: { 'kubernetes.io/metadata.name': n, ns: n } }));
  return { pods, namespaces, policies, localNode: { name: 'node1', addresses: [NODE_IP] } };
}

/** The verdict on from → to, after checking that the compiled lookup agrees on both sides. */
export function probe(c: PolicyCluster, from: string, to: string, port = 80, protocol: TrafficProtocol = 'TCP'): TrafficVerdict {
  const index = new ClusterIndex(c);
  const f = IP[from] ?? from;
  const d = IP[to] ?? to;
  const want = checkTraffic(index, { from: f, to: d, protocol, port });
  const got = lookupPacket(new PolicyCompiler().compile(c), f, d, protocol, port);
  assert.equal(
    got.egress.allowed,
    want.egress.allowed,
    `egress side of ${from} → ${to} ${protocol}/${port}: lookup ${JSON.stringify(got.egress)}, reference ${JSON.stringify(want.egress)}`,
  );
  assert.equal(
    got.ingress.allowed,
    want.ingress.allowed,
    `ingress side of ${from} → ${to} ${protocol}/${port}: lookup ${JSON.stringify(got.ingress)}, reference ${JSON.stringify(want.ingress)}`,
  );
  return want;
}

export const allowed = (c: PolicyCluster, from: string, to: string, port = 80, protocol: TrafficProtocol = 'TCP'): boolean => probe(c, from, to, port, protocol).allowed;
