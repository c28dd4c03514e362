import fc from 'fast-check';
import t from 'tap';
import { parseCidr } from '../../../src/net/cidr.js';
import { cidrContains } from '../../../src/net/cidr.js';
import { cidrRegions, prefixContains } from '../../../src/model/policy/cidr-regions.js';
import { IdentityAllocator } from '../../../src/model/policy/identity-allocator.js';
import { LpmTable } from '../../../src/model/policy/lpm-table.js';
import { PolicyCompiler } from '../../../src/model/policy/policy-compiler.js';
import { ClusterIndex } from '../../../src/model/policy/policy-cluster.js';
import * as K from '../../../src/model/policy/policy-keys.js';
import { describeSelector, summarisePods } from '../../../src/model/policy/policy-summary.js';
import { normalisePorts, portBlocks, resolvePorts } from '../../../src/model/policy/port-set.js';
import { ipToBytes } from '../../../src/net/ip-address.js';
import { clusterOf, IP, labels, pod, PODS, policy, rule } from './policy-fixture.js';

t.test('LPM table: the longest matching prefix answers; bits past a prefix are ignored; a wrong size is refused', async (t) => {
  const lpm = new LpmTable<string>(2);
  lpm.set(Uint8Array.of(0x12, 0xff), 8, 'short');
  lpm.set(Uint8Array.of(0x12, 0x30), 12, 'long');
  t.equal(lpm.lookup(Uint8Array.of(0x12, 0x3f)), 'long');
  t.equal(lpm.lookup(Uint8Array.of(0x12, 0x40)), 'short');
  t.equal(lpm.lookup(Uint8Array.of(0x13, 0x30)), undefined);
  t.equal(lpm.size, 2);
  t.same(
    [...lpm.entries()].map((e) => [[...e.key], e.prefixLen, e.value]),
    [
      [[0x12, 0x30], 12, 'long'],
      [[0x12, 0], 8, 'short'],
    ],
  );
  t.throws(() => lpm.set(Uint8Array.of(1), 8, 'x'), /does not fit a 2-byte key/);
  t.throws(() => lpm.set(Uint8Array.of(1, 2), 17, 'x'), /does not fit/);
});

t.test('port blocks cover a range exactly with aligned power-of-two blocks', async (t) => {
  t.same(portBlocks(80, 80), [{ start: 80, bits: 16 }]);
  t.same(portBlocks(0, 65535), [{ start: 0, bits: 0 }]);
  t.same(portBlocks(1000, 1003), [{ start: 1000, bits: 14 }]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const blocks = portBlocks(lo, hi);
      let next = lo;
      for (const blk of blocks) {
        const size = 2 ** (16 - blk.bits);
        if (blk.start !== next || blk.start % size !== 0) return false;
        next += size;
      }
      return next === hi + 1 && blocks.length <= 30;
    }),
  );
});

t.test('ports resolve and normalise: SCTP left out, named ports per destination, ranges merged', async (t) => {
  t.same(resolvePorts([{ protocol: 'SCTP', port: 80 }], undefined), []);
  t.same(resolvePorts([{ protocol: 'TCP', port: 'http' }], undefined), [], 'no destination pod: a named port matches nothing');
  t.same(
    resolvePorts(
      [
        { protocol: 'TCP', port: 'http' },
        { protocol: 'TCP', port: 81 },
      ],
      [{ name: 'http', port: 8080, protocol: 'TCP' }],
      'named',
    ),
    [{ protocol: 6, lo: 8080, hi: 8080 }],
  );
  t.same(resolvePorts([{ protocol: 'UDP', port: 90, endPort: 80 }], undefined), [], 'endPort below port: nothing');
  t.same(
    normalisePorts([
      { protocol: 6, lo: 10, hi: 20 },
      { protocol: 6, lo: 21, hi: 30 },
      { protocol: 17, lo: 1, hi: 1 },
      { protocol: 6, lo: 5, hi: 12 },
    ]),
    [
      { protocol: 6, lo: 5, hi: 30 },
      { protocol: 17, lo: 1, hi: 1 },
    ],
  );
  t.same(
    normalisePorts([
      { protocol: 6, lo: 1, hi: 1 },
      { protocol: 0, lo: 0, hi: 65535 },
    ]),
    [{ protocol: 0, lo: 0, hi: 65535 }],
  );
});

