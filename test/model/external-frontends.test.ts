// North-south frontends for in-cluster clients: externalIPs, load-balancer ingress IPs and
// NodePorts, their endpoints (kube-proxy's short-circuit: all endpoints), their policies.
import t from 'tap';
import { frontendId, type DesiredService } from '../../src/model/desired-services.js';
import { parseCidrList } from '../../src/net/cidr.js';
import { desiredServices, type HostObjects, type IndexOptions } from '../../src/model/service-index.js';
import type { NodeContext } from '../../src/model/endpoint-selection.js';
import type { Problem } from '../../src/model/problems.js';
import { dualStackSlices, endpointSlice, service } from '../helpers/k8s-fixtures.js';
import { node, nodeSlice, nsService } from '../helpers/ns-fixtures.js';

const byId = (list: DesiredService[]): Map<string, DesiredService> => new Map(list.map((s) => [frontendId(s.frontend), s]));
const ids = (list: DesiredService[]): string[] => list.map((s) => frontendId(s.frontend)).sort();
const fieldsOf = (problems: Problem[]): string[] => problems.map((p) => `${p.object} ${p.field}`).sort();

function run(
  services: unknown[],
  slices: unknown[] = [],
  nodeContext: NodeContext = {},
  options: IndexOptions = {},
  hosts: HostObjects = {},
): { rows: Map<string, DesiredService>; list: DesiredService[]; problems: Problem[] } {
  const { services: list, problems } = desiredServices(services as never[], slices as never[], nodeContext, options, hosts);
  return { rows: byId(list), list, problems };
}

const slice80 = endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ port: 8080 }], ['10.0.0.1', '10.0.0.2']);
const backends80 = [
  { address: '10.0.0.1', port: 8080 },
  { address: '10.0.0.2', port: 8080 },
];

t.test('externalIPs: each address × each port, on the service port, reach external, same endpoints and affinity as the cluster IP', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'alt', port: 81, targetPort: 8080 }], {
    externalIPs: ['192.0.2.10', '198.51.100.7'],
    sessionAffinity: 'ClientIP',
  });
  const slice = endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ name: 'http', port: 8080 }, { name: 'alt', port: 8080 }], ['10.0.0.1', '10.0.0.2']);
  const { rows, problems } = run([svc], [slice]);
  t.same(problems, []);
  t.same([...rows.keys()].sort(), ['10.96.0.10|80|TCP', '10.96.0.10|81|TCP', '192.0.2.10|80|TCP', '192.0.2.10|81|TCP', '198.51.100.7|80|TCP', '198.51.100.7|81|TCP']);
  const ext = rows.get('192.0.2.10|80|TCP')!;
  t.strictSame(ext, { frontend: { address: '192.0.2.10', port: 80, protocol: 'TCP' }, backends: backends80, owner: 'ns/web:http', affinityTimeoutSeconds: 60, reach: 'external' });
  t.equal(rows.get('198.51.100.7|81|TCP')!.owner, 'ns/web:alt');
  t.notOk('reach' in rows.get('10.96.0.10|80|TCP')!, 'a cluster IP keeps its refuse-other-ports behaviour (no reach field)');
});

t.test('existing cluster-IP rows are exactly what they were without north-south fields', async (t) => {
  const plain = service('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }]);
  const withNs = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }], {
    type: 'LoadBalancer',
    externalIPs: ['192.0.2.10'],
    externalTrafficPolicy: 'Local',
    ingress: [{ ip: '198.51.100.1' }],
  });
  const before = run([plain], [slice80]).rows.get('10.96.0.10|80|TCP');
  const after = run([withNs], [slice80], { name: 'n1' }, {}, { nodes: [node('n1', ['172.16.0.1'])] }).rows;
  t.strictSame(after.get('10.96.0.10|80|TCP'), before);
  t.equal(after.size, 4, 'cluster IP, externalIP, load-balancer IP, node port');
});

