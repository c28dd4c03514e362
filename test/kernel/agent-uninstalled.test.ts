// `socklb uninstall` while the agent runs: the agent notices that its datapath is gone, says so,
// stops being ready and stops writing; it does not put the programs back behind the operator.
import { execFileSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { inNetns } from '../../src/bpf/netns.js';
import { interfacesWithTcFilters } from '../../src/datapath/tc-datapath.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { run } from '../../src/lab/command.js';
import { eventually, KernelLab, type AgentProcess } from '../helpers/kernel-lab.js';
import { webService } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2'];

/** status and body of GET path from the agent's ops server, from the network namespace it listens in. */
function get(address: string, path: string, netns?: string): { status: number; body: string } {
  const curl = ['curl', '-s', '-m', '2', '-w', '\n%{http_code}', `http://${address}${path}`];
  const out = netns ? run('ip', ['netns', 'exec', netns, ...curl]) : run(curl[0]!, curl.slice(1));
  const at = out.lastIndexOf('\n');
  return { status: Number(out.slice(at + 1)), body: out.slice(0, at) };
}

t.test('uninstall under a running agent', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080]);
  const webObjects = (names: string[]): unknown[] =>
    webService(
      'ns',
      'web',
      '10.96.0.10',
      80,
      8080,
      names.map((b) => lab.pod(b).ipv4),
    );
  lab.writeServices(webObjects(BACKENDS));

  /** Starts an agent, waits until it is ready, uninstalls with the CLI and returns how long /readyz took to say 503. */
  const uninstallUnder = async (
    t: Test,
    agent: AgentProcess,
    netns: string | undefined,
    uninstall: string[],
  ): Promise<{ ms: number; gone: Record<string, unknown>; ops: string }> => {
    const ops = (await agent.waitForLog((l) => l.msg === 'serving /healthz, /readyz and /metrics')).address as string;
    await agent.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps');
    t.equal(get(ops, '/readyz', netns).status, 200, 'ready before');
    t.match(get(ops, '/metrics', netns).body, /^socklb_datapath_installed 1$/m);
    const from = agent.logs.length;
    const out = execFileSync(uninstall[0]!, uninstall.slice(1), { encoding: 'utf8' });
    t.comment(out.trim());
    t.match(out, /^detached \d+ socket programs and the tc programs of \d+ interfaces, removed \d+ maps/);
    const started = Date.now();
    const ms = await eventually(
      () => get(ops, '/readyz', netns).status === 503,
      2500,
      () => `/readyz still says ${JSON.stringify(get(ops, '/readyz', netns))}`,
    );
    const gone = await agent.waitForLog((l) => /^the datapath is gone/.test(l.msg), 1000, from);
    t.comment(`/readyz 503 ${ms} ms after the uninstall returned (${Date.now() - started} ms)`);
    return { ms, gone, ops };
  };

  t.test('socket mode: not ready within ~1 s, says what is gone, stops syncing', async (t) => {
    const agent = lab.startAgent();
    const { gone, ops } = await uninstallUnder(t, agent, undefined, [process.execPath, CLI_PATH, 'uninstall', '--bpffs', lab.bpffs]);
    t.equal(gone.level, 50, 'an error');
    t.match(gone.msg, /restart the agent to install it again/);
    t.match((gone.missing as string[]).join('\n'), /link \S+\/links\/\S+ is not pinned any more/);
    t.match((gone.missing as string[]).join('\n'), /map \S+\/maps\/slb_frontends is not pinned any more/);
    const ready = get(ops, '/readyz');
    t.match(ready.body, /^not ready: the datapath is gone \(link /);
    t.match(get(ops, '/metrics').body, /^socklb_datapath_installed 0$/m);
    t.equal(get(ops, '/healthz').status, 200, 'alive: a liveness restart would re-install behind the operator');

    const from = agent.logs.length;
    lab.writeServices(webObjects(['be-1']));
    await new Promise((r) => setTimeout(r, 1000));
    t.same(
      agent.logs.slice(from).filter((l) => l.msg === 'synced'),
      [],
      'a file change is not written to maps nobody reads',
    );
    t.same(lab.listLinks(), [], 'nothing was put back');
    await agent.stop();

    // The expected answer: a restart installs again and applies the file.
    const again = lab.startAgent();
    await again.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps');
    t.equal(lab.listLinks().length > 0, true);
    await again.stop();
  });

  t.test('conntrack mode: not ready, and the interface scan does not put the tc programs back', async (t) => {
    const agent = lab.startAgent(undefined, { mode: 'conntrack', inNodeNetns: true });
    const node = lab.net.nodeNetns;
    const filtered = (): string[] => inNetns(lab.net.nodeNetnsPath, () => interfacesWithTcFilters());
    const { gone } = await uninstallUnder(t, agent, node, ['nsenter', `--net=${lab.net.nodeNetnsPath}`, process.execPath, CLI_PATH, 'uninstall', '--bpffs', lab.bpffs]);
    t.match((gone.missing as string[]).join('\n'), /map \S+\/maps\/slb_ct(_v\d+)? is not pinned any more/);
    t.same(filtered(), [], 'the uninstall removed the tc programs');
    // The scan runs every 2 s: give it two turns.
    await new Promise((r) => setTimeout(r, 4500));
    t.same(filtered(), [], 'and they stay removed');
    t.notOk(
      agent.logs.some((l) => l.msg === 'pod interfaces changed'),
      'no interface was attached again',
    );
    await agent.stop();
  });
});