t.test('CIDR regions: longest-prefix answer == union of rules holding the address, for random nested rules', async (t) => {
  const prefixes = ['10.0.0.0/8', '10.0.0.0/16', '10.0.1.0/24', '10.0.1.128/25', '10.0.1.192/26', '10.0.1.200/32', '0.0.0.0/0', '11.0.0.0/8'];
  const addresses = ['10.0.0.1', '10.0.1.1', '10.0.1.130', '10.0.1.200', '10.0.1.201', '10.2.0.1', '11.1.1.1', '12.0.0.1'];
  const ruleArb = fc.record({ cidr: fc.constantFrom(...prefixes), except: fc.subarray(prefixes, { maxLength: 3 }), value: fc.integer({ min: 0, max: 7 }) });
  fc.assert(
    fc.property(fc.array(ruleArb, { maxLength: 6 }), (rules) => {
      const parsed = rules.map((r) => ({ cidr: parseCidr(r.cidr), excepts: r.except.map(parseCidr), value: r.value }));
      const lpm = new LpmTable<number[]>(16);
      for (const region of cidrRegions(parsed)) lpm.set(region.prefix.bytes, region.prefix.bits, region.values);
      return addresses.every((a) => {
        const want = parsed
          .filter((r) => cidrContains(r.cidr, a) && !r.excepts.some((e) => cidrContains(e, a)))
          .map((r) => r.value)
          .sort();
        const got = [...(lpm.lookup(ipToBytes(a)) ?? [])].sort();
        return JSON.stringify(got) === JSON.stringify(want);
      });
    }),
    { numRuns: 3000 },
  );
  t.ok(prefixContains(parseCidr('10.0.0.0/8'), parseCidr('10.1.0.0/16')));
  t.notOk(prefixContains(parseCidr('10.1.0.0/16'), parseCidr('10.0.0.0/8')));
  t.notOk(prefixContains(parseCidr('10.0.0.0/16'), parseCidr('10.1.0.0/16')));
});

t.test('identity allocator: ids survive recomputes, released ids are not reused until the range wraps, a full range says so', async (t) => {
  const a = new IdentityAllocator(10, 13);
  t.same(
    [...a.assign(['b', 'a'])],
    [
      ['a', 10],
      ['b', 11],
    ],
    'new keys in key order',
  );
  t.same(a.assign(['b', 'c']).get('b'), 11);
  t.equal(a.assign(['b', 'c']).get('c'), 12);
  t.equal(a.assign(['b', 'c', 'd']).get('d'), 10, 'wraps to the first free id');
  t.throws(() => a.assign(['b', 'c', 'd', 'e']), /no free id for "e": all 3 ids from 10 are in use/);
});

t.test('compiler: identities group pods by namespace, labels and named ports, and stay stable when another pod or a policy changes', async (t) => {
  const compiler = new PolicyCompiler();
  const pols = [policy('x', 'p', { ingress: [rule([{ podSelector: labels({ pod: 'b' }) }])] })];
  const first = compiler.compile(clusterOf(pols));
  t.equal(first.identities.size, 9);
  t.equal(first.ipcache.get('192.168.0.1'), K.IDENTITY_HOST);
  t.ok([...first.ipcache.values()].every((id) => id === K.IDENTITY_HOST || id >= K.FIRST_POD_IDENTITY));
  const twin = [...PODS, pod('x', 'a2', '10.0.0.9', { pod: 'a' })];
  const second = compiler.compile(
    clusterOf(
      [...pols, policy('y', 'q', { types: ['Egress'] })],
      twin.filter((p) => p.name !== 'c' || p.namespace !== 'z'),
    ),
  );
  t.equal(second.ipcache.get('10.0.0.9'), second.ipcache.get(IP['x/a']!), 'same namespace and labels: same identity');
  for (const [ip, id] of first.ipcache) if (ip !== IP['z/c']) t.equal(second.ipcache.get(ip), id, `${ip} keeps its identity`);
  t.notOk(second.ipcache.has(IP['z/c']!));
  t.same(second.identities.get(second.ipcache.get(IP['x/a']!)!)?.pods, ['x/a', 'x/a2']);
  t.equal(second.endpoints.get(IP['y/a']!)?.flags, K.ENDPOINT_EGRESS_ISOLATED | K.ENDPOINT_HOST_IS_OWN_NODE);
  const local = compiler.compile({ ...clusterOf(pols), pods: [...PODS.slice(1), pod('x', 'a', '10.0.0.1', { pod: 'a' }, [], 'node2')] }, { localOnly: true });
  t.equal(local.endpoints.size, 8, 'localOnly: the pod on node2 is no endpoint');
  t.ok(local.ipcache.has('10.0.0.1'), 'but still a peer identity');
});

