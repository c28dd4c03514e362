// Random clusters for the policy property tests: few namespaces, labels, addresses, ports and
// prefixes, drawn from small pools that overlap on purpose (prefixes nested in each other and
// around the pod addresses, named ports sharing names, endPort ranges around the probed ports),
// so random policies select, hole and collide often.
import fc from 'fast-check';
import type { Traffic } from '../../../src/model/policy/reference-evaluator.js';
import type { LabelRequirement, LabelSelector, NamedPort, NamespaceRow, NetworkPolicyRow, PodRow, PolicyPeer, PolicyPort, PolicyRule } from '../../../src/model/policy-objects.js';
import type { PolicyCluster } from '../../../src/model/policy/policy-cluster.js';

export const NAMESPACES = ['a', 'b', 'c'];
export const NODE_ADDRESS = '192.168.0.1';
const POD_IPS = ['10.0.0.1', '10.0.0.2', '10.0.1.1', '10.0.1.130', '10.1.0.5', '10.0.0.3', 'fd00::1', 'fd00::2', 'fd00:1::5', NODE_ADDRESS];
export const BARE_IPS = ['10.0.1.200', '10.9.9.9', '8.8.8.8', 'fd00::99', '2001:db8::1', NODE_ADDRESS, '192.168.0.2'];
export const PORTS = [53, 79, 80, 81, 100, 127, 128, 443, 1000, 8080, 8081, 9090, 65535];
const CIDRS = [
  '10.0.0.0/8',
  '10.0.0.0/16',
  '10.0.1.0/24',
  '10.0.1.128/25',
  '10.0.0.2/32',
  '0.0.0.0/0',
  '192.168.0.0/16',
  'fd00::/64',
  'fd00::/16',
  '::/0',
  'fd00::2/128',
  '::ffff:0:0/96',
  '::ffff:10.0.0.0/104',
];
const KEYS = ['app', 'tier', 'team'];
const VALUES = ['web', 'db', 'x'];

const labels = fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), { maxKeys: 3 });

const requirement: fc.Arbitrary<LabelRequirement> = fc
  .record({
    key: fc.constantFrom(...KEYS),
    operator: fc.constantFrom('In' as const, 'NotIn' as const, 'Exists' as const, 'DoesNotExist' as const),
    values: fc.subarray(VALUES, { maxLength: 2 }),
  })
  .map((r) => (r.operator === 'Exists' || r.operator === 'DoesNotExist' ? { ...r, values: [] } : r));

export const selector: fc.Arbitrary<LabelSelector> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ matchLabels: {}, matchExpressions: [] }) },
  {
    weight: 3,
    arbitrary: fc.record({
      matchLabels: fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), { maxKeys: 2 }),
      matchExpressions: fc.array(requirement, { maxLength: 2 }),
    }),
  },
);

const namespaceSelector: fc.Arbitrary<LabelSelector> = fc.oneof(
  selector,
  fc.constantFrom(...NAMESPACES).map((n) => ({ matchLabels: { 'kubernetes.io/metadata.name': n }, matchExpressions: [] })),
);

const peer: fc.Arbitrary<PolicyPeer> = fc.oneof(
  fc.record({ podSelector: selector }),
  fc.record({ namespaceSelector }),
  fc.record({ podSelector: selector, namespaceSelector }),
  fc.record({ ipBlock: fc.record({ cidr: fc.constantFrom(...CIDRS), except: fc.subarray(CIDRS, { maxLength: 3 }) }) }),
);

const port: fc.Arbitrary<PolicyPort> = fc.oneof(
  fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const) }),
  fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const), port: fc.constantFrom(...PORTS) }),
  fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const), port: fc.constantFrom(...PORTS), endPort: fc.constantFrom(...PORTS) }),
  fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const), port: fc.constantFrom('http', 'http', 'dns', 'metrics', 'nope') }),
);

const rule: fc.Arbitrary<PolicyRule> = fc.record({ peers: fc.array(peer, { maxLength: 3 }), ports: fc.array(port, { maxLength: 3 }) });

const policy: fc.Arbitrary<NetworkPolicyRow> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
  podSelector: selector,
  policyTypes: fc.constantFrom<NetworkPolicyRow['policyTypes']>(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
  ingress: fc.array(rule, { maxLength: 3 }),
  egress: fc.array(rule, { maxLength: 3 }),
});

const namedPort: fc.Arbitrary<NamedPort> = fc.oneof(
  fc.record({ name: fc.constant('http'), port: fc.constantFrom(80, 8080), protocol: fc.constant('TCP' as const) }),
  fc.record({ name: fc.constant('dns'), port: fc.constant(53), protocol: fc.constantFrom('UDP' as const, 'TCP' as const) }),
  fc.record({ name: fc.constant('metrics'), port: fc.constantFrom(9090, 100), protocol: fc.constant('TCP' as const) }),
);

const pod: fc.Arbitrary<PodRow> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('w1', 'w2', 'w3', 'w4', 'w5'),
  nodeName: fc.option(fc.constantFrom('node1', 'node2'), { nil: undefined }),
  labels,
  ips: fc.subarray(POD_IPS, { minLength: 0, maxLength: 2 }),
  namedPorts: fc.uniqueArray(namedPort, { maxLength: 3, selector: (p) => `${p.name}/${p.port}/${p.protocol}` }),
});

const namespace: fc.Arbitrary<NamespaceRow[]> = fc
  .tuple(...NAMESPACES.map(() => fc.option(labels, { nil: undefined })))
  .map((ls) => ls.flatMap((l, i) => (l === undefined ? [] : [{ name: NAMESPACES[i]!, labels: { ...l, 'kubernetes.io/metadata.name': NAMESPACES[i]! } }])));

export const cluster: fc.Arbitrary<PolicyCluster> = fc.record({
  pods: fc.uniqueArray(pod, { maxLength: 7, selector: (p) => `${p.namespace}/${p.name}` }),
  namespaces: namespace,
  policies: fc.uniqueArray(policy, { minLength: 1, maxLength: 6, selector: (p) => `${p.namespace}/${p.name}` }),
  localNode: fc.constant({ name: 'node1', addresses: [NODE_ADDRESS] }),
});

/** Flows between the cluster's pods (mostly) and a few bare addresses. */
export function trafficFor(c: PolicyCluster): fc.Arbitrary<Traffic> {
  const podIps = [...new Set(c.pods.flatMap((p) => p.ips))];
  const end =
    podIps.length === 0 ? fc.constantFrom(...BARE_IPS) : fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...podIps) }, { weight: 1, arbitrary: fc.constantFrom(...BARE_IPS) });
  return fc.record({ from: end, to: end, protocol: fc.constantFrom('TCP' as const, 'UDP' as const), port: fc.constantFrom(...PORTS) });
}
