// One resource kept in sync with the API server, as client-go's reflector does: list (in
// pages), then watch from the list's resourceVersion with bookmarks; a 410 Gone (an HTTP
// status or an ERROR event in the stream) relists. Any other failure restarts the watch, from
// the last resourceVersion, after a backoff that grows to 30 s with jitter: a broken watch or
// an API outage costs retries, never a crash, and the datapath keeps its last state.
//
// Why not client-node's ListWatch: its cache keeps every object for the agent's life (and
// cache.js loads ~36 MB of the generated API on import). Here objects are handed to the
// consumer and dropped; the only thing kept per object is its resourceVersion, to tell on a
// relist what changed or is gone. The watch requests themselves are client-node's Watch
// (watch-client.ts); the lists are plain GETs of raw JSON pages.
import { flatKey } from '../model/k8s-decode.js';
import { getJson, ApiError, type ApiConnection } from './api-connection.js';
import { openWatch, type WatchEventType } from './watch-client.js';

/** What the watch reads of every object; the consumer reads the rest. */
export interface ApiObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ResourceEvents {
  /** Read what you need now: the object is dropped when this returns. */
  upsert(obj: ApiObject): void;
  /** On a relist, the object is a stub with only the namespace and name. */
  delete(obj: ApiObject): void;
  /** After every batch of events; the caller coalesces. */
  changed(): void;
}

export interface ResourceWatchStatus {
  resource: string;
  /** A full list has been received at least once. */
  listed: boolean;
  /** When the last page of the last full list arrived (ms since the epoch). */
  listedAt: number | undefined;
  restarts: number;
  lastError: string | undefined;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000 };

interface ObjectList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: ApiObject[];
}

/** Items per list page, at most: a large cluster's list is never parsed at once. */
export const LIST_PAGE_SIZE = 100;

/** What a list page's body should stay under. V8 puts a string over 128 KB straight into its
 * large-object space, where it stays, however short-lived, until the next full GC; a page under
 * this size is a young object that dies young with the objects parsed from it. At 10,000
 * services x 10 endpoints, pages of 100 EndpointSlices (~180 KB each) left ~10 MB behind. */
export const LIST_PAGE_BYTES = 96 * 1024;

/** The next page's limit, from the bytes per item of the last one. */
export function nextPageLimit(items: number, bytes: number): number {
  if (items === 0 || bytes === 0) return LIST_PAGE_SIZE;
  return Math.max(1, Math.min(LIST_PAGE_SIZE, Math.floor((LIST_PAGE_BYTES * items) / bytes)));
}

/** Watches end on the server after 5 to 10 minutes, as client-go asks, so none lives on a stale connection. */
const watchTimeoutSeconds = (): number => 300 + Math.floor(Math.random() * 300);

// Kept for every object: one flat string (see flatKey), not a tree of concatenations.
const keyOf = (o: ApiObject): string => flatKey(o.metadata?.namespace ?? '', o.metadata?.name ?? '');