t.test('dual-stack: an address of each family takes the endpoints of its family', async (t) => {
  const pods = [
    { ipv4: '10.0.0.1', ipv6: 'fd00::1' },
    { ipv4: '10.0.0.2', ipv6: 'fd00::2' },
  ];
  const svc = nsService('ns', 'web', ['10.96.0.10', 'fd00:96::10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }], {
    type: 'LoadBalancer',
    externalIPs: ['192.0.2.10', '2001:DB8::0010'],
    ingress: [{ ip: '198.51.100.1' }, { ip: '2001:db8:1::1', ipMode: 'VIP' }],
  });
  const { rows, problems } = run([svc], dualStackSlices('ns', 'web', [{ port: 8080 }], pods), { name: 'n1' }, {}, { nodes: [node('n1', ['172.16.0.1', 'fd10::1'])] });
  t.same(problems, []);
  const v4 = [
    { address: '10.0.0.1', port: 8080 },
    { address: '10.0.0.2', port: 8080 },
  ];
  const v6 = [
    { address: 'fd00::1', port: 8080 },
    { address: 'fd00::2', port: 8080 },
  ];
  for (const id of ['192.0.2.10|80|TCP', '198.51.100.1|80|TCP', '172.16.0.1|30080|TCP']) t.same(rows.get(id)?.backends, v4, id);
  for (const id of ['2001:db8::10|80|TCP', '2001:db8:1::1|80|TCP', 'fd10::1|30080|TCP']) t.same(rows.get(id)?.backends, v6, id);
  t.ok(rows.has('2001:db8::10|80|TCP'), 'an IPv6 externalIP is canonicalised');
});

t.test('an externalIP of a family the service has no slices of gets a frontend without backends (refused, as kube-proxy rejects)', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }], { externalIPs: ['2001:db8::10'] });
  const { rows } = run([svc], [slice80]);
  t.same(rows.get('2001:db8::10|80|TCP')?.backends, []);
});

t.test('load-balancer ingress: VIP or unset ipMode is served, Proxy and hostname-only are not, an unknown ipMode is reported', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }], {
    type: 'LoadBalancer',
    allocateLoadBalancerNodePorts: false,
    ingress: [{ ip: '198.51.100.1' }, { ip: '198.51.100.2', ipMode: 'VIP' }, { ip: '198.51.100.3', ipMode: 'Proxy' }, { hostname: 'lb.example.com' }, { ip: '198.51.100.5', ipMode: 'Tunnel' }, 'x'],
  });
  const { rows, problems } = run([svc], [slice80]);
  t.same([...rows.keys()].sort(), ['10.96.0.10|80|TCP', '198.51.100.1|80|TCP', '198.51.100.2|80|TCP']);
  t.same(rows.get('198.51.100.1|80|TCP')?.reach, 'external');
  t.same(fieldsOf(problems), ['Service ns/web status.loadBalancer.ingress[4].ipMode', 'Service ns/web status.loadBalancer.ingress[5]']);
  t.match(problems.find((p) => p.field.endsWith('ipMode'))?.message, /"Tunnel"; use VIP or Proxy/);
});

t.test('load-balancer ingress of a service that is not type LoadBalancer is ignored', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }], { ingress: [{ ip: '198.51.100.1' }] });
  t.same([...run([svc], [slice80]).rows.keys()], ['10.96.0.10|80|TCP']);
});

