// One test per rule of the NetworkPolicy v1 API documentation (networking.k8s.io/v1
// NetworkPolicySpec, NetworkPolicyPeer, NetworkPolicyPort, IPBlock), each answered by the
// reference evaluator and the compiled lookup (probe() checks they agree).
import t from 'tap';
import { ClusterIndex } from '../../../src/model/policy/policy-cluster.js';
import { checkTraffic } from '../../../src/model/policy/reference-evaluator.js';
import { EVERYTHING } from '../../../src/model/policy/label-selector.js';
import { allowed, clusterOf, IP, labels, NODE_IP, pod, PODS, policy, probe, rule } from './policy-fixture.js';

t.test('NetworkPolicySpec: a pod no policy selects is not isolated; everything is allowed both ways', async (t) => {
  const c = clusterOf([]);
  t.ok(allowed(c, 'x/a', 'y/b'));
  t.ok(allowed(c, '8.8.8.8', 'x/a', 9999, 'UDP'));
  t.same(probe(c, 'x/a', 'x/b').ingress, { allowed: true, why: 'not-isolated', pod: 'x/b' });
});

t.test('policyTypes Ingress with no rules: default deny ingress for the selected pods only', async (t) => {
  const c = clusterOf([policy('x', 'deny', { podSelector: labels({ pod: 'a' }) })]);
  t.notOk(allowed(c, 'x/b', 'x/a'));
  t.notOk(allowed(c, '8.8.8.8', 'x/a'), 'bare addresses too');
  t.ok(allowed(c, 'x/a', 'x/b'), 'egress of the isolated pod is untouched');
  t.ok(allowed(c, 'x/a', 'y/a'), 'a pod of another namespace with the same labels is not selected');
  t.same(probe(c, 'x/b', 'x/a').ingress, { allowed: false, why: 'no-rule', pod: 'x/a', isolatedBy: ['x/deny'] });
});

t.test('policyTypes Egress with no rules: default deny egress, ingress untouched', async (t) => {
  const c = clusterOf([policy('x', 'deny', { types: ['Egress'] })]);
  t.notOk(allowed(c, 'x/a', 'y/a'));
  t.notOk(allowed(c, 'x/a', '8.8.8.8', 53, 'UDP'));
  t.ok(allowed(c, 'y/a', 'x/a'));
});

t.test('policyTypes lists what a policy applies to: rules of a direction it does not list have no effect', async (t) => {
  const c = clusterOf([
    policy('x', 'p', {
      podSelector: labels({ pod: 'a' }),
      types: ['Ingress'],
      ingress: [rule([{ podSelector: labels({ pod: 'b' }) }])],
      egress: [rule([{ podSelector: labels({ pod: 'b' }) }])],
    }),
  ]);
  t.ok(allowed(c, 'x/a', 'y/c'), 'egress rules without Egress in policyTypes do not isolate');
  t.ok(allowed(c, 'x/b', 'x/a'));
  t.notOk(allowed(c, 'x/c', 'x/a'));
});

t.test('policies are additive: allowed traffic is the union over all policies selecting the pod (an allow-all wins)', async (t) => {
  const narrow = policy('x', 'narrow', { ingress: [rule([{ podSelector: labels({ pod: 'b' }) }])] });
  const all = policy('x', 'all', { podSelector: labels({ pod: 'a' }), ingress: [rule()] });
  t.notOk(allowed(clusterOf([narrow]), 'y/a', 'x/a'));
  const c = clusterOf([narrow, all]);
  t.ok(allowed(c, 'y/a', 'x/a'));
  t.notOk(allowed(c, 'y/a', 'x/c'), 'the allow-all selects only x/a');
  t.same(probe(c, 'x/b', 'x/a').ingress, {
    allowed: true,
    why: 'rules',
    pod: 'x/a',
    rules: [
      { policy: 'x/narrow', direction: 'Ingress', rule: 0 },
      { policy: 'x/all', direction: 'Ingress', rule: 0 },
    ],
  });
});

t.test("NetworkPolicyPeer: podSelector alone selects pods in the policy's own namespace", async (t) => {
  const c = clusterOf([policy('x', 'p', { ingress: [rule([{ podSelector: labels({ pod: 'b' }) }])] })]);
  t.ok(allowed(c, 'x/b', 'x/a'));
  t.notOk(allowed(c, 'y/b', 'x/a'), 'same labels in another namespace');
  t.notOk(allowed(c, 'x/c', 'x/a'));
});