t.test('compiler: CIDR classes are shared port sets; SCTP and address conflicts are reported', async (t) => {
  const c = clusterOf(
    [
      policy('x', 'p', {
        types: ['Egress'],
        egress: [
          rule(
            [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.1.0/24'] } }],
            [
              { protocol: 'TCP', port: 80 },
              { protocol: 'SCTP', port: 9 },
            ],
          ),
        ],
      }),
    ],
    [...PODS, pod('y', 'dup', '10.0.0.1')],
  );
  const tables = new PolicyCompiler().compile(c);
  t.equal(tables.cidrClasses.size, 1, 'one port set, however many endpoints');
  t.same([...tables.cidrClasses.values()][0], [{ protocol: 6, lo: 80, hi: 80 }]);
  t.same(tables.warnings, [
    "pod y/dup: address 10.0.0.1 is already x/a's; policy treats it as x/a's",
    'policy x/p: SCTP ports are ignored (this kernel has no SCTP); the policy still isolates the pods it selects',
  ]);
});

t.test('summaries: per pod its identity, isolated directions, policies and rules in words', async (t) => {
  const c = clusterOf([
    policy('x', 'p', {
      podSelector: labels({ pod: 'a' }),
      ingress: [
        rule(
          [
            { podSelector: labels({ pod: 'b' }) },
            {
              namespaceSelector: {
                matchLabels: {},
                matchExpressions: [
                  { key: 'ns', operator: 'In', values: ['y', 'z'] },
                  { key: 'x', operator: 'Exists', values: [] },
                  { key: 'q', operator: 'DoesNotExist', values: [] },
                  { key: 'r', operator: 'NotIn', values: ['1'] },
                ],
              },
            },
            { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
            { ipBlock: { cidr: '::/0', except: [] } },
          ],
          [{ protocol: 'TCP', port: 80, endPort: 90 }, { protocol: 'UDP' }, { protocol: 'TCP', port: 'http' }, { protocol: 'SCTP', port: 7 }],
        ),
      ],
      egress: [rule()],
    }),
  ]);
  const tables = new PolicyCompiler().compile(c);
  const [xa] = summarisePods(new ClusterIndex(c), tables, true);
  t.equal(xa!.pod, 'x/a');
  t.equal(xa!.identity, tables.ipcache.get(IP['x/a']!));
  t.same(xa!.ingress.policies, ['x/p']);
  t.same(xa!.ingress.rules, [
    {
      policy: 'x/p',
      rule: 0,
      peers: ['pods pod=b in namespace x', 'all pods in namespaces ns in (y,z),x,!q,r notin (1)', 'ipBlock 10.0.0.0/8 except 10.1.0.0/16', 'ipBlock ::/0'],
      ports: ['TCP/80-90', 'UDP all ports', 'TCP/http', 'SCTP/7 (ignored: no SCTP)'],
    },
  ]);
  t.same(xa!.egress.rules, [{ policy: 'x/p', rule: 0, peers: ['all peers'], ports: ['all ports and protocols'] }]);
  const all = summarisePods(new ClusterIndex(c), tables);
  t.equal(all.length, 9);
  t.same(all[1]!.ingress, { isolated: false, policies: [], rules: [] });
  t.equal(describeSelector({ matchLabels: {}, matchExpressions: [] }), '{}');
  const noAddress = { ...c, pods: [{ ...PODS[0]!, ips: [] }] };
  t.notOk('identity' in summarisePods(new ClusterIndex(noAddress), new PolicyCompiler().compile(noAddress))[0]!, 'no address: no identity');
});