t.test('loadBalancerSourceRanges: decoded, canonical, per family; a load-balancer IP with ranges of its family is not balanced (not enforced yet), externalIPs and node ports are; bad ones reported on their field', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }], {
    type: 'LoadBalancer',
    externalIPs: ['192.0.2.10'],
    loadBalancerSourceRanges: [' 203.0.113.7/24', '2001:db8:9::/48', '10.0.0.0/33', 42, 'bogus'],
    ingress: [{ ip: '198.51.100.1' }, { ip: '2001:db8:1::1' }],
  });
  const { rows, problems } = run([svc], [slice80], {}, { nodePortAddresses: ['172.16.0.1'] });
  t.same([...rows.keys()].sort(), ['10.96.0.10|80|TCP', '172.16.0.1|30080|TCP', '192.0.2.10|80|TCP'], 'no frontend for the load-balancer IPs');
  const rangeProblems = problems.filter((p) => /loadBalancerSourceRanges \(/.test(p.message));
  t.same(
    rangeProblems.map((p) => p.message.split(' ').slice(0, 4).join(' ')),
    ['198.51.100.1 has loadBalancerSourceRanges (203.0.113.0/24),', '2001:db8:1::1 has loadBalancerSourceRanges (2001:db8:9::/48),'],
    'each with the ranges of its family, canonical',
  );
  t.match(rangeProblems[0]!.message, /not enforce yet.*left to the load balancer/);
  t.same(
    fieldsOf(problems.filter((p) => !rangeProblems.includes(p))),
    ['Service ns/web spec.loadBalancerSourceRanges[2]', 'Service ns/web spec.loadBalancerSourceRanges[3]', 'Service ns/web spec.loadBalancerSourceRanges[4]'],
  );
  t.match(problems.find((p) => !rangeProblems.includes(p))!.message, /not a CIDR prefix.*this range is left out/);
  const notList = run([nsService('ns', 'x', ['10.96.0.11'], [{ port: 80 }], { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, loadBalancerSourceRanges: '1.2.3.0/24' })]);
  t.same(fieldsOf(notList.problems), ['Service ns/x spec.loadBalancerSourceRanges']);
});

t.test('externalTrafficPolicy Local: in-cluster clients still reach every ready endpoint (kube-proxy short-circuit); the flag rides on north-south rows only', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }], {
    type: 'NodePort',
    externalIPs: ['192.0.2.10'],
    externalTrafficPolicy: 'Local',
  });
  const slice = nodeSlice('ns', 'web-1', 'web', 8080, [
    { address: '10.0.0.1', nodeName: 'n1' },
    { address: '10.0.0.2', nodeName: 'n2' },
  ]);
  const { rows, problems } = run([svc], [slice], { name: 'n1' }, {}, { nodes: [node('n1', ['172.16.0.1']), node('n2', ['172.16.0.2'])] });
  t.same(problems, []);
  for (const id of ['192.0.2.10|80|TCP', '172.16.0.1|30080|TCP']) {
    t.same(rows.get(id)?.backends, backends80, `${id}: both nodes' endpoints`);
    t.equal(rows.get(id)?.externalPolicyLocal, true);
  }
  t.notOk('externalPolicyLocal' in rows.get('10.96.0.10|80|TCP')!);
  t.notOk(rows.has('172.16.0.2|30080|TCP'), "another node's address is not this node's");
  const bad = run([nsService('ns', 'x', ['10.96.0.11'], [{ port: 80 }], { externalIPs: ['192.0.2.11'], externalTrafficPolicy: 'local' })]);
  t.same(fieldsOf(bad.problems), ['Service ns/x spec.externalTrafficPolicy']);
  t.notOk('externalPolicyLocal' in bad.rows.get('192.0.2.11|80|TCP')!, 'an unknown policy reads as Cluster');
});

t.test('internalTrafficPolicy Local narrows the cluster IP only, not the north-south addresses', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }], { externalIPs: ['192.0.2.10'], internalTrafficPolicy: 'Local' });
  const slice = nodeSlice('ns', 'web-1', 'web', 8080, [
    { address: '10.0.0.1', nodeName: 'n1' },
    { address: '10.0.0.2', nodeName: 'n2' },
  ]);
  const { rows } = run([svc], [slice], { name: 'n1' });
  t.same(rows.get('10.96.0.10|80|TCP')?.backends, [{ address: '10.0.0.1', port: 8080 }]);
  t.same(rows.get('192.0.2.10|80|TCP')?.backends, backends80);
});

