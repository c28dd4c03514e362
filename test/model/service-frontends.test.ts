import t from 'tap';
import { desiredServices } from '../../src/model/service-index.js';
import { formatProblem } from '../../src/model/problems.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const run = (objects: Record<string, unknown>[]): ReturnType<typeof desiredServices> =>
  desiredServices(
    objects.filter((o) => o.kind === 'Service'),
    objects.filter((o) => o.kind === 'EndpointSlice'),
  );

const view = (r: ReturnType<typeof desiredServices>): string[] =>
  r.services.map((s) => `${s.frontend.address}:${s.frontend.port}/${s.frontend.protocol} -> ${s.backends.map((b) => `${b.address}:${b.port}`).join(',') || '(none)'}`);

const withSpec = (name: string, ip: string, spec: Record<string, unknown>, annotations?: Record<string, string>): Record<string, unknown> => {
  const s = service('ns', name, [ip], [{ port: 80 }]);
  Object.assign(s.spec as Record<string, unknown>, spec);
  if (annotations) (s.metadata as Record<string, unknown>).annotations = annotations;
  return s;
};

t.test('a single-port service with one slice', async (t) => {
  const r = run([
    service('default', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }]),
    endpointSlice('default', 'web-1', 'web', 'IPv4', [{ port: 8080 }], ['10.244.0.2', '10.244.0.1']),
  ]);
  t.same(view(r), ['10.96.0.10:80/TCP -> 10.244.0.1:8080,10.244.0.2:8080']);
  t.equal(r.services[0]!.owner, 'default/web');
  t.same(r.problems, []);
});

t.test('dual-stack: each clusterIP uses slices of its own address family', async (t) => {
  const r = run([
    service('ns', 'web', ['10.96.0.10', 'fd00:96:0:0::10'], [{ name: 'http', port: 80 }]),
    endpointSlice('ns', 'web-v4', 'web', 'IPv4', [{ name: 'http', port: 8080 }], ['10.244.0.1']),
    endpointSlice('ns', 'web-v6', 'web', 'IPv6', [{ name: 'http', port: 8080 }], ['fd00:244:0::1']),
  ]);
  t.same(view(r), ['10.96.0.10:80/TCP -> 10.244.0.1:8080', 'fd00:96::10:80/TCP -> fd00:244::1:8080'], 'addresses are canonical');
});

