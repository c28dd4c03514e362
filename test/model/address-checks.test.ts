// Item 1 of the defects issue, in the model: addresses no cluster IP or endpoint may be, the
// --service-cidrs bound, and cluster IPs that are a pod's or node's address. Pure.
import t from 'tap';
import fc from 'fast-check';
import { describeAddressClass, unusableAddressClass } from '../../src/net/address-class.js';
import { cidrContains, parseCidr, parseCidrList } from '../../src/net/cidr.js';
import { formatProblem } from '../../src/model/problems.js';
import { desiredServices, ServiceIndex } from '../../src/model/service-index.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

t.test('address classes', async (t) => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['239.1.1.1', 'multicast'],
    ['ff02::fb', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['10.96.0.10', undefined],
    ['169.255.0.1', undefined],
    ['240.0.0.1', undefined],
    ['fd00:96::10', undefined],
    ['fec0::1', undefined],
    ['::2', undefined],
  ];
  for (const [ip, want] of cases) t.equal(unusableAddressClass(ip), want, ip);
  t.equal(describeAddressClass('loopback'), 'a loopback address');
});

t.test('CIDRs: parsing, host bits, membership against a bit-by-bit reference', async (t) => {
  t.equal(parseCidr('10.96.7.1/12').text, '10.96.0.0/12', 'host bits are cleared');
  t.equal(parseCidr('fd00:96::1/108').text, 'fd00:96::/108');
  t.same(
    parseCidrList(' 10.96.0.0/12, fd00:96::/108 ,').map((c) => c.text),
    ['10.96.0.0/12', 'fd00:96::/108'],
  );
  for (const bad of ['10.96.0.0', '10.96.0.0/33', 'x/8', '::/129', '10.0.0.0/-1', '10.0.0.0/1a']) t.throws(() => parseCidr(bad), { message: /is not a CIDR prefix; write an address and a prefix length/ }, bad);
  t.ok(cidrContains(parseCidr('10.96.0.0/12'), '10.111.255.255'));
  t.notOk(cidrContains(parseCidr('10.96.0.0/12'), '10.112.0.0'));
  t.notOk(cidrContains(parseCidr('10.96.0.0/12'), 'fd00::1'), 'an IPv4 prefix holds no IPv6 address');
  t.ok(cidrContains(parseCidr('0.0.0.0/0'), '1.2.3.4'));
  t.notOk(cidrContains(parseCidr('0.0.0.0/0'), 'fd00::1'), 'an IPv4 /0 is the v4-mapped /96 only');
  const bit = (ip: number[], i: number): number => (ip[i >> 3]! >> (7 - (i & 7))) & 1;
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), (a, b, len) => {
      const want = Array.from({ length: len }, (_, i) => bit(a, i) === bit(b, i)).every(Boolean);
      return cidrContains(parseCidr(`${a.join('.')}/${len}`), b.join('.')) === want;
    }),
  );
});

const slice = (name: string, svc: string, addresses: string[]): Record<string, unknown> => endpointSlice('ns', name, svc, 'IPv4', [{ port: 8080 }], addresses);
const svc = (name: string, ips: string[]): Record<string, unknown> => service('ns', name, ips, [{ port: 80, targetPort: 8080 }]);
const problemsOf = (r: ReturnType<typeof desiredServices>): string[] => r.problems.map(formatProblem);

t.test('unusable cluster IPs are refused on their field; the other cluster IPs and services apply', async (t) => {
  const r = desiredServices([svc('lo', ['127.0.0.1']), svc('meta', ['169.254.169.254']), svc('mdns', ['224.0.0.251']), svc('any', ['0.0.0.0']), svc('dual', ['::1', '10.96.0.10'])], [slice('d', 'dual', ['10.244.0.1'])]);
  t.same(
    r.services.map((s) => s.frontend.address),
    ['10.96.0.10'],
  );
  t.match(problemsOf(r), [
    /^Service ns\/lo: spec.clusterIPs\[0\]: is a loopback address \(127.0.0.1\); every balanced process would have its traffic to it captured/,
    /^Service ns\/meta: spec.clusterIPs\[0\]: is a link-local address/,
    /^Service ns\/mdns: spec.clusterIPs\[0\]: is a multicast address/,
    /^Service ns\/any: spec.clusterIPs\[0\]: is an unspecified address/,
    /^Service ns\/dual: spec.clusterIPs\[0\]: is a loopback address \(::1\)/,
  ]);
});