t.test('NetworkPolicyPeer: namespaceSelector alone selects all pods of the selected namespaces; kubernetes.io/metadata.name names one', async (t) => {
  const c = clusterOf([policy('x', 'p', { ingress: [rule([{ namespaceSelector: labels({ 'kubernetes.io/metadata.name': 'y' }) }])] })]);
  for (const from of ['y/a', 'y/b', 'y/c']) t.ok(allowed(c, from, 'x/a'), from);
  t.notOk(allowed(c, 'x/b', 'x/a'), "not even the policy's own namespace");
  t.notOk(allowed(c, 'z/a', 'x/a'));
  const any = clusterOf([policy('x', 'p', { ingress: [rule([{ namespaceSelector: EVERYTHING }])] })]);
  t.ok(allowed(any, 'z/a', 'x/a'), 'namespaceSelector {}: pods of every namespace');
  t.notOk(allowed(any, '10.9.9.9', 'x/a'), 'but no bare address');
});

t.test('NetworkPolicyPeer: a namespace without a row still has its name label', async (t) => {
  const c = {
    ...clusterOf([policy('x', 'p', { ingress: [rule([{ namespaceSelector: labels({ 'kubernetes.io/metadata.name': 'w' }) }])] })]),
    pods: [...PODS, pod('w', 'a', '10.0.3.1')],
  };
  t.ok(allowed(c, '10.0.3.1', 'x/a'));
});

t.test('NetworkPolicyPeer: podSelector and namespaceSelector in one peer are ANDed; as two peers they are ORed', async (t) => {
  const and = clusterOf([policy('x', 'p', { ingress: [rule([{ namespaceSelector: labels({ ns: 'y' }), podSelector: labels({ pod: 'b' }) }])] })]);
  t.ok(allowed(and, 'y/b', 'x/a'));
  t.notOk(allowed(and, 'y/a', 'x/a'));
  t.notOk(allowed(and, 'x/b', 'x/a'));
  const or = clusterOf([policy('x', 'p', { ingress: [rule([{ namespaceSelector: labels({ ns: 'y' }) }, { podSelector: labels({ pod: 'b' }) }])] })]);
  t.ok(allowed(or, 'y/a', 'x/a'));
  t.ok(allowed(or, 'x/b', 'x/a'));
  t.notOk(allowed(or, 'z/b', 'x/a'));
});

t.test('NetworkPolicyPeer: matchExpressions select peers (In, NotIn, Exists, DoesNotExist)', async (t) => {
  const c = clusterOf([
    policy('x', 'p', {
      ingress: [rule([{ namespaceSelector: EVERYTHING, podSelector: { matchLabels: {}, matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['a', 'b'] }] } }])],
    }),
  ]);
  t.ok(allowed(c, 'z/c', 'x/a'));
  t.notOk(allowed(c, 'z/b', 'x/a'));
});

t.test('NetworkPolicyIngressRule: an empty from allows every source, pods and bare addresses; empty ports allow every port and protocol', async (t) => {
  const c = clusterOf([policy('x', 'p', { ingress: [rule()] })]);
  t.ok(allowed(c, '8.8.8.8', 'x/a', 1, 'UDP'));
  t.ok(allowed(c, 'fd00::9', 'x/a'));
  t.ok(allowed(c, 'z/c', 'x/a', 65535));
});

t.test('a rule allows only when its ports AND its peers match', async (t) => {
  const c = clusterOf([policy('x', 'p', { ingress: [rule([{ podSelector: labels({ pod: 'b' }) }], [{ protocol: 'TCP', port: 80 }])] })]);
  t.ok(allowed(c, 'x/b', 'x/a', 80));
  t.notOk(allowed(c, 'x/b', 'x/a', 81), 'right peer, wrong port');
  t.notOk(allowed(c, 'x/c', 'x/a', 80), 'right port, wrong peer');
});

