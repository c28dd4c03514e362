// An API server for tests and benchmarks that speaks the real list/watch wire protocol on loopback: JSON lists
// with metadata.resourceVersion; watches as chunked streams of one JSON event per line (ADDED,
// MODIFIED, DELETED, BOOKMARK, ERROR); 410 Gone for a resourceVersion older than the history it
// keeps; and the faults a real one shows: dropped connections and outages.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Resource = 'services' | 'endpointslices' | 'nodes' | 'pods' | 'namespaces' | 'networkpolicies';

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  object: Record<string, unknown>;
}

interface Watcher {
  resource: Resource;
  res: ServerResponse;
  nameFilter: string | undefined;
  bookmarks: boolean;
}

const PATHS: Record<string, Resource> = {
  '/api/v1/services': 'services',
  '/apis/discovery.k8s.io/v1/endpointslices': 'endpointslices',
  '/api/v1/nodes': 'nodes',
  '/api/v1/pods': 'pods',
  '/api/v1/namespaces': 'namespaces',
  '/apis/networking.k8s.io/v1/networkpolicies': 'networkpolicies',
};
const LIST_KIND: Record<Resource, [string, string]> = {
  services: ['ServiceList', 'v1'],
  endpointslices: ['EndpointSliceList', 'discovery.k8s.io/v1'],
  nodes: ['NodeList', 'v1'],
  pods: ['PodList', 'v1'],
  namespaces: ['NamespaceList', 'v1'],
  networkpolicies: ['NetworkPolicyList', 'networking.k8s.io/v1'],
};

const keyOf = (o: Record<string, unknown>): string => {
  const m = o.metadata as { namespace?: string; name: string };
  return `${m.namespace ?? ''}/${m.name}`;
};

export class FakeApiServer {
  private rv = 100;
  /** Events at or below this resourceVersion are forgotten: watching from before it gets 410. */
  private compactedRv = 100;
  private readonly objects = Object.fromEntries(Object.keys(LIST_KIND).map((r) => [r, new Map()])) as Record<Resource, Map<string, Record<string, unknown>>>;
  private readonly history: StoredEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  /** Snapshots behind continue tokens: pages of one list are consistent, as the API server makes them. */
  private readonly snapshots = new Map<string, { rv: number; items: Record<string, unknown>[] }>();
  private tokens = 0;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;
  readonly requests = { list: 0, watch: 0, gone: 0 };
  /** Sees every request's URL first (tests check the query a client sends). */
  onRequest: ((url: URL) => void) | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig pointing at this server, as YAML. */
  kubeconfig(): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: fake, cluster: {server: "http://127.0.0.1:' + this.port + '", insecure-skip-tls-verify: true}}]',
      'users: [{name: fake, user: {token: test-token}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: fake}}]',
      'current-context: fake',
      '',
    ].join('\n');
  }

  /** Creates or replaces an object; watchers get ADDED or MODIFIED. */
  apply(resource: Resource, object: Record<string, unknown>): void {
    const key = keyOf(object);
    const type = this.objects[resource].has(key) ? 'MODIFIED' : 'ADDED';
    const stored = structuredClone(object);
    const meta = stored.metadata as Record<string, unknown>;
    meta.resourceVersion = String(++this.rv);
    meta.uid ??= `uid-${resource}-${key}`;
    this.objects[resource].set(key, stored);
    this.publish({ rv: this.rv, type, resource, object: stored });
  }

  delete(resource: Resource, namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const prev = this.objects[resource].get(key);
    if (!prev) return;
    this.objects[resource].delete(key);
    const object = structuredClone(prev);
    (object.metadata as Record<string, unknown>).resourceVersion = String(++this.rv);
    this.publish({ rv: this.rv, type: 'DELETED', resource, object });
  }

  list(resource: Resource): Record<string, unknown>[] {
    return [...this.objects[resource].values()];
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watcher that asked for them;
   * returns how many did. */
  bookmark(): number {
    let sent = 0;
    for (const w of this.watchers) {
      const kind = LIST_KIND[w.resource][0].replace(/List$/, '');
      if (!w.bookmarks) continue;
      this.send(w, { type: 'BOOKMARK', object: { kind, apiVersion: LIST_KIND[w.resource][1], metadata: { resourceVersion: String(this.rv) } } });
      sent++;
    }
    return sent;
  }

  /** Forgets history: a watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  /** Sends 410 Gone as a watch event to every open watch, then ends them, as an API server does after compaction. */
  expireWatches(): void {
    this.compact();
    for (const w of [...this.watchers]) {
      this.send(w, { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 } });
      w.res.end();
      this.watchers.delete(w);
    }
  }

  /** Cuts every open connection mid-stream, without an HTTP ending. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.watchers.clear();
  }

  /** An outage: stops listening and drops every connection. */
  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  private publish(e: StoredEvent): void {
    this.history.push(e);
    for (const w of this.watchers) if (w.resource === e.resource && this.matches(w, e.object)) this.send(w, { type: e.type, object: e.object });
  }

  private matches(w: Watcher, o: Record<string, unknown>): boolean {
    return w.nameFilter === undefined || (o.metadata as { name: string }).name === w.nameFilter;
  }

  private send(w: Watcher, event: unknown): void {
    w.res.write(`${JSON.stringify(event)}\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.onRequest?.(url);
    const resource = PATHS[url.pathname];
    if (!resource) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 404 }));
      return;
    }
    const selector = url.searchParams.get('fieldSelector') ?? '';
    const nameFilter = /^metadata\.name=(.+)$/.exec(selector)?.[1];
    if (url.searchParams.get('watch') !== 'true') {
      const [kind, apiVersion] = LIST_KIND[resource];
      const token = url.searchParams.get('continue');
      const limit = Number(url.searchParams.get('limit') ?? '0');
      let snapshot = token ? this.snapshots.get(token) : undefined;
      if (token && !snapshot) {
        res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired' }));
        return;
      }
      if (!snapshot) {
        this.requests.list++;
        snapshot = { rv: this.rv, items: [...this.objects[resource].values()].filter((o) => nameFilter === undefined || (o.metadata as { name: string }).name === nameFilter) };
      }
      const offset = token ? Number(token.split(':')[1]) : 0;
      const end = limit > 0 ? Math.min(snapshot.items.length, offset + limit) : snapshot.items.length;
      const metadata: Record<string, string> = { resourceVersion: String(snapshot.rv) };
      if (end < snapshot.items.length) {
        const next = `${resource}-${snapshot.rv}-${++this.tokens}:${end}`;
        this.snapshots.set(next, snapshot);
        metadata.continue = next;
      }
      if (token) this.snapshots.delete(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind, apiVersion, metadata, items: snapshot.items.slice(offset, end) }));
      return;
    }
    this.requests.watch++;
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: Watcher = { resource, res, nameFilter, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
    if (from < this.compactedRv) {
      this.requests.gone++;
      this.send(w, {
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `too old resource version: ${from} (${this.compactedRv})`, reason: 'Expired', code: 410 },
      });
      res.end();
      return;
    }
    for (const e of this.history) if (e.rv > from && e.resource === resource && this.matches(w, e.object)) this.send(w, { type: e.type, object: e.object });
    this.watchers.add(w);
    req.on('close', () => this.watchers.delete(w));
  }
}
