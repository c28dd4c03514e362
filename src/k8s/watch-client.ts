// One watch request through @kubernetes/client-node's Watch, the project's watch client.
//
// Why the deep import: the package root (and dist/config.js, its KubeConfig) loads the whole
// generated API, ~75 MB of RSS, more than the rest of the agent needs for a 10,000-service
// cluster; dist/watch.js loads only itself and node-fetch (~15 MB). The package has no
// "exports" map, so the deep import is a plain file path. Watch reads two things from its
// config: getCurrentCluster().server and applyToFetchOptions(); watchConfig() below provides
// both from our ApiConnection (kube-config.ts), so no KubeConfig is built on the common paths.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import { ApiError, type ApiConnection } from './api-connection.js';

/** What Watch uses of a KubeConfig. */
export interface WatchConfig {
  getCurrentCluster(): { server: string };
  applyToFetchOptions(opts: object): Promise<{ agent: HttpAgent; headers: Record<string, string> }>;
}

/** Watch's config from a connection: a fresh agent per watch carries the TLS material (a
 * rotated certificate or token is read again on every reconnect) and the headers carry the
 * credentials, as client-node's own KubeConfig.applyToFetchOptions builds them. */
export function watchConfig(conn: ApiConnection): WatchConfig {
  return {
    getCurrentCluster: () => ({ server: conn.server }),
    applyToFetchOptions: async () => {
      const { headers, agent, ca, cert, key, rejectUnauthorized, servername } = await conn.requestOptions();
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) flat[k] = String(v);
      // client-node's KubeConfig (the fallback in kube-config.ts) brings its own agent, which
      // may go through a proxy. node-fetch refuses an https agent for an http:// server.
      if (agent instanceof HttpAgent) return { agent, headers: flat };
      return { agent: conn.server.startsWith('http:') ? new HttpAgent() : new HttpsAgent({ ca, cert, key, rejectUnauthorized, servername }), headers: flat };
    },
  };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/**
 * Watches path with the given query parameters (watch=true is added by Watch). done runs once:
 * with null when the server ended the stream, with an error (an ApiError for an HTTP status)
 * when the request failed or the connection broke. Returns a function that aborts the watch;
 * done is not called after it.
 */
export function openWatch(
  conn: ApiConnection,
  path: string,
  params: Record<string, string | number | boolean | undefined>,
  onEvent: (type: WatchEventType, object: Record<string, unknown>) => void,
  done: (err: Error | null) => void,
): () => void {
  let aborted = false;
  let controller: AbortController | undefined;
  const watch = new Watch(watchConfig(conn) as unknown as ConstructorParameters<typeof Watch>[0]);
  watch
    .watch(
      path,
      params,
      (type: string, object: Record<string, unknown>) => {
        if (!aborted) onEvent(type as WatchEventType, object);
      },
      (err: unknown) => {
        if (aborted) return;
        aborted = true;
        done(describe(path, err));
      },
    )
    .then(
      (c) => {
        controller = c;
        if (aborted) c.abort(); // aborted while the request was on its way
      },
      (err: unknown) => {
        if (aborted) return;
        aborted = true;
        done(describe(path, err));
      },
    );
  return () => {
    aborted = true;
    controller?.abort();
  };
}

/** Watch reports an HTTP status as an Error with only the status text and a statusCode. */
function describe(path: string, err: unknown): Error | null {
  if (err === null || err === undefined) return null;
  const e = err instanceof Error ? err : new Error(String(err));
  const status = (e as { statusCode?: number }).statusCode;
  if (status !== undefined) return new ApiError(`watch ${path}: HTTP ${status} ${e.message}`, status);
  return new Error(`watch ${path}: ${e.message}`);
}