t.test('several ports: slice ports are joined by service port name and protocol', async (t) => {
  const r = run([
    service(
      'ns',
      'app',
      ['10.96.0.11'],
      [
        { name: 'http', port: 80, targetPort: 'web' },
        { name: 'metrics', port: 9090, targetPort: 9100 },
        { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp' },
      ],
    ),
    endpointSlice(
      'ns',
      'app-a',
      'app',
      'IPv4',
      [
        { name: 'http', port: 8080 },
        { name: 'metrics', port: 9100 },
        { name: 'dns', port: 5353, protocol: 'UDP' },
        { name: 'dns-tcp', port: 5354 },
      ],
      ['10.244.0.1'],
    ),
  ]);
  t.same(view(r), [
    '10.96.0.11:80/TCP -> 10.244.0.1:8080',
    '10.96.0.11:9090/TCP -> 10.244.0.1:9100',
    '10.96.0.11:53/UDP -> 10.244.0.1:5353',
    '10.96.0.11:53/TCP -> 10.244.0.1:5354',
  ]);
  t.same(
    r.services.map((s) => s.owner),
    ['ns/app:http', 'ns/app:metrics', 'ns/app:dns', 'ns/app:dns-tcp'],
  );
});

t.test('a named targetPort also matches a slice port of that name (hand-written files)', async (t) => {
  const r = run([
    service('ns', 'app', ['10.96.0.12'], [{ name: 'http', port: 80, targetPort: 'web' }]),
    endpointSlice('ns', 'a', 'app', 'IPv4', [{ name: 'web', port: 8080 }], ['10.244.0.1']),
  ]);
  t.same(view(r), ['10.96.0.12:80/TCP -> 10.244.0.1:8080']);
});

t.test('a slice port without a number is skipped and reported, as kube-proxy skips it', async (t) => {
  const r = run([service('ns', 'app', ['10.96.0.12'], [{ port: 80, targetPort: 8080 }]), endpointSlice('ns', 'a', 'app', 'IPv4', [{ port: null }], ['10.244.0.1'])]);
  t.same(view(r), ['10.96.0.12:80/TCP -> (none)']);
  t.match(r.problems.map(formatProblem), [/^EndpointSlice ns\/a: ports\[0\]\.port: is missing; a slice port without a number is not used/, /^Service ns\/app: spec.ports\[0\].name: no EndpointSlice port/]);
});

t.test('several slices merge, duplicates are removed, conditions apply', async (t) => {
  const r = run([
    service('ns', 'app', ['10.96.0.13'], [{ port: 80 }]),
    endpointSlice('ns', 'a', 'app', 'IPv4', [{ port: 80 }], ['10.244.0.1', { address: '10.244.0.9', ready: false }]),
    endpointSlice('ns', 'b', 'app', 'IPv4', [{ port: 80 }], ['10.244.0.2', '10.244.0.1']),
    endpointSlice('other', 'c', 'app', 'IPv4', [{ port: 80 }], ['10.244.0.77']),
  ]);
  t.same(view(r), ['10.96.0.13:80/TCP -> 10.244.0.1:80,10.244.0.2:80'], 'a slice in another namespace does not join');
});

t.test('terminating endpoints are the fallback when none is ready', async (t) => {
  const r = run([
    service('ns', 'app', ['10.96.0.14'], [{ port: 80 }]),
    endpointSlice(
      'ns',
      'a',
      'app',
      'IPv4',
      [{ port: 80 }],
      [
        { address: '10.244.0.1', ready: false, serving: true, terminating: true },
        { address: '10.244.0.2', ready: false, serving: false, terminating: true },
      ],
    ),
  ]);
  t.same(view(r), ['10.96.0.14:80/TCP -> 10.244.0.1:80']);
});

t.test('a service without endpoints still gets a frontend, so connections are refused, not leaked', async (t) => {
  const r = run([service('ns', 'empty', ['10.96.0.15'], [{ port: 80 }])]);
  t.same(view(r), ['10.96.0.15:80/TCP -> (none)']);
});

t.test("headless, ExternalName and other proxies' services are ignored", async (t) => {
  const headless = service('ns', 'h', ['None'], [{ port: 80 }]);
  const external = service('ns', 'e', [], [{ port: 80 }], { type: 'ExternalName' });
  const other = service('ns', 'o', ['10.96.0.16'], [{ port: 80 }], { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } });
  const r = run([headless, external, other]);
  t.same(r.services, []);
  t.same(r.problems, []);
});

t.test('FQDN slices and slices without the service-name label are ignored silently', async (t) => {
  const fqdn = { ...endpointSlice('ns', 'f', 'app', 'IPv4', [{ port: 80 }], ['10.244.0.1']), addressType: 'FQDN' };
  const unlabelled = endpointSlice('ns', 'u', 'app', 'IPv4', [{ port: 80 }], ['10.244.0.2']);
  (unlabelled.metadata as { labels: unknown }).labels = {};
  const r = run([service('ns', 'app', ['10.96.0.17'], [{ port: 80 }]), fqdn, unlabelled]);
  t.same(view(r), ['10.96.0.17:80/TCP -> (none)']);
  t.same(r.problems, []);
});