t.test('NodePorts: on each address of the Node named by the node context, for NodePort and LoadBalancer services', async (t) => {
  const np = nsService('ns', 'web', ['10.96.0.10'], [{ name: 'a', port: 80, targetPort: 8080, nodePort: 30080 }, { name: 'b', port: 81, targetPort: 8080, nodePort: 30081, protocol: 'UDP' }], { type: 'NodePort' });
  const slice = endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ name: 'a', port: 8080 }, { name: 'b', port: 8080, protocol: 'UDP' }], ['10.0.0.1']);
  const nodes = [node('n1', ['172.16.0.1', '192.168.1.1']), node('n2', ['172.16.0.2'])];
  const { rows, problems } = run([np], [slice], { name: 'n1' }, {}, { nodes });
  t.same(problems, []);
  t.same([...rows.keys()].sort(), ['10.96.0.10|80|TCP', '10.96.0.10|81|UDP', '172.16.0.1|30080|TCP', '172.16.0.1|30081|UDP', '192.168.1.1|30080|TCP', '192.168.1.1|30081|UDP']);
  t.strictSame(rows.get('172.16.0.1|30081|UDP'), {
    frontend: { address: '172.16.0.1', port: 30081, protocol: 'UDP' },
    backends: [{ address: '10.0.0.1', port: 8080 }],
    owner: 'ns/web:b',
    affinityTimeoutSeconds: 0,
    reach: 'external',
  });
  const lb = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }], { type: 'LoadBalancer' });
  t.ok(run([lb], [slice80], { name: 'n1' }, {}, { nodes }).rows.has('172.16.0.1|30080|TCP'), 'a LoadBalancer service has node ports too');
  const cip = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }]);
  t.same(ids(run([cip], [slice80], { name: 'n1' }, {}, { nodes }).list), ['10.96.0.10|80|TCP'], 'a nodePort on a ClusterIP service is ignored');
});

t.test('NodePorts: explicit addresses win over the Node object; local interfaces alone are not node-port addresses', async (t) => {
  const np = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }], { type: 'NodePort' });
  const explicit = run([np], [slice80], { name: 'n1' }, { nodePortAddresses: ['10.1.1.1', 'FD10::0001'] }, { nodes: [node('n1', ['172.16.0.1'])] });
  t.same(ids(explicit.list), ['10.1.1.1|30080|TCP', '10.96.0.10|80|TCP', 'fd10::1|30080|TCP']);
  t.throws(() => run([np], [], {}, { nodePortAddresses: ['10.1.1.1', 'eth0'] }), /node port address "eth0" is not an IP address/);
  const local = run([np], [slice80], {}, {}, { localAddresses: ['172.16.0.9'] });
  t.same(ids(local.list), ['10.96.0.10|80|TCP']);
});

t.test('NodePorts without known node addresses: one problem per service, no frontend', async (t) => {
  const np = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }, { port: 81, targetPort: 8080, nodePort: 30081 }], { type: 'NodePort' });
  for (const [what, ctx, hosts] of [
    ['no node name', {}, {}],
    ['no Node object of that name', { name: 'n1' }, { nodes: [node('n2', ['172.16.0.2'])] }],
    ['a Node without addresses', { name: 'n1' }, { nodes: [node('n1', [])] }],
  ] as const) {
    const { list, problems } = run([np], [slice80], ctx, {}, hosts);
    t.same(ids(list), ['10.96.0.10|80|TCP', '10.96.0.10|81|TCP'], what);
    t.same(fieldsOf(problems), ['Service ns/web spec.ports[0].nodePort'], what);
    t.match(problems[0]!.message, /does not know this node's addresses/);
  }
  const cip = run([service('ns', 'plain', ['10.96.0.11'], [{ port: 80 }])]);
  t.same(cip.problems, [], 'no NodePort, no problem');
});

