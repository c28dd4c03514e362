// A run killed before its clean-up (SIGKILL) leaves namespaces, a cgroup, pins, attached
// programs and a server process; the sweep removes all of it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { findCgroup2Root } from '../../src/bpf/kernel-env.js';
import { PACKAGE_ROOT } from '../../src/install-paths.js';
import { sweepAbandonedRuns } from '../../src/lab/sweep.js';

/** A process that exists and is not a zombie waiting for its new parent to reap it. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const dist = (p: string): string => join(PACKAGE_ROOT, 'dist', 'src', p);

t.test('an abandoned run is swept', async (t) => {
  const script = `
    import { PodNetwork } from '${dist('lab/pod-network.js')}';
    import { startBackend } from '${dist('lab/lab-processes.js')}';
    import { SocketHooks } from '${dist('datapath/socket-hooks.js')}';
    const net = PodNetwork.create();
    net.addPod('be-1');
    const server = await startBackend(net, 'be-1', [8080]);
    const hooks = SocketHooks.install(net.labRun.bpffs('test'), { cgroup: net.cgroup.path });
    hooks.attach();
    hooks.close();
    console.log(JSON.stringify({ id: net.runId, server: server.pid }));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString()));
    child.once('exit', (code) => reject(new Error(`the run exited early (${code})`)));
  });
  const { id, server } = JSON.parse(line) as { id: string; server: number };
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const cgroup = join(findCgroup2Root(), `socklb-${id}`);
  t.ok(existsSync(cgroup) && existsSync(`/sys/fs/bpf/socklb-test-${id}`), 'the killed run left its cgroup and pins');
  t.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), `slb-${id}-be-1`);

  const swept = await sweepAbandonedRuns();
  t.same(swept.get(id), [], 'everything of the run was removed');
  t.notOk(existsSync(cgroup));
  t.notOk(existsSync(`/sys/fs/bpf/socklb-test-${id}`));
  t.notMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), `slb-${id}-`);
  t.notOk(running(server), 'its server process was ended');
  t.notOk((await sweepAbandonedRuns()).has(id), 'a second sweep has nothing to do');
});
