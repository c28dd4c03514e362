// The manifests in deploy/ against the code: the RBAC grants exactly what the agent watches,
// and the DaemonSet gives the agent what its preflight requires and probes what it serves.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import t from 'tap';
import { POD_SOCKET_CAPABILITIES } from '../../src/bpf/preflight.js';
import { WATCHED_RESOURCES } from '../../src/k8s/cluster-source.js';
import { PACKAGE_ROOT } from '../../src/install-paths.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const dir = join(PACKAGE_ROOT, 'deploy', 'kubernetes');
const objects: Obj[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => jsYaml.loadAll(readFileSync(join(dir, f), 'utf8')) as Obj[]);
const find = (kind: string): Obj => {
  const o = objects.find((x) => x.kind === kind);
  if (!o) throw new Error(`deploy/kubernetes has no ${kind}`);
  return o;
};

t.test('the ClusterRole grants get, list and watch on exactly the watched resources', async (t) => {
  const granted = find('ClusterRole').rules.flatMap((r: Obj) =>
    r.apiGroups.flatMap((g: string) => r.resources.map((res: string) => ({ group: g, resource: res, verbs: [...r.verbs].sort() }))),
  );
  t.same(
    granted.sort((a: Obj, b: Obj) => `${a.group}/${a.resource}`.localeCompare(`${b.group}/${b.resource}`)),
    WATCHED_RESOURCES.map((w) => ({ group: w.group, resource: w.resource, verbs: ['get', 'list', 'watch'] })).sort((a, b) =>
      `${a.group}/${a.resource}`.localeCompare(`${b.group}/${b.resource}`),
    ),
  );
  const binding = find('ClusterRoleBinding');
  const sa = find('ServiceAccount');
  t.equal(binding.roleRef.name, find('ClusterRole').metadata.name);
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
});

t.test('the DaemonSet runs the agent as its preflight and probes expect', async (t) => {
  const ds = find('DaemonSet');
  const pod = ds.spec.template.spec;
  const [c] = pod.containers;
  t.equal(pod.serviceAccountName, find('ServiceAccount').metadata.name);
  t.equal(pod.hostNetwork, true);
  t.same(
    c.env.find((e: Obj) => e.name === 'NODE_NAME'),
    { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    'NODE_NAME from the downward API',
  );
  t.equal(c.securityContext.privileged, false);
  t.same(
    c.securityContext.capabilities,
    { drop: ['ALL'], add: ['BPF', 'NET_ADMIN', 'PERFMON', ...POD_SOCKET_CAPABILITIES] },
    'the capabilities src/bpf/preflight.ts checks, and those of the pod-socket pass, no more',
  );
  t.equal(pod.hostPID, true, "the pods' processes are visible, so their network namespaces can be entered");
  t.equal(c.args[0], 'agent');
  const config = find('ConfigMap').data;
  const port = Number(config['metrics-address'].split(':').pop());
  t.same([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port], ['/healthz', port]);
  t.same([c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.port], ['/readyz', port]);
  for (const e of c.env.filter((x: Obj) => x.valueFrom?.configMapKeyRef)) {
    t.ok(e.valueFrom.configMapKeyRef.key in config, `${e.name} comes from a key the ConfigMap has`);
    t.ok(
      c.args.some((a: string) => a.includes(`$(${e.name})`)),
      `${e.name} is passed as a flag`,
    );
  }
  const mountOf = (path: string): Obj | undefined => c.volumeMounts.find((m: Obj) => m.mountPath === path);
  const volume = (name: string): Obj => pod.volumes.find((v: Obj) => v.name === name);
  t.equal(volume(mountOf('/sys/fs/bpf')!.name).hostPath.path, '/sys/fs/bpf', 'bpffs from the host');
  t.ok(config.bpffs.startsWith('/sys/fs/bpf/'), 'pins under the mounted bpffs');
  t.ok(mountOf(config.cgroup), 'the --cgroup directory is a mounted volume');
  t.match(volume(mountOf(config.cgroup)!.name).hostPath.path, /^\/sys\/fs\/cgroup/);
  t.ok(c.resources.requests.cpu && c.resources.requests.memory, 'resource requests are set');
});

t.test('the Dockerfile builds in one stage and runs in another', async (t) => {
  const text = readFileSync(join(PACKAGE_ROOT, 'deploy', 'Dockerfile'), 'utf8');
  t.equal(text.match(/^FROM /gm)?.length, 2);
  t.match(text, /npm run build/);
  t.match(text, /libbpf1/);
});
