// The NetworkPolicy decoder, field by field: what decodes, what is reported (object, field,
// what to do), and that a policy with bad fields never allows more than it says.
import t, { type Test } from 'tap';
import { decodeNetworkPolicy } from '../../src/model/policy-decode.js';
import type { NetworkPolicyRow } from '../../src/model/policy-objects.js';
import type { Problem } from '../../src/model/problems.js';

const ALL = { matchLabels: {}, matchExpressions: [] };

function decode(spec: unknown, meta: Record<string, unknown> = { namespace: 'ns', name: 'p' }): { row: NetworkPolicyRow | undefined; problems: Problem[] } {
  const problems: Problem[] = [];
  const row = decodeNetworkPolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta, spec } as never, problems);
  return { row, problems };
}

const fields = (problems: Problem[]): string[] => problems.map((p) => p.field);

t.test('a full policy decodes to its row', async (t) => {
  const { row, problems } = decode({
    podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        from: [
          { podSelector: { matchLabels: { role: 'client' } } },
          { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, podSelector: {} },
          { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
        ],
        ports: [{ port: 80 }, { protocol: 'UDP', port: 'dns' }, { protocol: 'TCP', port: 8000, endPort: 8080 }, { protocol: 'SCTP' }],
      },
    ],
    egress: [{ to: [{ ipBlock: { cidr: 'fd00::/64', except: [] } }] }, {}],
  });
  t.same(problems, []);
  t.same(row, {
    namespace: 'ns',
    name: 'p',
    podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        peers: [
          { podSelector: { matchLabels: { role: 'client' }, matchExpressions: [] } },
          { podSelector: ALL, namespaceSelector: { matchLabels: {}, matchExpressions: [{ key: 'team', operator: 'Exists', values: [] }] } },
          { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
        ],
        ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'UDP', port: 'dns' }, { protocol: 'TCP', port: 8000, endPort: 8080 }, { protocol: 'SCTP' }],
      },
    ],
    egress: [
      { peers: [{ ipBlock: { cidr: 'fd00::/64', except: [] } }], ports: [] },
      { peers: [], ports: [] },
    ],
  });
});

t.test('policyTypes are inferred when absent or empty: Ingress, and Egress with egress rules', async (t) => {
  t.same(decode({ podSelector: {} }).row!.policyTypes, ['Ingress']);
  t.same(decode({ podSelector: {}, policyTypes: [] }).row!.policyTypes, ['Ingress']);
  t.same(decode({ podSelector: {}, egress: [{}] }).row!.policyTypes, ['Ingress', 'Egress']);
  t.same(decode({ podSelector: {}, egress: [] }).row!.policyTypes, ['Ingress'], 'an empty egress list is no egress rule');
  t.same(decode({ podSelector: {}, policyTypes: ['Egress'] }).row!.policyTypes, ['Egress']);
  const { row, problems } = decode(undefined);
  t.same(row, { namespace: 'ns', name: 'p', podSelector: ALL, policyTypes: ['Ingress'], ingress: [], egress: [] }, 'an absent spec is empty: deny ingress to all pods');
  t.same(problems, []);
  t.same(decode({}).row!.podSelector, ALL, 'an absent podSelector selects every pod, as the API server decodes it');
});

t.test('bad policyTypes, podSelector or spec: every pod of the namespace isolated, nothing allowed', async (t) => {
  for (const policyTypes of [['Ingress', 'Ingress'], ['ingress'], 'Ingress', ['Ingress', 'Egress', 'Egress']]) {
    const { row, problems } = decode({ podSelector: { matchLabels: { app: 'x' } }, policyTypes, ingress: [{}] });
    t.same(row, { namespace: 'ns', name: 'p', podSelector: ALL, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] }, JSON.stringify(policyTypes));
    t.same(fields(problems), ['spec.policyTypes', 'spec.policyTypes']);
    t.match(problems[1]!.message, /isolates every pod of namespace ns for Ingress and Egress and allows nothing/);
  }
  const bad = decode({ podSelector: { matchExpressions: [{ key: 'app', operator: 'Is', values: ['x'] }] }, policyTypes: ['Egress'], egress: [{}] });
  t.same(bad.row, { namespace: 'ns', name: 'p', podSelector: ALL, policyTypes: ['Egress'], ingress: [], egress: [] }, 'policyTypes kept when they could be read; rules dropped');
  t.same(fields(bad.problems), ['spec.podSelector.matchExpressions[0].operator', 'spec.podSelector']);
  t.equal(bad.problems[0]!.object, 'NetworkPolicy ns/p');
  t.match(bad.problems[0]!.message, /"Is"; use In, NotIn, Exists or DoesNotExist/);
  const notObject = decode('nope');
  t.same(notObject.row!.policyTypes, ['Ingress', 'Egress']);
  t.same(fields(notObject.problems), ['spec']);
});