t.test('nodePort values: missing where the API allocates one, out of range, or not a number are reported; allocateLoadBalancerNodePorts false may have none', async (t) => {
  const svcs = [
    nsService('ns', 'a', ['10.96.0.1'], [{ port: 80 }, { port: 81, nodePort: 70000 }, { port: 82, nodePort: '30082' }, { port: 83, nodePort: 30083 }], { type: 'NodePort' }),
    nsService('ns', 'b', ['10.96.0.2'], [{ port: 80 }], { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false }),
    nsService('ns', 'c', ['10.96.0.3'], [{ port: 80 }], { type: 'LoadBalancer' }),
  ];
  const { list, problems } = run(svcs, [], {}, { nodePortAddresses: ['172.16.0.1'] });
  t.same(fieldsOf(problems), ['Service ns/a spec.ports[0].nodePort', 'Service ns/a spec.ports[1].nodePort', 'Service ns/a spec.ports[2].nodePort', 'Service ns/c spec.ports[0].nodePort']);
  t.match(problems.find((p) => p.field === 'spec.ports[1].nodePort')?.message, /70000; a port is an integer from 1 to 65535/);
  t.same(
    ids(list).filter((id) => id.startsWith('172.')),
    ['172.16.0.1|30083|TCP'],
  );
  t.same(
    ids(list).filter((id) => id.startsWith('10.96.0.1|')),
    ['10.96.0.1|80|TCP', '10.96.0.1|81|TCP', '10.96.0.1|82|TCP', '10.96.0.1|83|TCP'],
    'a bad node port leaves its cluster IP port alone',
  );
});

t.test('bad externalIPs are reported on their field and skipped; the rest of the service and other services are unaffected', async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }], { externalIPs: ['192.0.2.10', 'not-an-ip', '127.0.0.1', 7, '224.0.0.1'] });
  const other = nsService('ns', 'other', ['10.96.0.11'], [{ port: 80 }], { externalIPs: {} });
  const { list, problems } = run([svc, other], [slice80]);
  t.same(ids(list), ['10.96.0.10|80|TCP', '10.96.0.11|80|TCP', '192.0.2.10|80|TCP']);
  t.same(fieldsOf(problems), ['Service ns/other spec.externalIPs', 'Service ns/web spec.externalIPs[1]', 'Service ns/web spec.externalIPs[2]', 'Service ns/web spec.externalIPs[3]', 'Service ns/web spec.externalIPs[4]']);
  t.match(problems.find((p) => p.field === 'spec.externalIPs[2]')?.message, /loopback.*use an address routed to the cluster/);
});

t.test("refusals: a pod's address or an address of the service CIDRs is not an externalIP; a node's address is", async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }], {
    type: 'LoadBalancer',
    allocateLoadBalancerNodePorts: false,
    externalIPs: ['10.0.0.1', '10.96.5.5', '172.16.0.1', '10.0.9.9'],
    ingress: [{ ip: '10.0.0.2' }],
  });
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'p' }, status: { podIPs: [{ ip: '10.0.9.9' }] } };
  // A hostNetwork pod's address is its node's: still a node address.
  const hostPod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: 'h' }, status: { podIPs: [{ ip: '172.16.0.1' }] } };
  const { list, problems } = run([svc], [slice80], { name: 'n1' }, { serviceCidrs: parseCidrList('10.96.0.0/12') }, { nodes: [node('n1', ['172.16.0.1'])], pods: [pod, hostPod] });
  t.same(ids(list), ['10.96.0.10|80|TCP', '172.16.0.1|80|TCP']);
  t.same(fieldsOf(problems), ['Service ns/web spec.externalIPs[0]', 'Service ns/web spec.externalIPs[1]', 'Service ns/web spec.externalIPs[3]', 'Service ns/web status.loadBalancer.ingress[0].ip']);
  t.match(problems.find((p) => p.field === 'spec.externalIPs[0]')?.message, /address of an endpoint of EndpointSlice ns\/web-1.*pod's address would capture/);
  t.match(problems.find((p) => p.field === 'spec.externalIPs[3]')?.message, /address of Pod ns\/p/);
  t.match(problems.find((p) => p.field === 'spec.externalIPs[1]')?.message, /inside --service-cidrs \(10\.96\.0\.0\/12\)/);
});

