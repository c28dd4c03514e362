// ResourceWatch against the list/watch server: paged lists form one snapshot, objects are
// trimmed to the fields socklb reads, and watch events follow.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import t from 'tap';
import { LIST_PAGE_SIZE, ResourceWatch } from '../../src/k8s/resource-watch.js';
import { FakeApiServer } from '../../src/lab/fake-api-server.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

t.test('a large list arrives in pages, trimmed, then the watch continues from it', async (t) => {
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
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  const seen = new Map<string, KubernetesObject>();
  let changes = 0;
  const w = new ResourceWatch<KubernetesObject>(
    kc,
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
  t.notOk(one.metadata.managedFields, 'managedFields are not kept');
  t.notOk(one.status, 'status is not kept');
  t.same(one.spec.ports, [{ protocol: 'TCP', targetPort: 80, port: 80 }], 'what the model reads is kept');
  api.apply('endpointslices', endpointSlice('ns', 'x', 's0', 'IPv4', [{ port: 80 }], ['10.0.0.1']));
  api.delete('services', 'ns', 's1');
  const until2 = Date.now() + 5000;
  while (seen.has('s1') && Date.now() < until2) await new Promise((r) => setTimeout(r, 10));
  t.notOk(seen.has('s1'), 'a watch event followed the list');
  t.ok(changes > n, 'changes were signalled');
});
