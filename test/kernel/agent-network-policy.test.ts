// The agent with --network-policy, fed Pods, a Namespace and a NetworkPolicy in its services
// file: socket mode translates a connection to the service's VIP at connect, and the tc policy
// programs judge it on the backend's address (the one the packets carry): the allowed client
// reaches the backend through the VIP, another pod does not; a stopped agent leaves the policy
// enforced (the pinned maps keep working), a new agent without the policy opens the pod, and so
// does one without --network-policy.
// The same in conntrack mode, where the tc programs translate the connection per packet and
// judge it on the backend they chose, before they hand it straight into the backend's pod.
import t from 'tap';
import { runProbe } from '../../src/lab/lab-processes.js';
import { KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const VIP = '10.96.0.50';

for (const mode of ['socket', 'conntrack'] as const) t.test(`NetworkPolicy through the agent, judged on the translated backend, ${mode} mode`, async (t) => {
  const lab = await KernelLab.create(t, ['db', 'open'], [8080]);
  const pod = (name: string, app: string): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'ns', name, labels: { app } },
    spec: { nodeName: 'node-a', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { podIP: lab.pod(name).ipv4, podIPs: [{ ip: lab.pod(name).ipv4 }, { ip: lab.pod(name).ipv6 }] },
  });
  const dbFromClient = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'ns', name: 'db-from-client' },
    spec: { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 'http' }] }] },
  };
  const base = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
    pod('client', 'client'),
    pod('db', 'db'),
    pod('open', 'open'),
    service('ns', 'db', [VIP], [{ port: 80, targetPort: 8080 }]),
    endpointSlice('ns', 'db-1', 'db', 'IPv4', [{ port: 8080 }], [lab.pod('db').ipv4]),
  ];
  lab.writeServices([...base, dbFromClient]);
  const flags = ['--services', lab.servicesFile, '--network-policy', '--node-name', 'node-a'];
  const agent = lab.startAgent(flags, { mode, inNodeNetns: true });
  await agent.waitForLog((l) => l.msg === 'network policy written', 15_000);

  const through = async (from: string): Promise<number> => (await runProbe(lab.net, from, { mode: 'tcp', host: VIP, port: 80, count: 5, timeoutMs: 700 })).ok;
  t.equal(await through('client'), 5, 'client → VIP → db: allowed (the named port resolves to 8080)');
  t.equal(await through('open'), 0, 'open → VIP → db: denied at db’s interface');
  t.equal((await runProbe(lab.net, 'client', { mode: 'tcp', host: lab.pod('open').ipv4, port: 8080, count: 3 })).ok, 3, 'a pod no policy selects stays open');

  await agent.stop();
  t.equal(await through('open'), 0, 'with the agent stopped the pinned policy still denies');
  t.equal(await through('client'), 5, '... and still allows');

  lab.writeServices(base);
  const again = lab.startAgent(flags, { mode, inNodeNetns: true });
  await again.waitForLog((l) => l.msg === 'network policy written', 15_000);
  t.equal(await through('open'), 5, 'the policy deleted, open reaches db through the VIP');

  // An agent started without --network-policy leaves nothing of an earlier one's policy enforcing.
  await again.stop();
  lab.writeServices([...base, dbFromClient]);
  const enforcing = lab.startAgent(flags, { mode, inNodeNetns: true });
  await enforcing.waitForLog((l) => l.msg === 'network policy written', 15_000);
  t.equal(await through('open'), 0, 'the policy back: open is denied again');
  await enforcing.stop();
  const without = lab.startAgent(flags.filter((f) => f !== '--network-policy'), { mode, inNodeNetns: true });
  await without.waitForLog((l) => l.msg === 'datapath installed', 15_000);
  t.equal(await through('open'), 5, 'an agent without --network-policy: open reaches db through the VIP');
});
