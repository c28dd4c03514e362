// One agent per pin directory: a second agent on the same --bpffs stops at start, names the
// first one's PID, and leaves the first one's datapath as it was.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { flockHolders } from '../../src/bpf/bpffs-lock.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

t.test('a second agent on the same bpffs fails at start, naming the first', async (t) => {
  const lab = await KernelLab.create(t, ['be-1'], [8080]);
  lab.writeServices([
    service('ns', 'web', ['10.96.0.10'], [{ port: 80, targetPort: 8080 }]),
    endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ port: 8080 }], [lab.pod('be-1').ipv4]),
  ]);
  const first = lab.startAgent();
  await first.nextSync();
  t.same(flockHolders(lab.bpffs), [first.child.pid!], 'the running agent holds the lock on its bpffs directory');

  const second = spawnSync(process.execPath, [CLI_PATH, 'agent', '--services', lab.servicesFile, '--bpffs', lab.bpffs, '--cgroup', lab.net.cgroup.path, '--metrics-address', ''], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(second.status, 1, 'the second agent exits with 1');
  t.match(second.stdout, new RegExp(`another socklb agent \\(PID ${first.child.pid}\\) is running on --bpffs ${lab.bpffs}`));
  t.notMatch(second.stdout, /datapath installed/, 'it installed nothing');

  const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 20 });
  t.same(byBackend(r), { 'be-1': 20 }, "the first agent's datapath works on");
  await first.stop();
  t.same(flockHolders(lab.bpffs), [], 'released when the agent stops');
  const third = lab.startAgent();
  await third.nextSync();
  t.pass('an agent starts once the first one stopped');
  await third.stop();
});
