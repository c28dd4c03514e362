// ResourceWatch against the list/watch server: paged lists form one snapshot, objects reach
// the consumer as served, and watch events follow.
import t from 'tap';
import { parseKubeconfig } from '../../src/k8s/kube-config.js';
import { LIST_PAGE_BYTES, LIST_PAGE_SIZE, nextPageLimit, ResourceWatch, type ApiObject } from '../../src/k8s/resource-watch.js';
import { FakeApiServer } from '../../src/lab/fake-api-server.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

t.test('a large list arrives in pages, then the watch continues from it', async (t) => {
  const api = new FakeApiServer();
  await api.start();
  t.teardown(() => api.stop());
  const n = LIST_PAGE_SIZE * 2 + 7;
  for (let i = 0; i < n; i++) {
    const s = service('ns', `s${i}`, [`10.96.${i >> 8}.${i & 255}`], [{ port: 80 }]);
    (s.metadata as Record<string, unknown>).managedFields = [{ manager: 'kubectl', fieldsV1: { big: 'x'.repeat(100) } }];
    (s as Record<string, unknown>).status = { loadBalancer: {} };
    api.apply('services', s);
  }
  const conn = parseKubeconfig(api.kubeconfig(), '/nowhere/kubeconfig')!;
  const seen = new Map<string, ApiObject>();
  let changes = 0;
  const w = new ResourceWatch(
    conn,
    'services',
    '/api/v1/services',
    { upsert: (o) => seen.set(o.metadata!.name!, structuredClone(o)), delete: (o) => seen.delete(o.metadata!.name!), changed: () => changes++ },
    (_r, err) => t.fail(err.message),
    { initialMs: 50, maxMs: 200 },
  );
  t.teardown(() => w.stop());
  w.start();
  const until = Date.now() + 5000;
  while (!w.status.listed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  t.ok(w.status.listed, 'listed');
  t.equal(seen.size, n, `all ${n} objects from ${Math.ceil(n / LIST_PAGE_SIZE)} pages`);
  t.equal(api.requests.list, 1, 'the pages belong to one list');
  const one = seen.get('s0') as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.same(one.spec.ports, [{ protocol: 'TCP', targetPort: 80, port: 80 }], 'the object as served');
  api.apply('endpointslices', endpointSlice('ns', 'x', 's0', 'IPv4', [{ port: 80 }], ['10.0.0.1']));
  api.delete('services', 'ns', 's1');
  const until2 = Date.now() + 5000;
  while (seen.has('s1') && Date.now() < until2) await new Promise((r) => setTimeout(r, 10));
  t.notOk(seen.has('s1'), 'a watch event followed the list');
  t.ok(changes > Math.ceil(n / LIST_PAGE_SIZE), 'changes were signalled per page and per event');
});

t.test('410 Gone after an outage: a relist passes on what changed and deletes what is gone', async (t) => {
  const api = new FakeApiServer();
  await api.start();
  t.teardown(() => api.stop());
  for (const name of ['a', 'b', 'c']) api.apply('services', service('ns', name, ['10.96.0.1'], [{ port: 80 }]));
  const seen = new Map<string, string>();
  const errors: string[] = [];
  const w = new ResourceWatch(
    parseKubeconfig(api.kubeconfig(), '/nowhere/kubeconfig')!,
    'services',
    '/api/v1/services',
    { upsert: (o) => seen.set(o.metadata!.name!, o.metadata!.resourceVersion!), delete: (o) => seen.delete(o.metadata!.name!), changed: () => undefined },
    (_r, err) => errors.push(err.message),
    { initialMs: 20, maxMs: 50 },
  );
  t.teardown(() => w.stop());
  w.start();
  const settled = async (pred: () => boolean): Promise<void> => {
    const until = Date.now() + 5000;
    while (!pred() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  };
  await settled(() => w.status.listed && api.openWatches === 1);
  const rvB = seen.get('b');
  api.dropConnections();
  api.delete('services', 'ns', 'a');
  api.apply('services', service('ns', 'c', ['10.96.0.2'], [{ port: 80 }]));
  api.compact(); // the changes are no longer in the history: only a relist shows them
  await settled(() => !seen.has('a') && api.requests.list === 2);
  t.same([...seen.keys()].sort(), ['b', 'c'], 'the deleted object is gone after the relist');
  t.not(seen.get('c'), undefined);
  t.equal(seen.get('b'), rvB, 'the unchanged object kept its version');
  t.ok(w.status.restarts >= 1 && errors.length >= 1, 'the cut watch was reported and restarted');
  t.ok(api.requests.gone >= 1, 'the server answered 410');
  w.stop();
  t.equal(api.requests.list, 2, 'stopped: no more requests');
});

t.test('page limits keep a page under LIST_PAGE_BYTES, between 1 and LIST_PAGE_SIZE items', async (t) => {
  t.equal(nextPageLimit(0, 0), LIST_PAGE_SIZE, 'an empty page says nothing');
  t.equal(nextPageLimit(100, 30_000), LIST_PAGE_SIZE, 'small objects: the most');
  t.equal(nextPageLimit(100, 2 * LIST_PAGE_BYTES), 50);
  t.equal(nextPageLimit(1, 10 * LIST_PAGE_BYTES), 1, 'one huge object: one per page');
});

t.test('large objects: later pages of the same list are smaller, and the list is still whole', async (t) => {
  const api = new FakeApiServer();
  await api.start();
  t.teardown(() => api.stop());
  const n = 300;
  for (let i = 0; i < n; i++) {
    const s = service('ns', `big${i}`, ['10.96.0.1'], [{ port: 80 }]);
    (s.metadata as Record<string, unknown>).annotations = { note: 'x'.repeat(3000) };
    api.apply('services', s);
  }
  const seen = new Set<string>();
  const limits: string[] = [];
  const w = new ResourceWatch(
    parseKubeconfig(api.kubeconfig(), '/nowhere/kubeconfig')!,
    'services',
    '/api/v1/services',
    { upsert: (o) => seen.add(o.metadata!.name!), delete: () => undefined, changed: () => undefined },
    (_r, err) => t.fail(err.message),
  );
  api.onRequest = (url: URL) => {
    if (url.searchParams.get('watch') !== 'true') limits.push(url.searchParams.get('limit') ?? '');
  };
  t.teardown(() => w.stop());
  w.start();
  const until = Date.now() + 5000;
  while (!w.status.listed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  t.equal(seen.size, n);
  t.equal(limits[0], String(LIST_PAGE_SIZE));
  t.ok(
    limits.slice(1).every((l) => Number(l) < LIST_PAGE_SIZE && Number(l) >= 1),
    `later limits ${limits.join(',')}`,
  );
  t.equal(api.requests.list, 1, 'one list');
});