t.test('conflicts between services: one deterministic winner, the other reported on its field', async (t) => {
  const a = nsService('ns', 'a', ['10.96.0.1'], [{ port: 80 }], { externalIPs: ['192.0.2.10'] });
  const b = nsService('ns', 'b', ['10.96.0.2'], [{ port: 80 }], { externalIPs: ['192.0.2.10'] });
  for (const order of [
    [a, b],
    [b, a],
  ]) {
    const { rows, problems } = run(order);
    t.equal(rows.get('192.0.2.10|80|TCP')?.owner, 'ns/a');
    t.same(fieldsOf(problems), ['Service ns/b spec.externalIPs[0]']);
    t.match(problems[0]!.message, /already served for Service ns\/a/);
  }
  // An NodePort of one service against another's externalIP that is the node's address.
  const np = nsService('ns', 'a', ['10.96.0.1'], [{ port: 80, nodePort: 30080 }], { type: 'NodePort' });
  const ext = nsService('ns', 'b', ['10.96.0.2'], [{ port: 30080 }], { externalIPs: ['172.16.0.1'] });
  const clash = run([ext, np], [], {}, { nodePortAddresses: ['172.16.0.1'] });
  t.equal(clash.rows.get('172.16.0.1|30080|TCP')?.owner, 'ns/a');
  t.same(fieldsOf(clash.problems), ['Service ns/b spec.externalIPs[0]']);
});

t.test("a cluster IP outranks another service's north-south address, whatever the order", async (t) => {
  // ns/a sorts first, so it would win by order; the cluster IP of ns/b wins anyway.
  const a = nsService('ns', 'a', ['10.96.0.1'], [{ port: 80 }], { externalIPs: ['10.96.0.2'] });
  const b = service('ns', 'b', ['10.96.0.2'], [{ port: 80 }]);
  const { rows, problems } = run([a, b]);
  t.equal(rows.get('10.96.0.2|80|TCP')?.owner, 'ns/b');
  t.notOk('reach' in rows.get('10.96.0.2|80|TCP')!);
  t.same(fieldsOf(problems), ['Service ns/a spec.externalIPs[0]']);
});

t.test("a service's own frontends that coincide are served once, for the first (its cluster IP, then externalIPs, load-balancer IPs, node ports)", async (t) => {
  const svc = nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080, nodePort: 30080 }, { port: 30080, targetPort: 8080 }], {
    type: 'LoadBalancer',
    allocateLoadBalancerNodePorts: false,
    externalIPs: ['10.96.0.10', '192.0.2.10', '192.0.2.10'],
    ingress: [{ ip: '192.0.2.10' }],
  });
  const { rows, problems } = run([svc], [slice80], {}, { nodePortAddresses: ['192.0.2.10'] });
  t.notOk('reach' in rows.get('10.96.0.10|80|TCP')!, 'the cluster IP row is kept');
  t.equal(rows.get('192.0.2.10|80|TCP')?.reach, 'external');
  t.same(fieldsOf(problems), [
    'Service ns/web spec.externalIPs[0]',
    'Service ns/web spec.externalIPs[0]',
    'Service ns/web spec.externalIPs[2]',
    'Service ns/web spec.externalIPs[2]',
    'Service ns/web spec.ports[0].nodePort',
    'Service ns/web status.loadBalancer.ingress[0].ip',
    'Service ns/web status.loadBalancer.ingress[0].ip',
  ]);
  t.match(problems.find((p) => p.field === 'spec.externalIPs[0]')?.message, /also the frontend of spec\.clusterIPs\[0\] of this service/);
  t.match(problems.find((p) => p.field === 'spec.ports[0].nodePort')?.message, /192\.0\.2\.10 port 30080\/TCP is also the frontend of spec\.externalIPs\[1\]/);
});
