// The index keeps north-south frontends up to date as Nodes, Pods and Services change, and a
// services file with NodePort and LoadBalancer services decodes into them.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { frontendId, type DesiredService } from '../../src/model/desired-services.js';
import { desiredServices, ServiceIndex } from '../../src/model/service-index.js';
import { parseServicesText } from '../../src/source/services-file.js';
import { endpointSlice, service, toYaml } from '../helpers/k8s-fixtures.js';
import { node, nsService } from '../helpers/ns-fixtures.js';
import { appliedDeltas } from './applied-deltas.js';

const asMap = (list: DesiredService[]): Map<string, DesiredService> => new Map(list.map((s) => [frontendId(s.frontend), s]));
const pod = (name: string, ip: string): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name }, status: { podIPs: [{ ip }] } });

t.test("NodePort frontends follow this node's Node object: they appear with it, move with its addresses, go with it", async (t) => {
  const index = new ServiceIndex({ name: 'n1' });
  index.upsertService(nsService('ns', 'web', ['10.96.0.10'], [{ port: 80, nodePort: 30080 }], { type: 'NodePort' }));
  t.same(
    index.flush().upserts.map((s) => frontendId(s.frontend)),
    ['10.96.0.10|80|TCP'],
  );
  t.same(
    index.problems().map((p) => p.field),
    ['spec.ports[0].nodePort'],
  );
  index.upsertNode(node('n2', ['172.16.0.2']));
  t.same(index.flush(), { upserts: [], removals: [] }, "another node's object changes nothing");
  index.upsertNode(node('n1', ['172.16.0.1']));
  t.same(
    index.flush().upserts.map((s) => frontendId(s.frontend)),
    ['172.16.0.1|30080|TCP'],
  );
  t.same(index.problems(), []);
  index.upsertNode(node('n1', ['172.16.0.9']));
  t.same(index.flush(), { upserts: [asMap(index.desired()).get('172.16.0.9|30080|TCP')!], removals: ['172.16.0.1|30080|TCP'] });
  index.deleteNode('n1');
  t.same(index.flush().removals, ['172.16.0.9|30080|TCP']);
  t.same(
    index.problems().map((p) => p.field),
    ['spec.ports[0].nodePort'],
  );
});

t.test('an externalIP that becomes a pod address is withdrawn, and comes back when the pod goes', async (t) => {
  const index = new ServiceIndex();
  index.upsertService(nsService('ns', 'web', ['10.96.0.10'], [{ port: 80 }], { externalIPs: ['192.0.2.10'] }));
  index.flush();
  index.upsertPod(pod('p', '192.0.2.10'));
  t.same(index.flush(), { upserts: [], removals: ['192.0.2.10|80|TCP'] });
  t.match(index.problems()[0], { object: 'Service ns/web', field: 'spec.externalIPs[0]' });
  index.deletePod('ns', 'p');
  t.same(
    index.flush().upserts.map((s) => frontendId(s.frontend)),
    ['192.0.2.10|80|TCP'],
  );
  t.same(index.problems(), []);
});

t.test("a cluster IP arriving later takes the frontend from another service's externalIP, which gets it back when the cluster IP goes", async (t) => {
  const index = new ServiceIndex();
  index.upsertService(nsService('ns', 'a', ['10.96.0.1'], [{ port: 80 }], { externalIPs: ['10.96.0.2'] }));
  index.upsertSlice(endpointSlice('ns', 'a-1', 'a', 'IPv4', [{ port: 80 }], ['10.0.0.1']));
  index.flush();
  t.equal(asMap(index.desired()).get('10.96.0.2|80|TCP')?.owner, 'ns/a');
  index.upsertService(service('ns', 'b', ['10.96.0.2'], [{ port: 80 }]));
  const d = index.flush();
  t.same(
    d.upserts.map((s) => [frontendId(s.frontend), s.owner, s.reach]),
    [['10.96.0.2|80|TCP', 'ns/b', undefined]],
  );
  t.same(d.removals, []);
  t.same(
    index.problems().map((p) => `${p.object} ${p.field}`),
    ['Service ns/a spec.externalIPs[0]'],
  );
  index.deleteService('ns', 'b');
  const back = index.flush();
  t.same(
    back.upserts.map((s) => [frontendId(s.frontend), s.owner, s.reach]),
    [['10.96.0.2|80|TCP', 'ns/a', 'external']],
  );
  t.same(index.problems(), []);
});

t.test('a services file with NodePort and LoadBalancer services decodes into their frontends', async (t) => {
  const text = toYaml([
    nsService('demo', 'web', ['10.96.0.10'], [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }], { type: 'NodePort' }),
    nsService('demo', 'lb', ['10.96.0.11'], [{ port: 443, targetPort: 8443, nodePort: 30443 }], {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      ingress: [{ ip: '198.51.100.1', ipMode: 'VIP' }, { hostname: 'lb.example.com' }],
    }),
    endpointSlice('demo', 'web-1', 'web', 'IPv4', [{ name: 'http', port: 8080 }], ['10.0.0.1']),
    endpointSlice('demo', 'lb-1', 'lb', 'IPv4', [{ port: 8443 }], ['10.0.0.2']),
    node('n1', ['172.16.0.1']),
  ]);
  const content = parseServicesText(text, 'test.yaml');
  t.same(content.problems, []);
  const { services, problems } = desiredServices(content.services, content.slices, { name: 'n1' }, {}, { nodes: content.nodes });
  t.same(problems, []);
  const rows = asMap(services);
  t.same([...rows.keys()].sort(), ['10.96.0.10|80|TCP', '10.96.0.11|443|TCP', '172.16.0.1|30080|TCP', '172.16.0.1|30443|TCP', '198.51.100.1|443|TCP']);
  t.strictSame(rows.get('198.51.100.1|443|TCP'), {
    frontend: { address: '198.51.100.1', port: 443, protocol: 'TCP' },
    backends: [{ address: '10.0.0.2', port: 8443 }],
    owner: 'demo/lb',
    affinityTimeoutSeconds: 0,
    reach: 'external',
    externalPolicyLocal: true,
  });
  t.same(rows.get('172.16.0.1|30080|TCP')?.backends, [{ address: '10.0.0.1', port: 8080 }]);
});

