// Changes to the services file while traffic flows.
import { renameSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2', 'be-3'];

t.test('live updates', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  const ip = (b: string): string => lab.pod(b).ipv4;
  const web = service('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }]);
  const slice = (backends: string[]): Record<string, unknown> => endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ port: 8080 }], backends.map(ip));
  lab.writeServices([web, slice(BACKENDS)]);
  const agent = lab.startAgent();
  await agent.nextSync();

  t.test('a file change is applied while the agent runs', async (t) => {
    const next = agent.nextSync(5000);
    const written = Date.now();
    lab.writeServices([
      web,
      slice(['be-1']),
      service('ns', 'api', ['10.96.0.11'], [{ port: 80, targetPort: 8080 }]),
      endpointSlice('ns', 'api-1', 'api', 'IPv4', [{ port: 8080 }], [ip('be-3')]),
    ]);
    const synced = await next;
    t.match(synced, { frontendsAdded: 1, frontendsUpdated: 1, errors: 0 });
    t.comment(`applied ${Date.now() - written} ms after the write`);
    t.same(byBackend(await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 20 })), { 'be-1': 20 });
    t.same(byBackend(await lab.probe({ mode: 'tcp', host: '10.96.0.11', port: 80, count: 5 })), { 'be-3': 5 });
  });

  t.test('a broken file keeps the last applied state; an invalid object is skipped, others apply', async (t) => {
    const unreadable = agent.waitForLog((l) => /services file not applied/.test(l.msg), 5000, agent.logs.length);
    writeFileSync(`${lab.servicesFile}.broken`, 'apiVersion: v1\nkind: Service\nmetadata: {name: [oops\n');
    renameSync(`${lab.servicesFile}.broken`, lab.servicesFile);
    await unreadable;
    const still = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 10 });
    if (!t.same(byBackend(still), { 'be-1': 10 }, `still served (errors: ${JSON.stringify(still.errors)})`)) t.comment(JSON.stringify(agent.logs.slice(-8), null, 1));
    const next = agent.nextSync(5000);
    const bad = service('ns', 'bad', ['10.96.0.999'], [{ port: 80 }]);
    lab.writeServices([web, slice(BACKENDS), bad]);
    await next;
    const warning = agent.logs.find((l) => l.object === 'Service ns/bad');
    t.match(warning, { field: 'spec.clusterIPs[0]', msg: /10\.96\.0\.999.*expected an IPv4 or IPv6 address/ }, 'the problem names object and field');
    t.same(Object.keys(byBackend(await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 60 }))).sort(), BACKENDS);
    t.equal(agent.child.exitCode, null, 'the agent keeps running');
  });

  t.test('a backend removed and added back while 10 clients connect in a loop loses no connection', async (t) => {
    const maps = openPinnedDatapath(lab.bpffs);
    t.teardown(() => maps.close());
    const load = lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 100_000, concurrency: 10, durationMs: 4000, timeoutMs: 2000 });
    await new Promise((r) => setTimeout(r, 700));
    // Like a pod going away: out of the EndpointSlice first; connections already under way
    // drain; then its server terminates. From the removal on, no new connection may reach it.
    let synced = agent.nextSync(5000);
    lab.writeServices([web, slice(['be-1', 'be-3'])]);
    await synced;
    await new Promise((r) => setTimeout(r, 300));
    const drained = await lab.backendAccepted('be-2');
    await new Promise((r) => setTimeout(r, 500));
    t.equal(await lab.backendAccepted('be-2'), drained, `be-2 accepted nothing after its removal (${drained} before)`);
    const counters = maps.maps.counters();
    await lab.stopBackend('be-2');
    await new Promise((r) => setTimeout(r, 300));
    await lab.startBackend('be-2', [8080]);
    synced = agent.nextSync(5000);
    lab.writeServices([web, slice(BACKENDS)]);
    await synced;
    const r = await load;
    t.same(r.errors, {}, `no failed connection out of ${r.ok}`);
    t.ok(r.ok > 200, `${r.ok} connections in 4 s`);
    t.same(Object.keys(byBackend(r)).sort(), BACKENDS, 'be-2 served again after it came back');
    t.ok(counters.translated > 0n);
  });
});
