// Where the API server is and how to authenticate, from the pod's service account or a
// kubeconfig file. The common cases (service account; kubeconfig with a token, token file,
// client certificate or basic auth) are read here: @kubernetes/client-node's KubeConfig pulls
// in the whole generated API, ~75 MB of RSS, which is more than the rest of the agent needs
// for a 10,000-service cluster. Kubeconfigs that run a credential plugin (exec,
// auth-provider), go through a proxy, or merge several KUBECONFIG files are handed to
// client-node, loaded only then.
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import jsYaml from 'js-yaml';
import type { ApiConnection } from './api-connection.js';

/** Where a pod's service account is mounted; tests point this elsewhere. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Yaml = Record<string, unknown>;
const isObj = (v: unknown): v is Yaml => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Yaml, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);

/** File contents read at each request (a token file rotates), or fixed data. */
type Source = { file: string } | { data: Buffer };

function read(s: Source | undefined): Buffer | undefined {
  if (!s) return undefined;
  return 'file' in s ? readFileSync(s.file) : s.data;
}

interface StaticAuth {
  server: string;
  ca?: Source | undefined;
  insecure?: boolean;
  serverName?: string | undefined;
  cert?: Source | undefined;
  key?: Source | undefined;
  token?: Source | undefined;
  basic?: string | undefined;
}

function connection(auth: StaticAuth): ApiConnection {
  return {
    server: auth.server.replace(/\/+$/, ''),
    requestOptions: async () => {
      const opts: RequestOptions = { headers: {} };
      const ca = read(auth.ca);
      if (ca) opts.ca = ca;
      if (auth.insecure) opts.rejectUnauthorized = false;
      if (auth.serverName) opts.servername = auth.serverName;
      const cert = read(auth.cert);
      const key = read(auth.key);
      if (cert) opts.cert = cert;
      if (key) opts.key = key;
      const token = read(auth.token)?.toString('utf8').trim();
      if (token) opts.headers = { Authorization: `Bearer ${token}` };
      else if (auth.basic) opts.headers = { Authorization: `Basic ${Buffer.from(auth.basic).toString('base64')}` };
      return opts;
    },
  };
}

/** The pod's service account, as client-go's rest.InClusterConfig reads it. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): ApiConnection {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return connection({ server, ca: { file: join(dir, 'ca.crt') }, token: { file: join(dir, 'token') } });
}

function named(list: unknown, name: string | undefined, field: string): Yaml {
  const hit = Array.isArray(list) ? list.find((e) => isObj(e) && e.name === name) : undefined;
  const inner = isObj(hit) ? hit[field] : undefined;
  if (!isObj(inner)) throw new Error(`no ${field} named ${JSON.stringify(name)}`);
  return inner;
}

/** A file path or base64 data from a kubeconfig entry; paths are relative to the file. */
function source(o: Yaml, fileKey: string, dataKey: string, base: string): Source | undefined {
  const data = str(o, dataKey);
  if (data) return { data: Buffer.from(data, 'base64') };
  const file = str(o, fileKey);
  return file ? { file: isAbsolute(file) ? file : join(base, file) } : undefined;
}

/** The kubeconfig's current context, or undefined when it needs client-node (a plugin or a proxy). */
export function parseKubeconfig(text: string, path: string): ApiConnection | undefined {
  const doc = jsYaml.load(text);
  if (!isObj(doc)) throw new Error('not a kubeconfig');
  const current = str(doc, 'current-context');
  if (!current) throw new Error('the kubeconfig has no current cluster; set current-context or pass --kubeconfig');
  const context = named(doc.contexts, current, 'context');
  const cluster = named(doc.clusters, str(context, 'cluster'), 'cluster');
  const user = context.user === undefined ? {} : named(doc.users, str(context, 'user'), 'user');
  if (user.exec !== undefined || user['auth-provider'] !== undefined || cluster['proxy-url'] !== undefined) return undefined;
  const server = str(cluster, 'server');
  if (!server) throw new Error(`cluster ${JSON.stringify(str(context, 'cluster'))} has no server`);
  const base = dirname(path);
  const username = str(user, 'username');
  return connection({
    server,
    ca: source(cluster, 'certificate-authority', 'certificate-authority-data', base),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    serverName: str(cluster, 'tls-server-name'),
    cert: source(user, 'client-certificate', 'client-certificate-data', base),
    key: source(user, 'client-key', 'client-key-data', base),
    token: str(user, 'token') ? { data: Buffer.from(str(user, 'token')!) } : str(user, 'tokenFile') ? { file: str(user, 'tokenFile')! } : undefined,
    basic: username && `${username}:${str(user, 'password') ?? ''}`,
  });
}

/** client-node's KubeConfig for what parseKubeconfig leaves to it; loaded only then. */
async function viaClientNode(path: string | undefined): Promise<ApiConnection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster; set current-context or pass --kubeconfig');
  return {
    server: cluster.server.replace(/\/+$/, ''),
    requestOptions: async () => {
      const opts: RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      return opts;
    },
  };
}

/** The kubeconfig client-go would use without --kubeconfig: $KUBECONFIG, else ~/.kube/config. */
function defaultKubeconfig(env: NodeJS.ProcessEnv): string | undefined {
  const list = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  if (list.length > 1) return undefined; // merged files: client-node merges them
  const path = list[0] ?? join(homedir(), '.kube', 'config');
  return existsSync(path) ? path : undefined;
}

/** --kubeconfig, else the service account in a pod, else the default kubeconfig. */
export async function loadApiConnection(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<ApiConnection> {
  try {
    if (!kubeconfig && env.KUBERNETES_SERVICE_HOST) return inClusterConnection(env);
    const path = kubeconfig ?? defaultKubeconfig(env);
    return (path && parseKubeconfig(readFileSync(path, 'utf8'), path)) || (await viaClientNode(path));
  } catch (err) {
    throw new Error(`cannot load Kubernetes credentials${kubeconfig ? ` from ${kubeconfig}` : ''}: ${(err as Error).message}; pass --kubeconfig FILE or run in a pod`);
  }
}