export class ResourceWatch {
  readonly status: ResourceWatchStatus;
  /** resourceVersion of every object, by namespace/name. */
  private readonly versions = new Map<string, string>();
  /** Where the next watch resumes; empty: list first. */
  private resourceVersion = '';
  /** Bumped by start and stop: callbacks of an earlier run are ignored. */
  private run = 0;
  private stopped = true;
  private abortWatch: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly conn: ApiConnection,
    resource: string,
    private readonly listPath: string,
    private readonly events: ResourceEvents,
    private readonly onError: (resource: string, err: Error, retryInMs: number) => void,
    private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly fieldSelector?: string,
  ) {
    this.status = { resource, listed: false, listedAt: undefined, restarts: 0, lastError: undefined };
  }

  start(): void {
    this.stopped = false;
    void this.connect(++this.run);
  }

  stop(): void {
    this.stopped = true;
    this.run++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.abortWatch?.();
  }

  private query(extra: Record<string, string>): string {
    const params = new URLSearchParams(extra);
    if (this.fieldSelector) params.set('fieldSelector', this.fieldSelector);
    return `${this.listPath}?${params}`;
  }

  private async connect(run: number): Promise<void> {
    try {
      if (!this.resourceVersion) await this.list(run);
      if (run === this.run) this.watch(run);
    } catch (err) {
      if (run === this.run) this.retry(err as Error);
    }
  }

  /** Applies each page as it arrives, so a large list is never held whole; the pages form one
   * consistent snapshot, and what the snapshot lacks is deleted once the last page is in. */
  private async list(run: number): Promise<void> {
    const seen = new Set<string>();
    let token: string | undefined;
    let page: ObjectList;
    let arrivedAt: number;
    // The API server takes a different limit on each page of one list.
    let limit = LIST_PAGE_SIZE;
    do {
      const got = await getJson<ObjectList>(this.conn, this.query({ limit: String(limit), ...(token ? { continue: token } : {}) }));
      page = got.value;
      limit = nextPageLimit(page.items?.length ?? 0, got.bytes);
      arrivedAt = Date.now();
      if (run !== this.run) return;
      for (const o of page.items ?? []) {
        const key = keyOf(o);
        seen.add(key);
        this.upsert(key, o);
      }
      this.events.changed();
      token = page.metadata?.continue || undefined;
    } while (token);
    for (const key of [...this.versions.keys()]) {
      if (seen.has(key)) continue;
      this.versions.delete(key);
      const [namespace, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      this.events.delete({ metadata: { namespace: namespace || undefined, name } });
    }
    // The last page carries the snapshot's resourceVersion too; the watch resumes from it.
    this.resourceVersion = page.metadata?.resourceVersion ?? '';
    this.failures = 0;
    this.status.listed = true;
    this.status.listedAt = arrivedAt;
    this.events.changed();
  }

  /** An object unchanged since it was last seen (the same resourceVersion) is not passed on again. */
  private upsert(key: string, o: ApiObject): void {
    const rv = o.metadata?.resourceVersion ?? '';
    if (rv !== '' && this.versions.get(key) === rv) return;
    this.versions.set(key, rv);
    this.events.upsert(o);
  }

  private watch(run: number): void {
    const params = {
      allowWatchBookmarks: true,
      resourceVersion: this.resourceVersion,
      timeoutSeconds: watchTimeoutSeconds(),
      fieldSelector: this.fieldSelector,
    };
    this.abortWatch = openWatch(
      this.conn,
      this.listPath,
      params,
      (type, object) => this.onEvent(run, type, object as ApiObject),
      (err) => {
        if (run !== this.run) return;
        if (err instanceof ApiError && err.statusCode === 410) this.resourceVersion = '';
        if (err && this.resourceVersion) this.retry(err);
        else void this.connect(run); // ended by the server, or expired: go on (relisting) now
      },
    );
  }

  private onEvent(run: number, type: WatchEventType, o: ApiObject): void {
    if (run !== this.run) return;
    if (type === 'ERROR') {
      // A Status: 410 Gone means the resourceVersion was compacted away, and a relist is due.
      const status = o as { code?: number; message?: string };
      this.abortWatch?.();
      if (status.code === 410) {
        this.resourceVersion = '';
        void this.connect(run);
      } else this.retry(new Error(`watch ${this.status.resource}: ${status.message ?? JSON.stringify(status)}`));
      return;
    }
    this.failures = 0;
    if (type === 'ADDED' || type === 'MODIFIED') this.upsert(keyOf(o), o);
    else if (type === 'DELETED' && this.versions.delete(keyOf(o))) this.events.delete(o);
    this.resourceVersion = o.metadata?.resourceVersion || this.resourceVersion;
    if (type !== 'BOOKMARK') this.events.changed();
  }

  private retry(err: Error): void {
    if (this.stopped) return;
    const run = ++this.run;
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
      if (!this.stopped && run === this.run) void this.connect(run);
    }, jittered);
  }
}