t.test('invalid fields are reported with object and field, and skip only what they affect', async (t) => {
  const badIp = service('ns', 'bad-ip', ['10.96.0.300', '10.96.0.20'], [{ port: 80 }]);
  const badPorts = service('ns', 'bad-ports', ['10.96.0.21'], [{ port: 70000 }, { port: 81, protocol: 'SCTP' }, { port: 82 }]);
  const noName = { ...service('ns', 'x', ['10.96.0.22'], [{ port: 80 }]), metadata: { namespace: 'ns' } };
  const noSpec = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'nospec', namespace: 'ns' } };
  const noPorts = service('ns', 'no-ports', ['10.96.0.23'], []);
  const badTarget = service('ns', 'bad-target', ['10.96.0.24'], [{ port: 80, targetPort: '' }]);
  const badSlice = endpointSlice('ns', 'bad-slice', 'bad-ports', 'IPv4', [{ port: 82 }, { port: 0 }], ['10.244.0.1', 'fd00::1', { address: 'nope' }]);
  const weirdSlice = { ...endpointSlice('ns', 'weird', 'bad-ports', 'IPv4', [], []), addressType: 'IPv5', endpoints: 'x' };
  const r = run([badIp, badPorts, noName, noSpec, noPorts, badTarget, badSlice, weirdSlice]);
  t.same(view(r), ['10.96.0.20:80/TCP -> (none)', '10.96.0.21:82/TCP -> 10.244.0.1:82']);
  t.same(r.problems.map(formatProblem).sort(), [
    'EndpointSlice ns/bad-slice: endpoints[1].addresses[0]: is "fd00::1"; expected an IPv4 address as addressType says',
    'EndpointSlice ns/bad-slice: endpoints[2].addresses[0]: is "nope"; expected an IPv4 address as addressType says',
    'EndpointSlice ns/bad-slice: ports[1].port: is 0; a port is an integer from 1 to 65535',
    'EndpointSlice ns/weird: addressType: is "IPv5"; use IPv4 or IPv6',
    'Service ns/?: metadata.name: is missing; every object needs a string metadata.name (and metadata.namespace, default "default")',
    'Service ns/bad-ip: spec.clusterIPs[0]: is "10.96.0.300"; expected an IPv4 or IPv6 address',
    'Service ns/bad-ports: spec.ports[0].port: is 70000; a port is an integer from 1 to 65535',
    'Service ns/bad-ports: spec.ports[1].protocol: "SCTP" is not supported; socklb balances TCP and UDP (SCTP ports are skipped)',
    'Service ns/bad-target: spec.ports[0].targetPort: is ""; use a port number or a port name',
    'Service ns/no-ports: spec.ports: is []; a Service needs at least one port',
    'Service ns/nospec: spec: is missing; expected an object',
  ]);
});

t.test("a slice without the service port's name is reported, so a typo is visible", async (t) => {
  const r = run([service('ns', 'app', ['10.96.0.25'], [{ name: 'http', port: 80 }]), endpointSlice('ns', 'a', 'app', 'IPv4', [{ name: 'htp', port: 8080 }], ['10.244.0.1'])]);
  t.same(view(r), ['10.96.0.25:80/TCP -> (none)']);
  t.match(formatProblem(r.problems[0]!), /^Service ns\/app: spec.ports\[0\].name: no EndpointSlice port is named "http"/);
});

t.test('two services on one VIP:port: the first by namespace/name keeps it, the other is reported', async (t) => {
  const a = service('ns', 'a', ['10.96.0.30'], [{ port: 80 }]);
  const b = service('ns', 'b', ['10.96.0.30'], [{ port: 80 }, { port: 81 }]);
  const r = run([b, a]);
  t.same(
    r.services.map((s) => `${s.owner} ${s.frontend.port}`),
    ['ns/a 80', 'ns/b 81'],
  );
  t.match(formatProblem(r.problems[0]!), /^Service ns\/b: spec.clusterIPs\[0\]: 10.96.0.30 port 80\/TCP is already served for Service ns\/a/);
});

t.test('clusterIP alone (no clusterIPs) is accepted; neither is a problem', async (t) => {
  const only = service('ns', 'one', ['10.96.0.40'], [{ port: 80 }]);
  delete (only.spec as Record<string, unknown>).clusterIPs;
  const none = service('ns', 'none', ['10.96.0.41'], [{ port: 80 }]);
  delete (none.spec as Record<string, unknown>).clusterIPs;
  delete (none.spec as Record<string, unknown>).clusterIP;
  const r = run([only, none]);
  t.same(view(r), ['10.96.0.40:80/TCP -> (none)']);
  t.same(r.problems.map(formatProblem), ['Service ns/none: spec.clusterIP: is missing; a ClusterIP Service needs spec.clusterIPs (or spec.clusterIP)']);
});

