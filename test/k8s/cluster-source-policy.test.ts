// The API source's Pods, Namespaces and NetworkPolicies, through the list/watch server into the
// agent's PolicyInputs by way of its reconciler steps: lists, watch events, bookmarks, a relist;
// and pods' addresses still refused as cluster IPs.
import pino from 'pino';
import t from 'tap';
import { ClusterSource } from '../../src/k8s/cluster-source.js';
import { parseKubeconfig } from '../../src/k8s/kube-config.js';
import { FakeApiServer } from '../../src/lab/fake-api-server.js';
import { ReconcileSteps } from '../../src/datapath/reconcile-steps.js';
import { policyInputSteps } from '../../src/datapath/policy-inputs-step.js';
import { SERVICES, type DesiredService } from '../../src/model/desired-services.js';
import type { SourceUpdate } from '../../src/model/desired-tables.js';
import { PolicyInputs } from '../../src/model/policy-inputs.js';
import { RowStore } from '../../src/model/row-store.js';
import { service } from '../helpers/k8s-fixtures.js';

const pod = (namespace: string, name: string, ip: string, labels: Record<string, string>, nodeName = 'node-1'): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace, name, labels },
  spec: { nodeName, containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { podIP: ip, podIPs: [{ ip }] },
});
const namespace = (name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const policy = (ns: string, name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: ns, name },
  spec,
});

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('pods, namespaces and policies from the API server reach the agent store', async (t) => {
  const api = new FakeApiServer();
  await api.start();
  t.teardown(() => api.stop());
  api.apply('namespaces', namespace('team-a', { team: 'a' }));
  api.apply('namespaces', namespace('team-b'));
  api.apply('pods', pod('team-a', 'web-1', '10.244.0.5', { app: 'web' }));
  api.apply('pods', pod('team-b', 'db-1', '10.244.1.7', { app: 'db' }, 'node-2'));
  api.apply('networkpolicies', policy('team-a', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));
  api.apply(
    'networkpolicies',
    policy('team-a', 'bad', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }] }),
  );
  // A cluster IP that is a pod's address is refused: the Pods watch keeps that check working.
  api.apply('services', service('team-a', 'hijack', ['10.244.1.7'], [{ port: 80 }]));
  api.apply('services', service('team-a', 'web', ['10.96.0.10'], [{ port: 80 }]));

  const source = new ClusterSource(parseKubeconfig(api.kubeconfig(), '/nowhere/kubeconfig')!, 'node-1', pino({ level: 'silent' }), { initialMs: 50, maxMs: 200 });
  const inputs = new PolicyInputs();
  const services = new RowStore<DesiredService>(SERVICES);
  const steps = new ReconcileSteps();
  steps.register({ table: SERVICES, apply: (u) => (services.apply(u), { errors: [] }) });
  for (const step of policyInputSteps(inputs)) steps.register(step);
  let changes = 0;
  t.equal(source.ready(), false, 'not ready before the lists');
  source.start(() => changes++);
  t.teardown(() => source.stop());
  await until(() => source.ready(), 'every list');
  t.same(
    source.watchStatus().map((s) => s.resource),
    ['services', 'endpointslices', 'pods', 'namespaces', 'networkpolicies', 'nodes'],
  );
  const apply = (): SourceUpdate | undefined => {
    const u = source.take();
    if (u) steps.apply(u);
    return u;
  };
  const first = apply()!;
  t.same(
    first.tables.map((u) => [u.table.name, u.kind]),
    [
      ['services', 'full'],
      ['pods', 'full'],
      ['namespaces', 'full'],
      ['networkpolicies', 'full'],
    ],
    'the first update is whole tables',
  );
  t.same(
    [...services.values()].map((s) => s.owner),
    ['team-a/web'],
    'the hijacking cluster IP is refused',
  );
  t.match(source.problems(), [{ object: 'Service team-a/hijack', message: /10.244.1.7 is the address of Pod team-b\/db-1/ }]);
  t.same(inputs.pods.get('team-a/web-1'), {
    namespace: 'team-a',
    name: 'web-1',
    nodeName: 'node-1',
    labels: { app: 'web' },
    ips: ['10.244.0.5'],
    namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
  t.same(inputs.pods.get('team-b/db-1')!.nodeName, 'node-2', 'pods of every node are watched');
  t.same(inputs.namespaces.get('team-a'), { name: 'team-a', labels: { team: 'a', 'kubernetes.io/metadata.name': 'team-a' } });
  t.same(inputs.policies.get('team-a/deny-all')!.policyTypes, ['Ingress', 'Egress']);
  t.same(inputs.policies.get('team-a/bad')!.ingress, [], 'the bad rule allows nothing');
  t.same(inputs.policies.get('team-a/bad')!.policyTypes, ['Ingress'], 'the bad policy still isolates');
  t.match(
    source.problems().find((p) => p.object === 'NetworkPolicy team-a/bad'),
    { field: 'spec.ingress[0].from[0].ipBlock.except[0]', message: /not strictly inside cidr 10.0.0.0\/8/ },
    'the bad policy is reported with its field',
  );
  const generation = inputs.generation;

  t.test('watch events upsert and delete rows, as deltas', async (t) => {
    api.apply('pods', pod('team-a', 'web-1', '10.244.0.5', { app: 'web', version: 'v2' }));
    api.apply('pods', pod('team-a', 'web-2', '10.244.0.6', { app: 'web' }));
    api.delete('pods', 'team-b', 'db-1');
    api.apply('namespaces', namespace('team-c', { team: 'c' }));
    api.delete('namespaces', '', 'team-b');
    api.delete('networkpolicies', 'team-a', 'bad');
    api.apply(
      'networkpolicies',
      policy('team-a', 'allow-web', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }] }),
    );
    await until(() => {
      apply();
      return inputs.pods.get('team-a/web-2') !== undefined && inputs.policies.get('team-a/allow-web') !== undefined && inputs.namespaces.get('team-b') === undefined;
    }, 'the events in the store');
    t.same(inputs.pods.get('team-a/web-1')!.labels, { app: 'web', version: 'v2' });
    t.equal(inputs.pods.get('team-b/db-1'), undefined);
    t.same([...inputs.namespaces.values()].map((n) => n.name).sort(), ['team-a', 'team-c']);
    t.same([...inputs.policies.values()].map((p) => p.name).sort(), ['allow-web', 'deny-all']);
    t.same(inputs.policies.get('team-a/allow-web')!.ingress[0]!.ports, [{ protocol: 'TCP', port: 'http' }]);
    t.equal(
      source.problems().find((p) => p.object === 'NetworkPolicy team-a/bad'),
      undefined,
      "a deleted policy's problems go with it",
    );
    t.ok(inputs.generation > generation, 'the store says it changed');
    t.same([...services.values()].map((s) => s.owner).sort(), ['team-a/hijack', 'team-a/web'], 'the cluster IP is free once the pod that had it is gone');
  });

  t.test('a bookmark changes nothing', async (t) => {
    t.ok(api.bookmark() >= 5, 'bookmarks sent');
    await new Promise((r) => setTimeout(r, 100));
    t.equal(source.take(), undefined);
  });

  t.test('a relist after 410 Gone: what was deleted meanwhile is removed from the store', async (t) => {
    const gone = api.requests.gone;
    api.compact();
    api.dropConnections();
    api.delete('pods', 'team-a', 'web-2');
    api.delete('namespaces', '', 'team-c');
    api.delete('networkpolicies', 'team-a', 'deny-all');
    api.compact();
    await until(() => {
      apply();
      return inputs.pods.get('team-a/web-2') === undefined && inputs.namespaces.get('team-c') === undefined && inputs.policies.size === 1;
    }, 'the relist in the store');
    t.ok(api.requests.gone > gone, 'the server answered 410, so the watches relisted');
    t.same(
      [...inputs.pods.values()].map((p) => p.name),
      ['web-1'],
    );
    t.same(
      [...inputs.policies.values()].map((p) => p.name),
      ['allow-web'],
    );
    t.same(
      [...inputs.namespaces.values()].map((n) => n.name),
      ['team-a'],
    );
  });
});
