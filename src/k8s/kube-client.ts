// The connection to the API server: credentials from a kubeconfig file or, in a pod, from
// the service account; lists fetched as raw JSON, exactly as the API serves them (the typed
// client's deserialization is slow at 100,000 endpoints and changes nothing we read).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(kubeconfig: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(`cannot load Kubernetes credentials${kubeconfig ? ` from ${kubeconfig}` : ''}: ${(err as Error).message}; pass --kubeconfig FILE or run in a pod`);
  }
  if (!kc.getCurrentCluster()) throw new Error('the kubeconfig has no current cluster; set current-context or pass --kubeconfig');
  return kc;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** GET path from the API server and parse the JSON body. */
export async function getJson<T>(kc: KubeConfig, path: string, timeoutMs = 60_000): Promise<T> {
  const url = new URL(kc.getCurrentCluster()!.server + path);
  const opts: RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<T>((resolve, reject) => {
    const req = request(url, { ...opts, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new ApiError(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`, res.statusCode ?? 0));
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(new Error(`GET ${path}: the body is not JSON: ${(err as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