t.test('IPBlock: cidr minus except, matched against pod addresses too (e2e "egress access to server in CIDR block")', async (t) => {
  const c = clusterOf([
    policy('x', 'p', { podSelector: labels({ pod: 'a' }), types: ['Egress'], egress: [rule([{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] } }])] }),
  ]);
  t.ok(allowed(c, 'x/a', 'z/c'), 'a pod inside the block');
  t.ok(allowed(c, 'x/a', '10.0.200.1'), 'a bare address inside the block');
  t.notOk(allowed(c, 'x/a', 'y/a'), 'a pod in the except hole');
  t.notOk(allowed(c, 'x/a', '10.1.0.1'), 'outside the block');
});

t.test('IPBlock: an except hole hides only its own rule; another rule allowing the hole still allows it', async (t) => {
  const c = clusterOf([
    policy('x', 'p', {
      types: ['Egress'],
      egress: [
        rule([{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.1.0/24'] } }], [{ protocol: 'TCP', port: 80 }]),
        rule([{ ipBlock: { cidr: '10.0.1.0/25', except: [] } }], [{ protocol: 'TCP', port: 81 }]),
      ],
    }),
  ]);
  t.ok(allowed(c, 'x/a', 'y/a', 81), "the second rule allows 81 inside the first rule's hole");
  t.notOk(allowed(c, 'x/a', 'y/a', 80), 'the hole holds for 80');
  t.ok(allowed(c, 'x/a', 'z/a', 80));
  t.notOk(allowed(c, 'x/a', 'z/a', 81));
  t.notOk(allowed(c, 'x/a', '10.0.1.200', 81), 'outside the /25, inside the hole');
});

t.test('IPBlock: a prefix holds addresses of its own family only', async (t) => {
  const c = clusterOf([policy('x', 'p', { types: ['Egress'], egress: [rule([{ ipBlock: { cidr: '::/0', except: [] } }])] })]);
  t.ok(allowed(c, 'x/a', '2001:db8::1'));
  t.notOk(allowed(c, 'x/a', '8.8.8.8'), '::/0 is not every IPv4 address');
  t.notOk(allowed(c, 'x/a', 'y/a'));
});

t.test('NetworkPolicyPort: by number; protocol only (every port of the protocol); endPort ranges are inclusive', async (t) => {
  const c = clusterOf([policy('x', 'p', { ingress: [rule([], [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP' }, { protocol: 'UDP', port: 1000, endPort: 1003 }])] })]);
  t.ok(allowed(c, 'y/a', 'x/a', 53, 'UDP'));
  t.notOk(allowed(c, 'y/a', 'x/a', 54, 'UDP'));
  t.ok(allowed(c, 'y/a', 'x/a', 1, 'TCP'));
  t.ok(allowed(c, 'y/a', 'x/a', 65535, 'TCP'));
  for (const p of [1000, 1001, 1002, 1003]) t.ok(allowed(c, 'y/a', 'x/a', p, 'UDP'), `UDP/${p}`);
  t.notOk(allowed(c, 'y/a', 'x/a', 999, 'UDP'));
  t.notOk(allowed(c, 'y/a', 'x/a', 1004, 'UDP'));
});

t.test("NetworkPolicyPort: a named port resolves against the destination pod's container ports (ingress)", async (t) => {
  const pods = [...PODS.filter((p) => p.namespace !== 'x' || p.name !== 'a'), pod('x', 'a', '10.0.0.1', { pod: 'a' }, [{ name: 'http', port: 8080, protocol: 'TCP' }])];
  const c = clusterOf([policy('x', 'p', { ingress: [rule([], [{ protocol: 'TCP', port: 'http' }])] })], pods);
  t.ok(allowed(c, 'y/a', 'x/a', 8080));
  t.notOk(allowed(c, 'y/a', 'x/a', 80));
  t.notOk(allowed(c, 'y/a', 'x/a', 8080, 'UDP'), "the container port's protocol must be the rule's");
  t.notOk(allowed(c, 'y/a', 'x/b', 8080), 'x/b has no port named http');
});

t.test('NetworkPolicyPort: an egress named port resolves against the destination pod, never against the source; a bare address matches none', async (t) => {
  const pods = [
    ...PODS.filter((p) => p.namespace !== 'x'),
    pod('x', 'a', '10.0.0.1', { pod: 'a' }, [{ name: 'http', port: 9090, protocol: 'TCP' }]),
    pod('x', 'b', '10.0.0.2', { pod: 'b' }, [{ name: 'http', port: 8080, protocol: 'TCP' }]),
  ];
  const c = clusterOf([policy('x', 'p', { podSelector: labels({ pod: 'a' }), types: ['Egress'], egress: [rule([], [{ protocol: 'TCP', port: 'http' }])] })], pods);
  t.ok(allowed(c, 'x/a', 'x/b', 8080));
  t.notOk(allowed(c, 'x/a', 'x/b', 9090), "the source's own http port does not count");
  t.notOk(allowed(c, 'x/a', '8.8.8.8', 8080));
  const block = clusterOf(
    [
      policy('x', 'p', {
        podSelector: labels({ pod: 'a' }),
        types: ['Egress'],
        egress: [rule([{ ipBlock: { cidr: '10.0.0.0/30', except: [] } }], [{ protocol: 'TCP', port: 'http' }])],
      }),
    ],
    pods,
  );
  t.ok(allowed(block, 'x/a', 'x/b', 8080), 'ipBlock + named port: per pod in the block');
  t.notOk(allowed(block, 'x/a', '10.0.0.3', 8080));
});

t.test('SCTP ports match no flow here, but an SCTP-only policy still isolates the pods it selects', async (t) => {
  const c = clusterOf([policy('x', 'p', { ingress: [rule([], [{ protocol: 'SCTP', port: 80 }])] })]);
  t.notOk(allowed(c, 'y/a', 'x/a', 80));
  t.notOk(allowed(c, 'y/a', 'x/a', 80, 'UDP'));
});

t.test("a flow needs the source's egress AND the destination's ingress: egress denied on the client even when the server allows", async (t) => {
  const c = clusterOf([
    policy('x', 'open', { podSelector: labels({ pod: 'b' }), ingress: [rule()] }),
    policy('x', 'closed', { podSelector: labels({ pod: 'a' }), types: ['Egress'] }),
  ]);
  const v = probe(c, 'x/a', 'x/b');
  t.notOk(v.allowed);
  t.equal(v.ingress.allowed, true);
  t.equal(v.egress.allowed, false);
});

t.test("traffic from the pod's own node is always allowed in; from another node it is not", async (t) => {
  const c = clusterOf([policy('x', 'deny', {})]);
  t.same(probe(c, NODE_IP, 'x/a').ingress, { allowed: true, why: 'own-node', pod: 'x/a' });
  t.notOk(allowed(c, '192.168.0.2', 'x/a'));
  const remote = clusterOf([policy('x', 'deny', {})], [...PODS.filter((p) => p.namespace !== 'x' || p.name !== 'a'), pod('x', 'a', '10.0.0.1', { pod: 'a' }, [], 'node2')]);
  t.notOk(allowed(remote, NODE_IP, 'x/a'), 'a pod on another node');
});

t.test('check explains: not a pod, not isolated; a bad address is an error that says what to give', async (t) => {
  const index = new ClusterIndex(clusterOf([]));
  t.same(checkTraffic(index, { from: '8.8.8.8', to: '1.1.1.1', protocol: 'TCP', port: 1 }).egress, { allowed: true, why: 'not-a-pod' });
  t.throws(() => checkTraffic(index, { from: 'x/a', to: '1.1.1.1', protocol: 'TCP', port: 1 }), /two IP addresses/);
  t.equal(index.addressOf('x/b'), IP['x/b']);
  t.equal(index.addressOf('::ffff:10.0.0.9'), '10.0.0.9');
  t.throws(() => index.addressOf('x/nope'), /no pod "x\/nope"/);
  t.throws(() => new ClusterIndex({ ...clusterOf([]), pods: [{ ...pod('x', 'a', '10.0.0.1'), ips: [] }] }).addressOf('x/a'), /no address yet/);
});

t.test('an address two pods claim belongs to the first by namespace/name; a node address to no pod', async (t) => {
  const pods = [pod('y', 'dup', '10.0.0.1', { pod: 'dup' }), ...PODS, pod('x', 'host', NODE_IP, { pod: 'host' })];
  const c = clusterOf([policy('x', 'deny', { podSelector: labels({ pod: 'a' }) })], pods);
  const index = new ClusterIndex(c);
  t.equal(index.podsByIp.get('10.0.0.1')?.name, 'a');
  t.same(index.addressConflicts, [{ ip: '10.0.0.1', pod: 'y/dup', owner: 'x/a' }]);
  t.notOk(index.podsByIp.has(NODE_IP));
  t.notOk(allowed(c, 'y/b', '10.0.0.1'));
});
