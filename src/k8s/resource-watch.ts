// One resource kept in sync with @kubernetes/client-node's ListWatch informer: list, then
// watch from the list's resourceVersion (with bookmarks), relist on 410 Gone. The informer
// stops on any other error; we start it again after a backoff that grows to 30 s, so a broken
// watch or an API outage costs retries, never a crash, and the datapath keeps its last state.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { getJson } from './kube-client.js';

export interface ResourceEvents<T> {
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
  metadata?: { resourceVersion?: string };
  items: T[];
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
      const list = await getJson<ObjectList<T>>(kc, `${listPath}?${selector.slice(1)}`);
      this.status.listedAt = Date.now();
      // The informer applies the items right after this resolves, synchronously; the
      // immediate callback runs after that, when the state really holds the list.
      setImmediate(() => {
        this.status.listed = true;
        this.failures = 0;
        events.changed();
      });
      return { ...list, items: list.items ?? [] };
    };
    // The watch path carries allowWatchBookmarks: the informer adds watch, resourceVersion
    // and the field selector to it, and bookmarks keep the resourceVersion fresh on quiet
    // resources so a reconnect rarely needs a relist.
    this.informer = new ListWatch<T>(`${listPath}?allowWatchBookmarks=true`, new Watch(kc), listFn as never, false, undefined, fieldSelector);
    this.informer.on('add', (o) => {
      events.upsert(o);
      events.changed();
    });
    this.informer.on('update', (o) => {
      events.upsert(o);
      events.changed();
    });
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
