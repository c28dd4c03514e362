// The API server as a desired-state source: Services, EndpointSlices and this node's Node
// object, watched with informers and folded into a ServiceIndex event by event; and Pods,
// Namespaces and NetworkPolicies, decoded for NetworkPolicy (PolicyInputFeed). It is ready once
// every list has arrived; before that a restarted agent leaves the pinned maps alone rather
// than programming a half-known cluster.
import type { Logger } from 'pino';
import { SERVICES } from '../model/desired-services.js';
import { deltaTable, fullTable } from '../model/desired-tables.js';
import { isRecord } from '../model/k8s-decode.js';
import { ServiceIndex, type IndexOptions } from '../model/service-index.js';
import { ZONE_LABEL, type EndpointSlice, type Namespace, type NetworkPolicy, type Node, type Pod, type Service } from '../model/k8s-objects.js';
import { PolicyInputFeed } from '../model/policy-input-feed.js';
import type { Problem } from '../model/problems.js';
import type { DesiredSource, SourceUpdate } from '../source/desired-source.js';
import { localInterfaceAddresses } from '../source/local-addresses.js';
import type { ApiConnection } from './api-connection.js';
import { DEFAULT_BACKOFF, ResourceWatch, type ApiObject, type BackoffPolicy, type ResourceWatchStatus } from './resource-watch.js';

/** The API resources the agent reads: the watches below and deploy/'s ClusterRole follow this list. */
export const WATCHED_RESOURCES = [
  { group: '', resource: 'services', path: '/api/v1/services' },
  { group: 'discovery.k8s.io', resource: 'endpointslices', path: '/apis/discovery.k8s.io/v1/endpointslices' },
  { group: '', resource: 'nodes', path: '/api/v1/nodes' },
  // All pods of the cluster, not only this node's: a policy's peers are pods anywhere.
  { group: '', resource: 'pods', path: '/api/v1/pods' },
  { group: '', resource: 'namespaces', path: '/api/v1/namespaces' },
  { group: 'networking.k8s.io', resource: 'networkpolicies', path: '/apis/networking.k8s.io/v1/networkpolicies' },
] as const;

const nsName = (o: ApiObject): [string, string] => [o.metadata?.namespace ?? 'default', o.metadata?.name ?? ''];

const zoneOf = (node: ApiObject): string | undefined => {
  const labels = (node as Node).metadata?.labels;
  return isRecord(labels) && typeof labels[ZONE_LABEL] === 'string' ? labels[ZONE_LABEL] : undefined;
};

export class ClusterSource implements DesiredSource {
  private readonly index: ServiceIndex;
  private readonly policyInputs = new PolicyInputFeed();
  private readonly watches: ResourceWatch[];
  /** problems() of the index and of the feed, and both joined: the same array until one changes. */
  private joinedProblems: [Problem[], Problem[], Problem[]] = [[], [], []];
  private fullResyncDue = true;
  private onChange: () => void = () => undefined;

  constructor(conn: ApiConnection, nodeName: string | undefined, log: Logger, backoff: BackoffPolicy = DEFAULT_BACKOFF, options: IndexOptions = {}) {
    this.index = new ServiceIndex({ name: nodeName }, options);
    // The node's own addresses, known before its Node object arrives (and without one).
    this.index.setLocalAddresses(localInterfaceAddresses());
    const onError = (resource: string, err: Error, retryInMs: number): void =>
      log.warn({ resource, err: err.message, retryInMs }, 'watch failed; the datapath keeps its state and the watch restarts');
    const watch = (resource: (typeof WATCHED_RESOURCES)[number], upsert: (o: ApiObject) => void, del: (o: ApiObject) => void, fieldSelector?: string) =>
      new ResourceWatch(conn, resource.resource, resource.path, { upsert, delete: del, changed: () => this.onChange() }, onError, backoff, fieldSelector);
    const [services, slices, nodes, pods, namespaces, policies] = WATCHED_RESOURCES;
    this.watches = [
      watch(
        services,
        (o) => this.index.upsertService(o as Service),
        (o) => this.index.deleteService(...nsName(o)),
      ),
      watch(
        slices,
        (o) => this.index.upsertSlice(o as EndpointSlice),
        (o) => this.index.deleteSlice(...nsName(o)),
      ),
      watch(
        pods,
        (o) => {
          const row = this.policyInputs.upsertPod(o as Pod);
          if (row) this.index.setPodAddresses(row);
        },
        (o) => {
          this.policyInputs.deletePod(...nsName(o));
          this.index.deletePod(...nsName(o));
        },
      ),
      watch(
        namespaces,
        (o) => this.policyInputs.upsertNamespace(o as Namespace),
        (o) => this.policyInputs.deleteNamespace(nsName(o)[1]),
      ),
      watch(
        policies,
        (o) => this.policyInputs.upsertPolicy(o as NetworkPolicy),
        (o) => this.policyInputs.deletePolicy(...nsName(o)),
      ),
    ];
    if (nodeName) {
      // Only this node: its zone label decides topology-aware routing, and its addresses are
      // not for cluster IPs to take.
      this.watches.push(
        watch(
          nodes,
          (o) => {
            this.index.setNode({ name: nodeName, zone: zoneOf(o) });
            this.index.upsertNode(o as Node);
          },
          () => {
            this.index.setNode({ name: nodeName });
            this.index.deleteNode(nodeName);
          },
          `metadata.name=${nodeName}`,
        ),
      );
    } else {
      log.warn('NODE_NAME is not set: services with internalTrafficPolicy Local get no endpoints and topology hints are not used; set it from the downward API (spec.nodeName)');
    }
  }

  start(onChange: () => void): void {
    this.onChange = onChange;
    for (const w of this.watches) w.start();
  }

  stop(): void {
    for (const w of this.watches) w.stop();
  }

  ready(): boolean {
    return this.watches.every((w) => w.status.listed);
  }

  /** When the last of the initial lists arrived, once all have. */
  completeSince(): number | undefined {
    return this.ready() ? Math.max(...this.watches.map((w) => w.status.listedAt ?? 0)) : undefined;
  }

  watchStatus(): ResourceWatchStatus[] {
    return this.watches.map((w) => w.status);
  }

  take(): SourceUpdate | undefined {
    if (!this.ready()) return undefined;
    const changes = this.index.flush();
    // Whole tables the first time, deltas after (see PolicyInputFeed).
    const policyTables = this.policyInputs.take();
    if (this.fullResyncDue) {
      // The first update compares everything with the maps, which a previous agent may have
      // left different from the cluster (drift while no agent ran).
      this.fullResyncDue = false;
      return { tables: [fullTable(SERVICES, this.index.desired()), ...policyTables] };
    }
    const tables = changes.upserts.length === 0 && changes.removals.length === 0 ? policyTables : [deltaTable(SERVICES, changes), ...policyTables];
    return tables.length > 0 ? { tables } : undefined;
  }

  problems(): Problem[] {
    const [a, b] = [this.index.problems(), this.policyInputs.problems()];
    const [lastA, lastB] = this.joinedProblems;
    if (a !== lastA || b !== lastB) this.joinedProblems = [a, b, b.length === 0 ? a : [...a, ...b]];
    return this.joinedProblems[2];
  }
}
