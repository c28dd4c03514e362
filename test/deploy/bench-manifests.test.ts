// deploy/bench against the code and itself: the Services select the server pods and reach
// their port, the client Job's flags are ones `socklb bench cluster` takes and point at those
// Services, and the DaemonSet's mode switch is wired through the ConfigMap.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import t from 'tap';
import { CLI_PATH, PACKAGE_ROOT } from '../../src/install-paths.js';
import { DATAPATH_MODES } from '../../src/datapath/datapath-mode.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const load = (...path: string[]): Obj[] => jsYaml.loadAll(readFileSync(join(PACKAGE_ROOT, 'deploy', ...path), 'utf8')) as Obj[];
const servers = load('bench', 'servers.yaml');
const [job] = load('bench', 'client-job.yaml') as [Obj];
const deployment = servers.find((o) => o.kind === 'Deployment')!;
const services = servers.filter((o) => o.kind === 'Service');

t.test('both Services select the server pods and target the port they serve', async (t) => {
  const podLabels = deployment.spec.template.metadata.labels;
  const containerPorts = deployment.spec.template.spec.containers[0].ports.map((p: Obj) => `${p.containerPort}/${p.protocol}`);
  t.equal(services.length, 2);
  for (const s of services) {
    t.same(s.spec.selector, podLabels, `${s.metadata.name} selects the servers`);
    for (const p of s.spec.ports) t.ok(containerPorts.includes(`${p.targetPort}/${p.protocol}`), `${s.metadata.name} ${p.port}/${p.protocol} -> ${p.targetPort}`);
  }
  t.equal(services.find((s) => s.metadata.name === 'socklb-bench-direct')?.spec.clusterIP, 'None', 'the direct Service is headless');
});

t.test("the client Job's flags are bench cluster's and name those Services", async (t) => {
  const args: string[] = job.spec.template.spec.containers[0].args;
  t.same(args.slice(0, 2), ['bench', 'cluster']);
  const help = execFileSync(process.execPath, [CLI_PATH, 'bench', 'cluster', '--help'], { encoding: 'utf8' });
  for (const a of args.slice(2)) t.ok(help.includes(a.split('=')[0]!), `${a.split('=')[0]} is a flag of bench cluster`);
  const ns = deployment.metadata.namespace;
  for (const s of services)
    t.ok(
      args.some((a) => a.includes(`${s.metadata.name}.${ns}.svc`)),
      `the Job reaches ${s.metadata.name}`,
    );
});

t.test('the DaemonSet takes its mode from the ConfigMap, and the ConfigMap holds a valid one', async (t) => {
  const ds = load('kubernetes', 'daemonset.yaml').find((o) => o.kind === 'DaemonSet')!;
  const cm = load('kubernetes', 'configmap.yaml').find((o) => o.kind === 'ConfigMap')!;
  const c = ds.spec.template.spec.containers[0];
  t.ok(c.args.includes('--mode=$(MODE)'));
  t.same(c.env.find((e: Obj) => e.name === 'MODE').valueFrom.configMapKeyRef, { name: cm.metadata.name, key: 'mode' });
  t.ok((DATAPATH_MODES as readonly string[]).includes(cm.data.mode));
  t.match(cm.data['pod-interfaces'], /^[^,]+(,[^,]+)*$/);
});
