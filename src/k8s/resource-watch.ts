// One resource kept in sync with @kubernetes/client-node's ListWatch informer: list, then
// watch from the list's resourceVersion (with bookmarks), relist on 410 Gone. The informer
// stops on any other error; we start it again after a backoff that grows to 30 s, so a broken
// watch or an API outage costs retries, never a crash, and the datapath keeps its last state.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { getJson } from './kube-client.js';
import { trimObject } from './object-trim.js';

export interface ResourceEvents<T> {
  /** Read what you need now: the object's payload is dropped when this returns. */
  upsert(obj: T): void;
  delete(obj: T): void;
  /** After every batch of events; the caller coalesces. */
  changed(): void;
}

export interface ResourceWatchStatus {
  resource: string;
  /** A full list has been received at least once. */
  listed: boolean;
  /** When the last full list finished arriving (ms since the epoch). */
  listedAt: number | undefined;
  restarts: number;
  lastError: string | undefined;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000 };

interface ObjectList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Items per list page, as client-go's pager asks: a large cluster's list is never parsed at once. */
export const LIST_PAGE_SIZE = 100;

/** Once the consumer has read an object, the informer's cache needs only its name, namespace
 * and resourceVersion (to tell on a relist what is gone or changed); dropping the rest roughly
 * halves the agent's heap in a large cluster. The consumer keeps no reference into objects. */
function releasePayload(o: KubernetesObject): void {
  const obj = o as unknown as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata') delete obj[k];
  const meta = o.metadata;
  if (meta) o.metadata = { name: meta.name, namespace: meta.namespace, resourceVersion: meta.resourceVersion };
}

export class ResourceWatch<T extends KubernetesObject> {
  readonly status: ResourceWatchStatus;
  private readonly informer: ListWatch<T>;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    kc: KubeConfig,
    resource: string,
    listPath: string,
    events: ResourceEvents<T>,
    private readonly onError: (resource: string, err: Error, retryInMs: number) => void,
    private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF,
    fieldSelector?: string,
  ) {
    this.status = { resource, listed: false, listedAt: undefined, restarts: 0, lastError: undefined };
    const selector = fieldSelector ? `&fieldSelector=${encodeURIComponent(fieldSelector)}` : '';
    const listFn = async (): Promise<ObjectList<T>> => {
      const items: T[] = [];
      let page: ObjectList<T>;
      let token: string | undefined;
      do {
        const cont = token ? `&continue=${encodeURIComponent(token)}` : '';
        page = await getJson<ObjectList<T>>(kc, `${listPath}?limit=${LIST_PAGE_SIZE}${cont}${selector}`);
        for (const o of page.items ?? []) items.push(trimObject(resource, o) as T);
        token = page.metadata?.continue || undefined;
      } while (token);
      // The pages form one consistent snapshot at the first page's resourceVersion; the last
      // page carries it too, and the watch resumes from it.
      const list: ObjectList<T> = { metadata: { resourceVersion: page.metadata?.resourceVersion ?? '' }, items };
      this.status.listedAt = Date.now();
      // The informer applies the items right after this resolves, synchronously; the
      // immediate callback runs after that, when the state really holds the list.
      setImmediate(() => {
        this.status.listed = true;
        this.failures = 0;
        events.changed();
      });
      return list;
    };
    // Watch events are trimmed on their way into the informer's cache, like list items.
    const watch = new Watch(kc);
    const trimmingWatch = {
      watch: (path: string, params: Record<string, string | number | boolean | undefined>, onEvent: (phase: string, obj: T, raw: unknown) => void, done: (err: unknown) => void) =>
        watch.watch(
          path,
          params,
          (phase: string, obj: T, raw: unknown) => onEvent(phase, phase === 'ERROR' || phase === 'BOOKMARK' ? obj : (trimObject(resource, obj) as T), raw),
          done,
        ),
    } as unknown as Watch;
    // The watch path carries allowWatchBookmarks: the informer adds watch, resourceVersion
    // and the field selector to it, and bookmarks keep the resourceVersion fresh on quiet
    // resources so a reconnect rarely needs a relist.
    this.informer = new ListWatch<T>(`${listPath}?allowWatchBookmarks=true`, trimmingWatch, listFn as never, false, undefined, fieldSelector);
    const upsert = (o: T): void => {
      events.upsert(o);
      releasePayload(o);
      events.changed();
    };
    this.informer.on('add', upsert);
    this.informer.on('update', upsert);
    this.informer.on('delete', (o) => {
      events.delete(o);
      events.changed();
    });
    this.informer.on('error', (err) => this.retry(err as Error));
  }

  start(): void {
    this.stopped = false;
    void this.informer.start().catch((err: Error) => this.retry(err));
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    void this.informer.stop();
  }

  private retry(err: Error): void {
    if (this.stopped) return;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.failures);
    // Jitter spreads the reconnects of a whole cluster's agents after an API outage.
    const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
    this.failures++;
    this.status.restarts++;
    this.status.lastError = err.message;
    this.onError(this.status.resource, err, jittered);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) this.start();
    }, jittered);
  }
}