t.test('garbage never throws', async (t) => {
  const junk: unknown[] = [
    null,
    1,
    'x',
    [],
    { metadata: 5 },
    { metadata: { name: 3 } },
    { metadata: { name: 'a', labels: 'x' }, spec: { ports: [null, 'x', { port: 80, targetPort: {} }] } },
  ];
  t.doesNotThrow(() => desiredServices(junk as never[], junk as never[]));
});

t.test('session affinity, traffic policy and topology are read from the Service', async (t) => {
  const r = run([
    withSpec('aff-default', '10.96.5.1', { sessionAffinity: 'ClientIP' }),
    withSpec('aff-60', '10.96.5.2', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }),
    withSpec('aff-bad', '10.96.5.3', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }),
    withSpec('none', '10.96.5.4', { sessionAffinity: 'None' }),
  ]);
  t.same(
    r.services.map((s) => [s.owner, s.affinityTimeoutSeconds]),
    [
      ['ns/aff-60', 60],
      ['ns/aff-bad', 10800],
      ['ns/aff-default', 10800],
      ['ns/none', 0],
    ],
  );
  t.same(r.problems.map(formatProblem), ['Service ns/aff-bad: spec.sessionAffinityConfig.clientIP.timeoutSeconds: is 0; use 1 to 86400 (default 10800 is used)']);
  const hinted = endpointSlice('ns', 'h-1', 'h', 'IPv4', [{ port: 80 }], ['10.0.0.1', '10.0.0.2']);
  (hinted.endpoints as Record<string, unknown>[])[0]!.hints = { forZones: [{ name: 'a' }] };
  (hinted.endpoints as Record<string, unknown>[])[1]!.hints = { forZones: [{ name: 'b' }] };
  for (const [spec, annotations, expected] of [
    [{}, { 'service.kubernetes.io/topology-mode': 'Auto' }, 1],
    [{}, { 'service.kubernetes.io/topology-aware-hints': 'auto' }, 1],
    [{ trafficDistribution: 'PreferClose' }, undefined, 1],
    [{}, { 'service.kubernetes.io/topology-mode': 'Disabled' }, 2],
    [{}, undefined, 2],
  ] as const) {
    const d = desiredServices([withSpec('h', '10.96.5.5', spec, annotations)], [hinted], { zone: 'a' });
    t.equal(d.services[0]!.backends.length, expected, JSON.stringify({ spec, annotations }));
  }
});

t.test('each endpoint keeps its own conditions, node and hints when only some endpoints carry them', async (t) => {
  const slice = endpointSlice('ns', 'm-1', 'm', 'IPv4', [{ port: 80 }], ['10.0.0.1', '10.0.0.2', { address: '10.0.0.3', ready: false, serving: true, terminating: true }]);
  const endpoints = slice.endpoints as Record<string, unknown>[];
  endpoints[1]!.nodeName = 'n1';
  endpoints[1]!.hints = { forZones: [{ name: 'a' }] };
  endpoints[2]!.nodeName = 'n1';
  const local = withSpec('m', '10.96.6.6', { internalTrafficPolicy: 'Local' });
  t.same(
    desiredServices([local], [slice], { name: 'n1' }).services[0]!.backends.map((b) => b.address),
    ['10.0.0.2'],
    'only the ready endpoint on this node',
  );
  const zoned = withSpec('m', '10.96.6.6', {}, { 'service.kubernetes.io/topology-mode': 'Auto' });
  t.same(
    desiredServices([zoned], [slice], { name: 'n1', zone: 'a' }).services[0]!.backends.map((b) => b.address),
    ['10.0.0.1', '10.0.0.2'],
    'a ready endpoint without hints: hints are not used',
  );
  endpoints[0]!.conditions = { ready: false, serving: false };
  endpoints[1]!.conditions = { ready: false, serving: true, terminating: true };
  t.same(
    desiredServices([zoned], [slice], { name: 'n1', zone: 'a' }).services[0]!.backends.map((b) => b.address),
    ['10.0.0.2', '10.0.0.3'],
    'none ready: the serving, terminating ones',
  );
});
