// The agent against an API server speaking the real list/watch protocol, on the real kernel
// datapath: what the maps hold must converge to what the API server says, through changes,
// dropped watches, 410 relists, outages and bursts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { desiredServices } from '../../src/model/service-index.js';
import type { EndpointSlice, Service } from '../../src/model/k8s-objects.js';
import { FakeApiServer } from '../../src/lab/fake-api-server.js';
import { byBackend, eventually, KernelLab, programmed, programmedView, type AgentProcess } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const NODE = 'node-1';
const BACKENDS = ['be-1', 'be-2', 'be-3'];

const node = (zone?: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE, ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}) } },
});

async function get(address: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${address}${path}`);
  return { status: res.status, body: await res.text() };
}

t.test('agent fed by the API server', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  const api = new FakeApiServer();
  await api.start();
  t.teardown(() => api.stop());
  const kubeconfig = join(lab.dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfig());

  const ip = (b: string): string => lab.pod(b).ipv4;
  const expected = (): Record<string, string[]> => {
    const zone = (api.list('nodes')[0]?.metadata as { labels?: Record<string, string> } | undefined)?.labels?.['topology.kubernetes.io/zone'];
    return programmedView(desiredServices(api.list('services') as Service[], api.list('endpointslices') as EndpointSlice[], { name: NODE, zone }).services);
  };
  const converged = async (what: string, timeoutMs = 5000): Promise<void> => {
    const ms = await eventually(
      () => JSON.stringify(programmed(lab.bpffs)) === JSON.stringify(expected()),
      timeoutMs,
      () => `maps ${JSON.stringify(programmed(lab.bpffs))} != API ${JSON.stringify(expected())}; agent log tail: ${JSON.stringify(agent.logs.slice(-6))}`,
    );
    t.pass(`${what}: converged in ${ms} ms`);
  };

  api.apply('nodes', node('zone-a'));
  api.apply('services', service('ns', 'web', ['10.96.0.10'], [{ name: 'http', port: 80, targetPort: 8080 }]));
  api.apply('endpointslices', endpointSlice('ns', 'web-abc', 'web', 'IPv4', [{ name: 'http', port: 8080 }], BACKENDS.map(ip)));
  for (let i = 0; i < 20; i++) {
    api.apply('services', service('ns', `svc-${i}`, [`10.96.1.${i}`], [{ port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }]));
    api.apply('endpointslices', endpointSlice('ns', `svc-${i}-x`, `svc-${i}`, 'IPv4', [{ port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], [`10.244.9.${i}`]));
  }

  const agent: AgentProcess = lab.startAgent(['--kubeconfig', kubeconfig, '--node-name', NODE]);
  const ops = (await agent.waitForLog((l) => l.msg === 'serving /healthz, /readyz and /metrics')).address as string;

  t.test('initial sync: lists, then one full sync; ready and healthy', async (t) => {
    await agent.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps');
    await converged('initial lists');
    t.equal(Object.keys(programmed(lab.bpffs)).length, 41);
    t.same(await get(ops, '/healthz'), { status: 200, body: 'ok\n' });
    t.equal((await get(ops, '/readyz')).status, 200);
    const metrics = (await get(ops, '/metrics')).body;
    t.match(metrics, /^socklb_programmed\{kind="frontends"\} 41$/m);
    t.match(metrics, /^socklb_map_capacity\{map="frontends"\} 65536$/m);
    t.match(metrics, /^socklb_map_entries\{map="vips"\} 21$/m, 'one service address per cluster IP, whatever its ports');
    t.match(metrics, /^socklb_map_capacity\{map="vips"\} 65536$/m);
    t.match(metrics, /^socklb_datapath_events_total\{event="port_refused"\} 0$/m);
    t.match(metrics, /^socklb_sync_duration_seconds_count [1-9]/m);
    t.match(metrics, /^socklb_watch_restarts_total\{resource="endpointslices"\} 0$/m);
    t.equal((await get(ops, '/nope')).status, 404);
  });

  t.test('real connections are balanced over the endpoints the API server lists', async (t) => {
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 90, concurrency: 3 });
    t.same(Object.keys(byBackend(r)).sort(), BACKENDS);
  });

  t.test('every kind of change', async (t) => {
    api.apply('services', service('ns', 'new', ['10.96.2.1'], [{ port: 80 }]));
    await converged('service added (no endpoints yet)');
    api.apply('endpointslices', endpointSlice('ns', 'new-1', 'new', 'IPv4', [{ port: 8080 }], [ip('be-1')]));
    await converged('slice added');
    api.apply('endpointslices', endpointSlice('ns', 'new-2', 'new', 'IPv4', [{ port: 8080 }], [ip('be-2')]));
    await converged('second slice merged');
    api.apply('endpointslices', endpointSlice('ns', 'new-1', 'new', 'IPv4', [{ port: 8080 }], [{ address: ip('be-1'), ready: false, serving: true, terminating: true }]));
    await converged('endpoint terminating');
    api.apply('services', service('ns', 'new', ['10.96.2.1'], [{ port: 81 }]));
    await converged('service port changed');
    api.delete('endpointslices', 'ns', 'new-2');
    await converged('slice deleted');
    api.delete('services', 'ns', 'new');
    await converged('service deleted');
    t.notOk(programmed(lab.bpffs)['10.96.2.1:81/TCP']);

    // Topology: hints for zone-a on be-1 only; the node moves between zones.
    const hinted = endpointSlice('ns', 'zoned-1', 'zoned', 'IPv4', [{ port: 8080 }], [ip('be-1'), ip('be-2')]);
    (hinted.endpoints as Record<string, unknown>[])[0]!.hints = { forZones: [{ name: 'zone-a' }] };
    (hinted.endpoints as Record<string, unknown>[])[1]!.hints = { forZones: [{ name: 'zone-b' }] };
    const zoned = service('ns', 'zoned', ['10.96.2.2'], [{ port: 80 }]);
    (zoned.metadata as Record<string, unknown>).annotations = { 'service.kubernetes.io/topology-mode': 'Auto' };
    api.apply('services', zoned);
    api.apply('endpointslices', hinted);
    await converged('topology hints');
    t.same(programmed(lab.bpffs)['10.96.2.2:80/TCP'], [`${ip('be-1')}:8080`], 'zone-a node uses the zone-a endpoint');
    api.apply('nodes', node('zone-b'));
    await converged('node zone label changed');
    t.same(programmed(lab.bpffs)['10.96.2.2:80/TCP'], [`${ip('be-2')}:8080`]);

    // internalTrafficPolicy Local: only this node's endpoints.
    const local = service('ns', 'local', ['10.96.2.3'], [{ port: 80 }]);
    (local.spec as Record<string, unknown>).internalTrafficPolicy = 'Local';
    const localSlice = endpointSlice('ns', 'local-1', 'local', 'IPv4', [{ port: 8080 }], [ip('be-1'), ip('be-3')]);
    (localSlice.endpoints as Record<string, unknown>[])[1]!.nodeName = NODE;
    (localSlice.endpoints as Record<string, unknown>[])[0]!.nodeName = 'node-2';
    api.apply('services', local);
    api.apply('endpointslices', localSlice);
    await converged('internalTrafficPolicy Local');
    t.same(programmed(lab.bpffs)['10.96.2.3:80/TCP'], [`${ip('be-3')}:8080`]);
    const r = await lab.probe({ mode: 'tcp', host: '10.96.2.3', port: 80, count: 10 });
    t.same(byBackend(r), { 'be-3': 10 });
  });

  t.test('a watch dropped mid-stream resumes from its resourceVersion, without a relist', async (t) => {
    const lists = api.requests.list;
    api.dropConnections();
    api.apply('services', service('ns', 'after-drop', ['10.96.3.1'], [{ port: 80 }]));
    await converged('change made while the watch was down');
    await eventually(
      () => api.openWatches >= 3,
      5000,
      () => `${api.openWatches} watches open`,
    );
    t.equal(api.requests.list, lists, 'no list was needed');
    t.match((await get(ops, '/metrics')).body, /^socklb_watch_restarts_total\{resource="services"\} [1-9]/m);
  });

  t.test('bookmarks are asked for and accepted', async (t) => {
    const open = api.openWatches;
    t.ok(open >= 3, `${open} watches open`);
    t.equal(api.bookmark(), open, 'every watch asked for bookmarks (allowWatchBookmarks=true)');
    api.apply('services', service('ns', 'after-bookmark', ['10.96.3.2'], [{ port: 80 }]));
    await converged('change after a bookmark');
  });

  t.test('410 Gone: the agent relists and converges', async (t) => {
    const lists = api.requests.list;
    const gone = api.requests.gone;
    // History is compacted and the streams cut: resuming from the old resourceVersion gets 410.
    api.compact();
    api.dropConnections();
    api.delete('services', 'ns', 'svc-0');
    api.apply('endpointslices', endpointSlice('ns', 'svc-1-x', 'svc-1', 'IPv4', [{ port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], ['10.244.9.201']));
    await converged('relist after 410', 10_000);
    t.ok(api.requests.gone > gone, 'the server answered 410');
    t.ok(api.requests.list > lists, 'the agent relisted');
    // An ERROR event with code 410 inside an open stream: the same outcome.
    api.expireWatches();
    api.delete('services', 'ns', 'svc-2');
    await converged('relist after an in-stream 410', 10_000);
  });

  t.test('an API outage keeps the datapath; on return one resync converges', async (t) => {
    await api.stop();
    const before = programmed(lab.bpffs);
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 30 });
    t.equal(r.ok, 30, 'services keep working while the API server is down');
    await new Promise((res) => setTimeout(res, 1500));
    t.same(programmed(lab.bpffs), before, 'nothing was flushed');
    t.equal((await get(ops, '/readyz')).status, 200, 'still ready: the maps hold the last state');
    // Changes made while the agent cannot see them.
    api.delete('services', 'ns', 'svc-3');
    api.apply('endpointslices', endpointSlice('ns', 'web-abc', 'web', 'IPv4', [{ name: 'http', port: 8080 }], [ip('be-2')]));
    await api.start();
    await converged('after the outage', 40_000);
    t.same(programmed(lab.bpffs)['10.96.0.10:80/TCP'], [`${ip('be-2')}:8080`]);
  });

  t.test('a burst of 1,000 changes converges to the right end state, in coalesced syncs', async (t) => {
    const syncsBefore = agent.logs.filter((l) => l.msg === 'synced').length;
    for (let k = 0; k < 1000; k++) {
      const i = k % 100;
      const name = `burst-${i}`;
      if (k % 10 === 9) api.delete('endpointslices', 'burst', `${name}-x`);
      else if (k < 100) api.apply('services', service('burst', name, [`10.96.4.${i}`], [{ port: 80 }]));
      else api.apply('endpointslices', endpointSlice('burst', `${name}-x`, name, 'IPv4', [{ port: 8080 }], [`10.244.${8 + (k % 3)}.${i}`, `10.244.7.${k % 200}`]));
    }
    await converged('1,000 changes', 20_000);
    const syncs = agent.logs.filter((l) => l.msg === 'synced').length - syncsBefore;
    t.ok(syncs < 1000, `${syncs} syncs for 1,000 events`);
    t.equal(agent.logs.filter((l) => l.msg === 'service not programmed').length, 0);
  });

  t.test("pods, namespaces and NetworkPolicies reach the agent's store; a bad policy is logged with its field", async (t) => {
    const stored = (pods: number, namespaces: number, networkPolicies: number) => (l: Record<string, unknown>) =>
      l.msg === 'synced' && l.pods === pods && l.namespaces === namespaces && l.networkPolicies === networkPolicies;
    let from = agent.logs.length;
    api.apply('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { team: 'a' } } });
    for (const [i, node] of ['node-1', 'node-2', 'node-3'].entries()) {
      api.apply('pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { namespace: 'team-a', name: `p${i}`, labels: { app: 'web' } },
        spec: { nodeName: node },
        status: { podIPs: [{ ip: `10.244.20.${i}` }] },
      });
    }
    const np = (name: string, spec: unknown) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'team-a', name }, spec });
    api.apply('networkpolicies', np('deny', { podSelector: {} }));
    api.apply('networkpolicies', np('bad', { podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] }));
    await agent.waitForLog(stored(3, 1, 2), 5000, from);
    t.match(
      agent.logs.slice(from).find((l) => l.object === 'NetworkPolicy team-a/bad'),
      { field: 'spec.ingress[0].ports[0].endPort', msg: /endPort cannot follow a named port/ },
    );
    from = agent.logs.length;
    api.delete('pods', 'team-a', 'p1');
    api.delete('networkpolicies', 'team-a', 'bad');
    api.delete('namespaces', '', 'team-a');
    await agent.waitForLog(stored(2, 0, 1), 5000, from);
    t.pass('deletes reach the store');
  });
});