t.test('a policy without a usable name is reported and not decoded', async (t) => {
  const { row, problems } = decode({}, { namespace: 'ns' });
  t.equal(row, undefined);
  t.same(fields(problems), ['metadata.name']);
  t.equal(decode({}, { name: 'q' }).row!.namespace, 'default');
});

/** One ingress rule with `rule`, next to a good one: the bad one is left out and reported at `field`. */
function badRule(t: Test, rule: unknown, field: string, message: RegExp): void {
  const { row, problems } = decode({ podSelector: {}, ingress: [{ ports: [{ port: 1 }] }, rule] });
  t.same(row!.ingress, [{ peers: [], ports: [{ protocol: 'TCP', port: 1 }] }], `${field}: the bad rule is left out, the good one stays`);
  t.same(row!.policyTypes, ['Ingress']);
  t.equal(problems[0]!.field, field);
  t.match(problems[0]!.message, message);
  t.same(problems.at(-1), { object: 'NetworkPolicy ns/p', field: 'spec.ingress[1]', message: problems.at(-1)!.message });
  t.match(problems.at(-1)!.message, /this rule allows nothing \(the policy still isolates/);
}

t.test('selectors: operators, values and keys as the API server checks them', async (t) => {
  const rule = (selector: unknown): unknown => ({ from: [{ podSelector: selector }] });
  badRule(t, rule({ matchExpressions: [{ key: 'a', operator: 'Like', values: ['x'] }] }), 'spec.ingress[1].from[0].podSelector.matchExpressions[0].operator', /use In, NotIn/);
  badRule(
    t,
    rule({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }),
    'spec.ingress[1].from[0].podSelector.matchExpressions[0].values',
    /In needs at least one value/,
  );
  badRule(t, rule({ matchExpressions: [{ key: 'a', operator: 'NotIn' }] }), 'spec.ingress[1].from[0].podSelector.matchExpressions[0].values', /NotIn needs at least one value/);
  badRule(t, rule({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), 'spec.ingress[1].from[0].podSelector.matchExpressions[0].values', /takes no values/);
  badRule(t, rule({ matchExpressions: [{ key: 'a', operator: 'In', values: [1] }] }), 'spec.ingress[1].from[0].podSelector.matchExpressions[0].values', /list of strings/);
  badRule(t, rule({ matchExpressions: [{ key: 'a', operator: 'In', values: ['no spaces'] }] }), 'spec.ingress[1].from[0].podSelector.matchExpressions[0].values[0]', /at most 63/);
  badRule(
    t,
    rule({ matchExpressions: [{ key: 'Bad_Prefix/a', operator: 'Exists' }] }),
    'spec.ingress[1].from[0].podSelector.matchExpressions[0].key',
    /prefix must be a DNS subdomain/,
  );
  badRule(t, rule({ matchExpressions: [{ operator: 'Exists' }] }), 'spec.ingress[1].from[0].podSelector.matchExpressions[0].key', /expected a label key/);
  badRule(t, rule({ matchExpressions: ['x'] }), 'spec.ingress[1].from[0].podSelector.matchExpressions[0]', /expected \{key, operator, values\}/);
  badRule(t, rule({ matchExpressions: {} }), 'spec.ingress[1].from[0].podSelector.matchExpressions', /expected a list/);
  badRule(t, rule({ matchLabels: { app: 7 } }), 'spec.ingress[1].from[0].podSelector.matchLabels.app', /a label value is a string/);
  badRule(t, rule({ matchLabels: { app: '-x' } }), 'spec.ingress[1].from[0].podSelector.matchLabels.app', /starting and ending with a letter or digit/);
  badRule(t, rule({ matchLabels: { '': 'x' } }), 'spec.ingress[1].from[0].podSelector.matchLabels.', /not a valid label key/);
  badRule(t, rule({ matchLabels: ['app'] }), 'spec.ingress[1].from[0].podSelector.matchLabels', /a map of label keys/);
  badRule(t, rule('app=web'), 'spec.ingress[1].from[0].podSelector', /expected a label selector/);
  badRule(t, { from: [{ namespaceSelector: { matchLabels: { 'a/b/c': 'x' } } }] }, 'spec.ingress[1].from[0].namespaceSelector.matchLabels.a/b/c', /prefix must be a DNS subdomain/);
  const { row } = decode({
    podSelector: {},
    ingress: [rule({ matchLabels: { 'example.com/app': 'x', v: '' }, matchExpressions: [{ key: 'k', operator: 'DoesNotExist', values: null }] })],
  });
  t.same(row!.ingress[0]!.peers[0]!.podSelector, { matchLabels: { 'example.com/app': 'x', v: '' }, matchExpressions: [{ key: 'k', operator: 'DoesNotExist', values: [] }] });
});

t.test('peers: exactly one of ipBlock or selectors', async (t) => {
  badRule(t, { from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }, 'spec.ingress[1].from[0]', /either an ipBlock or selectors/);
  badRule(t, { from: [{}] }, 'spec.ingress[1].from[0]', /names no peer/);
  badRule(t, { from: ['x'] }, 'spec.ingress[1].from[0]', /expected \{podSelector/);
  badRule(t, { from: 'everyone' }, 'spec.ingress[1].from', /expected a list/);
  badRule(t, { to: [{}], from: [{ podSelector: {} }, { ipBlock: null, podSelector: null }] }, 'spec.ingress[1].from[1]', /names no peer/);
  const egress = decode({ podSelector: {}, egress: [{ to: [{}] }] });
  t.same(egress.row!.egress, [], 'egress rules are checked the same way');
  t.same(egress.row!.policyTypes, ['Ingress', 'Egress'], 'a dropped egress rule still makes the policy isolate egress');
  t.same(fields(egress.problems), ['spec.egress[0].to[0]', 'spec.egress[0]']);
});

t.test('ipBlock: CIDRs parsed and canonical, host bits cleared and reported, except inside cidr', async (t) => {
  const block = (ipBlock: unknown): unknown => ({ from: [{ ipBlock }] });
  const one = (ipBlock: unknown) => decode({ podSelector: {}, ingress: [block(ipBlock)] });
  t.same(
    one({ cidr: 'fd00:0:0::0/64', except: ['fd00:0:0:0:8000:0::/65'] }).row!.ingress[0]!.peers,
    [{ ipBlock: { cidr: 'fd00::/64', except: ['fd00::8000:0:0:0/65'] } }],
    'canonical text (RFC 5952: the first longest zero run is shortened)',
  );
  const host = one({ cidr: '10.0.0.1/8', except: ['10.1.2.3/16'] });
  t.same(host.row!.ingress[0]!.peers, [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], 'host bits cleared, the rule kept, as the API server reads it');
  t.same(fields(host.problems), ['spec.ingress[0].from[0].ipBlock.cidr', 'spec.ingress[0].from[0].ipBlock.except[0]']);
  t.match(host.problems[0]!.message, /"10.0.0.1\/8", with host bits set; it is read as 10.0.0.0\/8.*write 10.0.0.0\/8/);
  badRule(t, block({ cidr: '10.0.0.0' }), 'spec.ingress[1].from[0].ipBlock.cidr', /not a CIDR prefix/);
  badRule(t, block({ cidr: '10.0.0.0/33' }), 'spec.ingress[1].from[0].ipBlock.cidr', /not a CIDR prefix/);
  badRule(t, block({ cidr: 'ten/8' }), 'spec.ingress[1].from[0].ipBlock.cidr', /not a CIDR prefix/);
  badRule(t, block({}), 'spec.ingress[1].from[0].ipBlock.cidr', /is missing; expected a CIDR/);
  badRule(t, block('10.0.0.0/8'), 'spec.ingress[1].from[0].ipBlock', /expected \{cidr, except\}/);
  badRule(t, block({ cidr: '10.0.0.0/8', except: '10.1.0.0/16' }), 'spec.ingress[1].from[0].ipBlock.except', /list of CIDRs/);
  badRule(t, block({ cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }), 'spec.ingress[1].from[0].ipBlock.except[0]', /not strictly inside cidr 10.0.0.0\/8/);
  badRule(t, block({ cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] }), 'spec.ingress[1].from[0].ipBlock.except[0]', /not strictly inside/);
  badRule(t, block({ cidr: '10.0.0.0/8', except: ['::/128'] }), 'spec.ingress[1].from[0].ipBlock.except[0]', /not strictly inside/);
  badRule(t, block({ cidr: '0.0.0.0/0', except: ['10.0.0.0/8', 'bad'] }), 'spec.ingress[1].from[0].ipBlock.except[1]', /not a CIDR prefix/);
});

t.test('ports: numbers, names, endPort ranges and protocols as the API server checks them', async (t) => {
  const ports = (...p: unknown[]): unknown => ({ ports: p });
  const first = 'spec.ingress[1].ports[0]';
  badRule(t, ports({ port: 0 }), `${first}.port`, /integer from 1 to 65535/);
  badRule(t, ports({ port: 65536 }), `${first}.port`, /integer from 1 to 65535/);
  badRule(t, ports({ port: 1.5 }), `${first}.port`, /integer from 1 to 65535/);
  badRule(t, ports({ port: '80' }), `${first}.port`, /a number in quotes is a name, not a port: write 80 without quotes/);
  badRule(t, ports({ port: 'HTTP' }), `${first}.port`, /only lowercase letters/);
  badRule(t, ports({ port: 'a-very-long-port-name' }), `${first}.port`, /1 to 15 characters/);
  badRule(t, ports({ port: 'web--x' }), `${first}.port`, /"--"/);
  badRule(t, ports({ port: 8080, endPort: 8000 }), `${first}.endPort`, /ends before its port 8080/);
  badRule(t, ports({ port: 'http', endPort: 8000 }), `${first}.endPort`, /cannot follow a named port/);
  badRule(t, ports({ endPort: 8000 }), `${first}.endPort`, /needs a port/);
  badRule(t, ports({ port: 80, endPort: 70000 }), `${first}.endPort`, /integer from 1 to 65535/);
  badRule(t, ports({ protocol: 'ICMP' }), `${first}.protocol`, /"ICMP"; use TCP, UDP or SCTP/);
  badRule(t, ports({ protocol: 'tcp', port: 80 }), `${first}.protocol`, /use TCP, UDP or SCTP/);
  badRule(t, ports(80), `${first}`, /expected \{protocol, port, endPort\}/);
  badRule(t, { ports: { port: 80 } }, 'spec.ingress[1].ports', /expected a list/);
  badRule(t, ports({ port: 80 }, { port: -1 }), 'spec.ingress[1].ports[1].port', /integer from 1/);
  const { row } = decode({ podSelector: {}, ingress: [ports({ port: 80, endPort: 80 }, { protocol: 'UDP', port: null, endPort: null })] });
  t.same(row!.ingress[0]!.ports, [{ protocol: 'TCP', port: 80, endPort: 80 }, { protocol: 'UDP' }], 'endPort equal to port is a range of one; null fields are absent');
});

t.test('rule lists that are no lists, and rules that are no objects', async (t) => {
  const { row, problems } = decode({ podSelector: {}, ingress: { from: [] }, egress: ['x'], policyTypes: ['Ingress', 'Egress'] });
  t.same([row!.ingress, row!.egress], [[], []]);
  t.same(fields(problems), ['spec.ingress', 'spec.egress[0]']);
});