t.test('any sequence of events with north-south addresses ends where a fresh computation does', async (t) => {
  const names = ['a', 'b', 'c'];
  // Addresses that are cluster IPs of others, externalIPs of several, node and pod addresses.
  const addrs = ['10.96.0.1', '10.96.0.2', '192.0.2.1', '172.16.0.1'];
  const event = fc.oneof(
    fc.record({
      kind: fc.constant('svc' as const),
      name: fc.constantFrom(...names),
      ip: fc.constantFrom('10.96.0.1', '10.96.0.2', '10.96.0.3'),
      external: fc.subarray(addrs, { maxLength: 2 }),
      nodePort: fc.constantFrom(undefined, 80, 30080),
    }),
    fc.record({ kind: fc.constant('delsvc' as const), name: fc.constantFrom(...names) }),
    fc.record({ kind: fc.constant('node' as const), addresses: fc.subarray(['172.16.0.1', '192.0.2.1'], { maxLength: 2 }) }),
    fc.record({ kind: fc.constant('pod' as const), ip: fc.constantFrom(undefined, '192.0.2.1', '10.96.0.2') }),
    fc.constant({ kind: 'flush' as const }),
  );
  fc.assert(
    fc.property(fc.array(event, { maxLength: 25 }), (events) => {
      const index = new ServiceIndex({ name: 'n1' });
      const services = new Map<string, Record<string, unknown>>();
      let nodeObj: Record<string, unknown> | undefined;
      let podObj: Record<string, unknown> | undefined;
      const { applied, flush } = appliedDeltas(index);
      for (const e of events) {
        if (e.kind === 'svc') {
          const s = nsService('ns', e.name, [e.ip], [{ port: 80, nodePort: e.nodePort }], { type: e.nodePort ? 'NodePort' : 'ClusterIP', externalIPs: e.external });
          services.set(e.name, s);
          index.upsertService(s);
        } else if (e.kind === 'delsvc') {
          services.delete(e.name);
          index.deleteService('ns', e.name);
        } else if (e.kind === 'node') {
          nodeObj = node('n1', e.addresses);
          index.upsertNode(nodeObj);
        } else if (e.kind === 'pod') {
          podObj = e.ip === undefined ? undefined : pod('p', e.ip);
          if (podObj) index.upsertPod(podObj);
          else index.deletePod('ns', 'p');
        } else flush();
      }
      flush();
      const fresh = asMap(desiredServices([...services.values()], [], { name: 'n1' }, {}, { nodes: nodeObj ? [nodeObj] : [], pods: podObj ? [podObj] : [] }).services);
      const ids = (m: Map<string, DesiredService>): string[] => [...m.keys()].sort();
      assert.deepEqual(ids(applied), ids(fresh));
      assert.deepEqual(ids(asMap(index.desired())), ids(fresh));
      for (const [fid, s] of fresh) {
        const mine = applied.get(fid)!;
        // A cluster IP always wins over a north-south address, whatever the order.
        assert.equal(mine.reach, s.reach, fid);
        // Between claimants of the same kind the first to arrive wins: compare the rest.
        const sameKind = [...services.values()].filter((x) => {
          const spec = x.spec as { clusterIP: string; externalIPs?: string[]; ports: { port: number; nodePort?: number }[] };
          if (s.reach === undefined) return spec.clusterIP === s.frontend.address && s.frontend.port === 80;
          return (spec.externalIPs ?? []).includes(s.frontend.address) || spec.ports[0]!.nodePort === s.frontend.port;
        });
        if (sameKind.length <= 1) assert.deepEqual(mine, s, fid);
      }
    }),
    { numRuns: 1500 },
  );
  t.pass('1,500 random event sequences');
});

t.test('a service that takes its own cluster IP again as an externalIP yields it to a service waiting with that cluster IP', async (t) => {
  // Found by the property above (seed -2043099458): a and c both claim cluster IP 10.96.0.1, a
  // holds it; then a moves to 10.96.0.3 and names 10.96.0.1 as an externalIP. a released the
  // frontend and took it again at once, as a north-south address, which c's cluster IP outranks.
  const index = new ServiceIndex({ name: 'n1' });
  const { applied, flush } = appliedDeltas(index);
  index.upsertService(nsService('ns', 'a', ['10.96.0.1'], [{ port: 80 }]));
  index.upsertService(nsService('ns', 'c', ['10.96.0.1'], [{ port: 80 }]));
  flush();
  t.equal(applied.get('10.96.0.1|80|TCP')?.owner, 'ns/a');
  index.upsertService(nsService('ns', 'a', ['10.96.0.3'], [{ port: 80 }], { externalIPs: ['10.96.0.1'] }));
  flush();
  t.match(applied.get('10.96.0.1|80|TCP'), { owner: 'ns/c' });
  t.notOk('reach' in applied.get('10.96.0.1|80|TCP')!, "c's cluster IP");
  t.equal(applied.get('10.96.0.3|80|TCP')?.owner, 'ns/a');
});
