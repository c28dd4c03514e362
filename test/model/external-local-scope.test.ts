// The node programs' frontends for externalTrafficPolicy Local (scope 'local'): written only
// with localScopeFrontends (the agent runs NodeTc), one beside each north-south frontend of
// such a service, holding this node's endpoints only; the frontend for every client keeps all
// endpoints (kube-proxy's short-circuit). A twin goes with its frontend: where the service does
// not hold that one, it holds neither.
import t from 'tap';
import { frontendId, frontendOfId, SERVICES, type DesiredService } from '../../src/model/desired-services.js';
import { HealthChecks } from '../../src/model/health-checks.js';
import { desiredServices, type IndexOptions } from '../../src/model/service-index.js';
import type { NodeContext } from '../../src/model/endpoint-selection.js';
import { node, nodeSlice, nsService } from '../helpers/ns-fixtures.js';

const HERE = 'node-a';
const ON = { localScopeFrontends: true, nodePortAddresses: ['198.18.0.1'] } satisfies IndexOptions;
const slice = nodeSlice('ns', 'web-1', 'web', 8080, [
  { address: '10.0.0.1', nodeName: HERE },
  { address: '10.0.1.1', nodeName: 'node-b' },
  { address: '10.0.0.2', nodeName: HERE },
]);
const web = (extra: Record<string, unknown>, clusterIP = '10.96.0.10'): Record<string, unknown> =>
  nsService('ns', 'web', [clusterIP], [{ port: 80, targetPort: 8080, nodePort: 30080 }], { type: 'NodePort', externalIPs: ['192.0.2.10'], ...extra });

function run(services: unknown[], options: IndexOptions = ON, nodeContext: NodeContext = { name: HERE }) {
  const { services: list, problems } = desiredServices(services as never[], [slice] as never[], nodeContext, options, { nodes: [node(HERE, ['198.18.0.1']) as never] });
  return { rows: new Map(list.map((s) => [frontendId(s.frontend), s] as [string, DesiredService])), problems };
}
const addresses = (s: DesiredService | undefined): string[] => (s?.backends ?? []).map((b) => b.address);

t.test("externalTrafficPolicy Local: a local-scope twin with this node's endpoints beside each north-south frontend", async (t) => {
  const { rows, problems } = run([web({ externalTrafficPolicy: 'Local' })]);
  t.same(problems, []);
  t.same([...rows.keys()].sort(), ['10.96.0.10|80|TCP', '192.0.2.10|80|TCP', '192.0.2.10|80|TCP|local', '198.18.0.1|30080|TCP', '198.18.0.1|30080|TCP|local']);
  for (const main of ['192.0.2.10|80|TCP', '198.18.0.1|30080|TCP']) {
    t.same(addresses(rows.get(main)), ['10.0.0.1', '10.0.0.2', '10.0.1.1'], `${main}: every endpoint, for clients in the cluster`);
    t.same(addresses(rows.get(`${main}|local`)), ['10.0.0.1', '10.0.0.2'], `${main}|local: this node's only`);
    t.match(rows.get(`${main}|local`), { reach: 'external', externalPolicyLocal: true, owner: 'ns/web' });
  }
  t.same(frontendOfId('198.18.0.1|30080|TCP|local'), { address: '198.18.0.1', port: 30080, protocol: 'TCP', scope: 'local' }, 'the id names the scope');
});

t.test('no twins without localScopeFrontends, nor for externalTrafficPolicy Cluster', async (t) => {
  t.notOk(
    [...run([web({ externalTrafficPolicy: 'Local' })], {}).rows.keys()].some((id) => id.endsWith('|local')),
    'without the option',
  );
  t.notOk(
    [...run([web({})]).rows.keys()].some((id) => id.endsWith('|local')),
    'Cluster policy',
  );
});

t.test('a twin with no local endpoint is written empty (the node programs drop its traffic, as kube-proxy does)', async (t) => {
  const { rows } = run([web({ externalTrafficPolicy: 'Local' })], ON, { name: 'node-c' });
  t.same(addresses(rows.get('198.18.0.1|30080|TCP|local')), []);
  t.equal(addresses(rows.get('198.18.0.1|30080|TCP')).length, 3);
});

t.test('without a node name the twins are empty, and the service is told why', async (t) => {
  const { rows, problems } = run([web({ externalTrafficPolicy: 'Local' })], ON, {});
  t.same(addresses(rows.get('192.0.2.10|80|TCP|local')), []);
  t.match(problems, [{ object: 'Service ns/web', field: 'spec.externalTrafficPolicy', message: /does not know its node/ }]);
});

t.test('a twin goes with its frontend: a cluster IP that takes the address takes both from the north-south service', async (t) => {
  const other = nsService('ns', 'other', ['192.0.2.10'], [{ port: 80, targetPort: 8080 }]);
  const { rows } = run([web({ externalTrafficPolicy: 'Local' }), other]);
  t.equal(rows.get('192.0.2.10|80|TCP')?.owner, 'ns/other', 'the cluster IP wins the frontend');
  t.notOk(rows.has('192.0.2.10|80|TCP|local'), 'and the twin is not written for the service that lost it');
  t.ok(rows.has('198.18.0.1|30080|TCP|local'), "the NodePort's twin stays");
});

t.test("healthCheckNodePort: carried on a LoadBalancer's twins; each port answers this node's endpoint count", async (t) => {
  const lb = (port: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const svc = web({ externalTrafficPolicy: 'Local', ...extra });
    (svc.spec as Record<string, unknown>).type = 'LoadBalancer';
    (svc.spec as Record<string, unknown>).healthCheckNodePort = port;
    return svc;
  };
  const { rows, problems } = run([lb(32100)]);
  t.same(problems, []);
  t.equal(rows.get('198.18.0.1|30080|TCP|local')?.healthCheckNodePort, 32100, 'on the twins');
  t.equal(rows.get('198.18.0.1|30080|TCP')?.healthCheckNodePort, undefined, 'not on the frontend for every client');
  const checks = new HealthChecks();
  checks.apply({ table: SERVICES, kind: 'full', rows: [...rows.values()] });
  t.same([...checks.byPort()], [[32100, { service: 'ns/web', localEndpoints: 2 }]], 'two endpoints here, counted once over the twins');
  // A delta: the node loses its endpoints (the twins emptied), then the service goes.
  const emptied = [...rows.values()].filter((r) => r.frontend.scope).map((r) => ({ ...r, backends: [] }));
  checks.apply({ table: SERVICES, kind: 'delta', changes: { upserts: emptied, removals: [] } });
  t.same([...checks.byPort()], [[32100, { service: 'ns/web', localEndpoints: 0 }]]);
  checks.apply({ table: SERVICES, kind: 'delta', changes: { upserts: [], removals: emptied.map((r) => frontendId(r.frontend)) } });
  t.same([...checks.byPort()], []);

  const nodePortOnly = lb(32100);
  (nodePortOnly.spec as Record<string, unknown>).type = 'NodePort';
  t.notOk(
    [...run([nodePortOnly]).rows.values()].some((r) => r.healthCheckNodePort),
    'a NodePort service has none (kube-proxy answers only LoadBalancers)',
  );
  const cluster = lb(32100, { externalTrafficPolicy: 'Cluster' });
  t.notOk(
    [...run([cluster]).rows.values()].some((r) => r.healthCheckNodePort),
    'nor one with externalTrafficPolicy Cluster',
  );
  const bad = run([lb('x')]);
  t.match(bad.problems, [{ field: 'spec.healthCheckNodePort', message: /a port is an integer from 1 to 65535/ }]);
});
