// Credentials for the API server: the pod's service account, kubeconfig files with tokens,
// certificates or basic auth, and the plugin cases handed to client-node.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { inClusterConnection, loadApiConnection, parseKubeconfig } from '../../src/k8s/kube-config.js';

const dir = mkdtempSync(join(tmpdir(), 'socklb-kubeconfig-'));
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown> | undefined): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: user ? [{ name: 'u', user }] : [],
    contexts: [{ name: 'ctx', context: { cluster: 'c', ...(user ? { user: 'u' } : {}) } }],
    'current-context': 'ctx',
  });
}

t.test('in a pod: the service account token and CA, read again at every request', async (t) => {
  writeFileSync(join(dir, 'token'), 'token-1\n');
  writeFileSync(join(dir, 'ca.crt'), 'CA');
  const conn = inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir);
  t.equal(conn.server, 'https://[fd00::1]:443');
  t.same((await conn.requestOptions()).headers, { Authorization: 'Bearer token-1' });
  t.equal(String((await conn.requestOptions()).ca), 'CA');
  writeFileSync(join(dir, 'token'), 'token-2');
  t.same((await conn.requestOptions()).headers, { Authorization: 'Bearer token-2' }, 'a rotated token is used');
  t.equal(inClusterConnection({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '8080' }, dir).server, 'http://10.0.0.1:8080');
});

t.test('kubeconfig: client certificates from data or from files relative to it, CA, server name', async (t) => {
  writeFileSync(join(dir, 'client.crt'), 'CERT');
  const path = join(dir, 'kc');
  const conn = parseKubeconfig(
    kubeconfig(
      { server: 'https://api.example:6443/', 'certificate-authority-data': b64('CA'), 'tls-server-name': 'kubernetes' },
      { 'client-certificate': 'client.crt', 'client-key-data': b64('KEY') },
    ),
    path,
  )!;
  t.equal(conn.server, 'https://api.example:6443');
  const o = await conn.requestOptions();
  t.same([String(o.ca), String(o.cert), String(o.key), o.servername, o.rejectUnauthorized], ['CA', 'CERT', 'KEY', 'kubernetes', undefined]);
  t.same(o.headers, {});
});

t.test('kubeconfig: token, token file, basic auth, insecure', async (t) => {
  const p = join(dir, 'kc');
  const opts = async (user: Record<string, unknown> | undefined): Promise<Record<string, unknown>> =>
    (await parseKubeconfig(kubeconfig({ server: 'https://h', 'insecure-skip-tls-verify': true }, user), p)!.requestOptions()) as Record<string, unknown>;
  t.same((await opts({ token: 'abc' })).headers, { Authorization: 'Bearer abc' });
  writeFileSync(join(dir, 'tokenfile'), 'from-file\n');
  t.same((await opts({ tokenFile: join(dir, 'tokenfile') })).headers, { Authorization: 'Bearer from-file' });
  t.same((await opts({ username: 'admin', password: 'pw' })).headers, { Authorization: `Basic ${b64('admin:pw')}` });
  const anonymous = await opts(undefined);
  t.same([anonymous.headers, anonymous.rejectUnauthorized], [{}, false]);
});

t.test('kubeconfig mistakes are reported', async (t) => {
  t.throws(() => parseKubeconfig('- a list', 'x'), /not a kubeconfig/);
  t.throws(() => parseKubeconfig('apiVersion: v1', 'x'), /no current cluster/);
  t.throws(() => parseKubeconfig(kubeconfig({}, {}), 'x'), /has no server/);
  t.throws(() => parseKubeconfig(JSON.stringify({ 'current-context': 'nope', contexts: [] }), 'x'), /no context named "nope"/);
  await t.rejects(loadApiConnection(join(dir, 'missing')), /cannot load Kubernetes credentials from .*missing.*pass --kubeconfig/);
});

t.test('a credential plugin: client-node runs it', async (t) => {
  const path = join(dir, 'exec-kc');
  const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-plugin' } });
  const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', `echo '${credential}'`], interactiveMode: 'Never' };
  writeFileSync(path, kubeconfig({ server: 'https://h:6443' }, { exec }));
  t.equal(parseKubeconfig(kubeconfig({ server: 'https://h:6443' }, { exec }), path), undefined, 'not read here');
  const conn = await loadApiConnection(path, {});
  t.equal(conn.server, 'https://h:6443');
  t.match((await conn.requestOptions()).headers, { Authorization: 'Bearer from-plugin' });
});

t.test('without --kubeconfig: the service account in a pod, else $KUBECONFIG', async (t) => {
  writeFileSync(join(dir, 'token'), 't');
  t.equal((await loadApiConnection(undefined, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' })).server, 'https://10.0.0.1:443');
  const path = join(dir, 'env-kc');
  writeFileSync(path, kubeconfig({ server: 'http://127.0.0.1:1' }, { token: 'x' }));
  t.equal((await loadApiConnection(undefined, { KUBECONFIG: path })).server, 'http://127.0.0.1:1');
  const second = join(dir, 'env-kc2');
  writeFileSync(second, kubeconfig({ server: 'http://127.0.0.1:2' }, { token: 'y' }).replace(/"(c|u|ctx)"/g, '"$1-2"'));
  // client-node reads the process's own environment.
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = `${path}:${second}`;
  t.teardown(() => (saved === undefined ? delete process.env.KUBECONFIG : (process.env.KUBECONFIG = saved)));
  t.match((await loadApiConnection(undefined, { KUBECONFIG: process.env.KUBECONFIG })).server, /^http:\/\/127\.0\.0\.1:[12]$/, 'several files: client-node merges them');
});
