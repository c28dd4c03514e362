// The upstream netpol e2e method (test/e2e/network/netpol): pods a, b, c in namespaces x, y, z,
// each serving 80 and 81 over TCP and UDP with named ports serve-80-tcp and so on; a scenario
// writes its expected reachability as the e2e does (everything allowed, then cells set by
// statements about namespaces and pods, loopback always allowed), and every pod pair × port is
// probed. probe() answers each cell by the reference AND the compiled lookup.
import t, { type Test } from 'tap';
import type { NetworkPolicyRow } from '../../../src/model/policy-objects.js';
import type { TrafficProtocol } from '../../../src/model/policy/reference-evaluator.js';
import { EVERYTHING } from '../../../src/model/policy/label-selector.js';
import { clusterOf, labels, pod, policy, probe, rule } from './policy-fixture.js';

const NS = ['x', 'y', 'z'];
const NAMES = ['a', 'b', 'c'];
const PODS = NS.flatMap((ns, i) =>
  NAMES.map((n, j) =>
    pod(
      ns,
      n,
      `10.0.${i}.${j + 1}`,
      { pod: n },
      [80, 81].flatMap((port) => (['TCP', 'UDP'] as const).map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol }))),
    ),
  ),
);
const ALL = PODS.map((p) => `${p.namespace}/${p.name}`);
type Cell = (from: string, to: string) => boolean;
const ns = (id: string): string => id.split('/')[0]!;
const name = (id: string): string => id.split('/')[1]!;

function table(t: Test, policies: NetworkPolicyRow[], expected: Record<string, Cell>): void {
  const c = clusterOf(policies, PODS);
  for (const [probeName, cell] of Object.entries(expected)) {
    const [port, protocol] = probeName.split('/') as [string, TrafficProtocol];
    const wrong: string[] = [];
    for (const from of ALL)
      for (const to of ALL) {
        const want = from === to || cell(from, to);
        if (probe(c, from, to, Number(port), protocol).allowed !== want) wrong.push(`${from}→${to} want ${want}`);
      }
    t.same(wrong, [], `${probeName}: every cell as expected`);
  }
}

t.test('e2e: no policy — everything reachable', async (t) => table(t, [], { '80/TCP': () => true, '81/UDP': () => true }));

t.test('e2e: should support a default-deny-ingress policy', async (t) =>
  table(t, [policy('x', 'deny-ingress', {})], { '80/TCP': (_f, to) => ns(to) !== 'x', '81/UDP': (_f, to) => ns(to) !== 'x' }),
);

t.test('e2e: should support a default-deny-all policy (ingress and egress)', async (t) =>
  table(t, [policy('x', 'deny-all', { types: ['Ingress', 'Egress'] })], { '80/TCP': (f, to) => ns(f) !== 'x' && ns(to) !== 'x' }),
);

t.test('e2e: should enforce egress policy allowing traffic to a server in a different namespace based on namespaceSelector', async (t) =>
  table(t, [policy('x', 'allow-to-y', { podSelector: labels({ pod: 'a' }), types: ['Egress'], egress: [rule([{ namespaceSelector: labels({ ns: 'y' }) }])] })], {
    '80/TCP': (f, to) => f !== 'x/a' || ns(to) === 'y',
  }),
);

t.test('e2e: should enforce policy to allow traffic from pods within server namespace based on podSelector', async (t) =>
  table(t, [policy('x', 'allow-b', { podSelector: labels({ pod: 'a' }), ingress: [rule([{ podSelector: labels({ pod: 'b' }) }])] })], {
    '80/TCP': (f, to) => to !== 'x/a' || f === 'x/b',
  }),
);

t.test('e2e: should enforce policy based on PodSelector AND NamespaceSelector in one peer, and OR as two peers', async (t) => {
  table(
    t,
    [
      policy('x', 'and', {
        podSelector: labels({ pod: 'a' }),
        ingress: [rule([{ namespaceSelector: { matchLabels: {}, matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] }, podSelector: labels({ pod: 'b' }) }])],
      }),
    ],
    {
      '80/TCP': (f, to) => to !== 'x/a' || (ns(f) !== 'x' && name(f) === 'b'),
    },
  );
  table(
    t,
    [
      policy('x', 'or', {
        podSelector: labels({ pod: 'a' }),
        ingress: [rule([{ namespaceSelector: { matchLabels: {}, matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] } }, { podSelector: labels({ pod: 'b' }) }])],
      }),
    ],
    {
      '80/TCP': (f, to) => to !== 'x/a' || ns(f) !== 'x' || f === 'x/b',
    },
  );
});

t.test('e2e: should enforce policy based on Ports and named ports (serve-81-tcp)', async (t) => {
  const ingress = [rule([{ namespaceSelector: EVERYTHING }], [{ protocol: 'TCP', port: 'serve-81-tcp' }])];
  table(t, [policy('x', 'named', { podSelector: labels({ pod: 'a' }), ingress })], {
    '80/TCP': (_f, to) => to !== 'x/a',
    '81/TCP': () => true,
    '81/UDP': (_f, to) => to !== 'x/a',
  });
});

t.test('e2e: should enforce policy based on endPort and protocol-only ports', async (t) => {
  const ingress = [rule([], [{ protocol: 'TCP', port: 80, endPort: 81 }, { protocol: 'UDP' }])];
  table(t, [policy('x', 'range', { ingress })], { '80/TCP': () => true, '81/TCP': () => true, '82/TCP': (_f, to) => ns(to) !== 'x', '81/UDP': () => true });
});

t.test('e2e: should allow egress access to server in CIDR block, and deny it in an except hole', async (t) =>
  table(t, [policy('x', 'cidr', { podSelector: labels({ pod: 'a' }), types: ['Egress'], egress: [rule([{ ipBlock: { cidr: '10.0.1.0/24', except: ['10.0.1.2/32'] } }])] })], {
    '80/TCP': (f, to) => f !== 'x/a' || (ns(to) === 'y' && to !== 'y/b'),
  }),
);

t.test('e2e: should allow ingress access from updated namespace / a second policy that allows all wins', async (t) =>
  table(t, [policy('x', 'deny', {}), policy('x', 'allow-all', { podSelector: labels({ pod: 'c' }), ingress: [rule()] })], { '80/TCP': (_f, to) => ns(to) !== 'x' || to === 'x/c' }),
);

t.test('e2e: egress denied on the client even when the server allows', async (t) =>
  table(t, [policy('y', 'deny-egress', { types: ['Egress'] }), policy('x', 'allow-all', { ingress: [rule()] })], { '80/TCP': (f) => ns(f) !== 'y' }),
);

t.test('policyTypes inferred from an egress section (Ingress and Egress) also isolate ingress', async (t) =>
  table(t, [policy('x', 'inferred', { podSelector: labels({ pod: 'a' }), egress: [rule([{ namespaceSelector: labels({ ns: 'y' }) }])] })], {
    '80/TCP': (f, to) => to !== 'x/a' && (f !== 'x/a' || ns(to) === 'y'),
  }),
);