t.test('unusable endpoint addresses are skipped and reported', async (t) => {
  const r = desiredServices([svc('web', ['10.96.0.10'])], [slice('w', 'web', ['127.0.0.1', '10.244.0.2', '169.254.1.1'])]);
  t.same(
    r.services[0]!.backends.map((b) => b.address),
    ['10.244.0.2'],
  );
  t.match(problemsOf(r), [/^EndpointSlice ns\/w: endpoints\[0\]\.addresses\[0\]: is a loopback address \(127\.0\.0\.1\); an endpoint must be a pod's unicast address/, /endpoints\[2\]\.addresses\[0\]: is a link-local address/]);
});

t.test('--service-cidrs: cluster IPs outside are refused, inside are programmed', async (t) => {
  const serviceCidrs = parseCidrList('10.96.0.0/12,fd00:96::/108');
  const r = desiredServices([svc('in', ['10.96.0.10', 'fd00:96::10']), svc('out', ['10.200.0.1'])], [], {}, { serviceCidrs });
  t.same(r.services.map((s) => s.frontend.address).sort(), ['10.96.0.10', 'fd00:96::10']);
  t.match(problemsOf(r), [/^Service ns\/out: spec.clusterIPs\[0\]: 10.200.0.1 is outside --service-cidrs \(10.96.0.0\/12, fd00:96::\/108\)/]);
});

t.test('a cluster IP that is an endpoint, pod, node or local address is refused, and comes back when the address goes', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'client' }, status: { podIP: '10.244.0.50', podIPs: [{ ip: '10.244.0.50' }, { ip: 'fd00:244::50' }] } };
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.5' }, { type: 'Hostname', address: 'n1' }] } };
  const r = desiredServices(
    [svc('web', ['10.96.0.10']), svc('steal-endpoint', ['10.244.0.2']), svc('steal-pod', ['10.244.0.50']), svc('steal-node', ['192.168.1.5']), svc('steal-local', ['172.31.9.9'])],
    [slice('w', 'web', ['10.244.0.2'])],
    {},
    {},
    { pods: [pod], nodes: [node], localAddresses: ['172.31.9.9'] },
  );
  t.same(
    r.services.map((s) => s.owner),
    ['ns/web'],
  );
  t.match(problemsOf(r).sort(), [
    /^Service ns\/steal-endpoint: spec.clusterIPs\[0\]: 10.244.0.2 is the address of an endpoint of EndpointSlice ns\/w; a cluster IP that is a pod's or a node's address would capture its traffic/,
    /^Service ns\/steal-local: .*172.31.9.9 is the address of this node \(its own interfaces\)/,
    /^Service ns\/steal-node: .*192.168.1.5 is the address of Node n1/,
    /^Service ns\/steal-pod: .*10.244.0.50 is the address of Pod ns\/client/,
  ]);

  const index = new ServiceIndex();
  index.upsertService(svc('s', ['10.244.0.9']) as never);
  t.same(index.flush().upserts.map((s) => s.frontend.address), ['10.244.0.9']);
  index.upsertSlice(slice('other', 'x', ['10.244.0.9']) as never);
  t.same(index.flush().removals, ['10.244.0.9|80|TCP'], 'an endpoint taking the address withdraws the frontend');
  index.upsertPod({ metadata: { namespace: 'ns', name: 'p' }, status: { podIP: '10.244.0.9' } });
  index.deleteSlice('ns', 'other');
  t.same(index.flush(), { upserts: [], removals: [] }, 'still held by the pod');
  index.deletePod('ns', 'p');
  t.same(index.flush().upserts.map((s) => s.frontend.address), ['10.244.0.9'], 'free again: programmed');
  index.upsertNode({ metadata: { name: 'n' }, status: { addresses: [{ type: 'ExternalIP', address: '10.244.0.9' }] } });
  t.same(index.flush().removals, ['10.244.0.9|80|TCP']);
  index.deleteNode('n');
  t.equal(index.flush().upserts.length, 1);
});

t.test('bad pod and node addresses are reported, not thrown', async (t) => {
  const r = desiredServices([], [], {}, {}, {
    pods: [{ metadata: { namespace: 'ns', name: 'p' }, status: { podIPs: [{ ip: 'nope' }, 'x'] } }, { metadata: { name: 'q' }, status: { podIP: 7 } }, { metadata: {} }],
    nodes: [{ metadata: { name: 'n' }, status: { addresses: [{ type: 'InternalIP', address: 'bad' }] } }, { metadata: {} }, { metadata: { name: 'm' }, status: { addresses: 'x' } }],
  });
  t.same(problemsOf(r), [
    'Pod ns/p: status.podIPs[0].ip: is "nope"; expected an IPv4 or IPv6 address',
    'Pod ns/p: status.podIPs[1].ip: is "x"; expected an IPv4 or IPv6 address',
    'Pod default/q: status.podIP: is 7; expected an IPv4 or IPv6 address',
    'Pod default/?: metadata.name: is missing; every object needs a string metadata.name (and metadata.namespace, default "default")',
    'Node n: status.addresses[0].address: is "bad"; expected an IPv4 or IPv6 address',
    'Node ?: metadata.name: is missing; every Node needs a string metadata.name',
  ]);
});

t.test('internalTrafficPolicy Local without a node name is reported', async (t) => {
  const local = svc('local', ['10.96.0.20']);
  (local.spec as Record<string, unknown>).internalTrafficPolicy = 'Local';
  const ep = endpointSlice('ns', 'l', 'local', 'IPv4', [{ port: 8080 }], ['10.244.0.1']);
  (ep.endpoints as Record<string, unknown>[])[0]!.nodeName = 'n1';
  t.match(problemsOf(desiredServices([local], [ep])), [/^Service ns\/local: spec.internalTrafficPolicy: is Local, but the agent does not know its node \(set --node-name or NODE_NAME\)/]);
  const named = desiredServices([local], [ep], { name: 'n1' });
  t.same(named.problems, []);
  t.same(named.services[0]!.backends.map((b) => b.address), ['10.244.0.1']);
});
