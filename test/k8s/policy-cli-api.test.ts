// `policy check` and `policy list` read from the API server, as the agent does (--kubeconfig):
// the CLI lists Pods, Namespaces and NetworkPolicies once, answers and exits; a server that
// never completes the lists makes it give up after --timeout, naming what is missing.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { PolicyListing } from '../../src/cli/policy-show.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { FakeApiServer } from '../../src/lab/fake-api-server.js';

/** The CLI in a child (the fake server runs in this process, so no synchronous spawn). */
function socklb(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

t.test('policy verbs from the API server', async (t) => {
  const api = new FakeApiServer();
  await api.start();
  const dir = mkdtempSync(join(tmpdir(), 'socklb-policy-cli-'));
  t.teardown(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfig());
  const pod = (name: string, ip: string, nodeName: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'team', name, labels: { app: name } },
    spec: { nodeName, containers: [{ name: 'c' }] },
    status: { podIP: ip, podIPs: [{ ip }] },
  });
  api.apply('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  api.apply('pods', pod('web', '10.244.0.5', 'node-a'));
  api.apply('pods', pod('db', '10.244.1.6', 'node-b'));
  api.apply('networkpolicies', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'team', name: 'db-from-web' },
    spec: { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 5432 }] }] },
  });
  const check = (from: string, port: string) => socklb(['policy', 'check', '--kubeconfig', kubeconfig, '--from', from, '--to', 'team/db', '--port', port]);
  const allowed = await check('team/web', '5432');
  t.equal(allowed.status, 0, `allowed: exit 0 (${allowed.ms} ms)`);
  t.match(allowed.stdout, /^ALLOW  team\/web \(10\.244\.0\.5\) → team\/db \(10\.244\.1\.6\)/);
  const denied = await check('team/web', '5433');
  t.equal(denied.status, 3, 'denied: exit 3');
  t.match(denied.stdout, /^DENY .*\n.*\n  ingress of team\/db: DENIED, isolated by team\/db-from-web/);

  const list = await socklb(['policy', 'list', '--kubeconfig', kubeconfig, '--node-name', 'node-b', '--json']);
  t.equal(list.status, 0, list.stderr);
  t.match(JSON.parse(list.stdout) as PolicyListing, { node: 'node-b', pods: [{ pod: 'team/db', ingress: { isolated: true, policies: ['team/db-from-web'] } }] });
  t.equal((JSON.parse(list.stdout) as PolicyListing).pods.length, 1, 'node-b’s pod only');

  // No server at all: the watches fail and the CLI gives up after --timeout, saying why.
  await api.stop();
  const gone = await socklb(['policy', 'list', '--kubeconfig', kubeconfig, '--timeout', '1.5']);
  t.equal(gone.status, 1);
  t.match(gone.stderr, /no complete picture of the cluster within 1\.5 s: not yet listed: .*pods/);
  t.ok(gone.ms < 10_000, `gave up in ${gone.ms} ms`);
});
