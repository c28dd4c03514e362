// The desired state, kept up to date object by object. Watch events (or a file's objects)
// go in; flush() returns only the frontends whose desired content changed since the last
// flush, so a single endpoint change costs work for its service alone, not for the cluster.
// Pure: no I/O, no clock.
import { frontendId, type DesiredService } from './desired-services.js';
import type { TableChanges } from './desired-tables.js';
import { cidrContains, type Cidr } from '../net/cidr.js';
import { AddressRefs } from './address-refs.js';
import type { NodeContext } from './endpoint-selection.js';
import { nodeAddresses, podAddresses } from './host-addresses.js';
import { decodeService, decodeSlice, flatKey, isRecord, objectKey, type DecodedService, type DecodedSlice } from './k8s-decode.js';
import type { EndpointSlice, Node, Pod, Service } from './k8s-objects.js';
import type { PodRow } from './policy-objects.js';
import { describeValue, ProblemBook, ProblemSink, type Problem } from './problems.js';
import { externalFrontends } from './external-frontends.js';
import { ServiceEndpoints, serviceFrontends, type ServiceFrontend } from './service-frontends.js';
import { canonicalIp, ipFamily } from '../net/ip-address.js';

export interface IndexOptions {
  /** --service-cidrs: cluster IPs outside these are refused; empty or unset: any usable unicast address. */
  serviceCidrs?: readonly Cidr[];
  /** This node's addresses for NodePorts, as kube-proxy's --nodeport-addresses gives them.
   * Unset: the InternalIP and ExternalIP addresses of the Node object named by the node
   * context (--node-name), once it is known; without either, NodePorts get no frontend. */
  nodePortAddresses?: readonly string[];
  /** The node programs run (--node-devices): write the local-scope twins of
   * externalTrafficPolicy Local frontends (external-frontends.ts), which only they read. */
  localScopeFrontends?: boolean;
}

/** Frontends added or whose backends or settings changed (upserts), and frontend ids
 * (frontendId()) no service wants any more (removals). */
export type DesiredChanges = TableChanges<DesiredService>;

const key = flatKey;

function sameService(a: DesiredService, b: DesiredService): boolean {
  if ((a.affinityTimeoutSeconds ?? 0) !== (b.affinityTimeoutSeconds ?? 0) || a.owner !== b.owner || a.backends.length !== b.backends.length) return false;
  if (a.reach !== b.reach || a.externalPolicyLocal !== b.externalPolicyLocal || a.healthCheckNodePort !== b.healthCheckNodePort) return false;
  // Backends are sorted by selectEndpoints, so equal sets are equal lists.
  return a.backends.every((x, i) => x.address === b.backends[i]!.address && x.port === b.backends[i]!.port);
}

export class ServiceIndex {
  private node: NodeContext;
  private readonly services = new Map<string, DecodedService>();
  private readonly problemBook = new ProblemBook();
  /** Numbers objects without a usable name, whose problems are kept under a key of their own. */
  private unnamed = 0;
  private readonly slices = new Map<string, DecodedSlice>();
  /** Slices by the owner they name, so a service's slices are found without a scan. */
  private readonly slicesByOwner = new Map<string, Set<string>>();
  /** What each service programs now, by frontend id. */
  private readonly outputs = new Map<string, Map<string, DesiredService>>();
  /** Which service holds a frontend id; a second claimant waits, reported, until it is free. */
  private readonly claims = new Map<string, string>();
  private readonly waiting = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();
  /** Addresses of pods and nodes (endpoints of every slice, Pods, Nodes, the agent's own
   * interfaces): a cluster IP equal to one would capture that pod's or node's traffic. */
  private readonly hostAddresses = new AddressRefs((address) => this.addressChanged(address));
  /** The node addresses among them (Nodes, the agent's own interfaces): an externalIP may be
   * one (a node port of sorts), while one that is only a pod's would hijack its traffic. */
  private readonly nodeHostAddresses = new AddressRefs((address) => this.addressChanged(address));
  /** What each holder other than a slice contributed to hostAddresses, by "Pod ns/name" etc. */
  private readonly heldBy = new Map<string, readonly string[]>();
  /** Services by cluster IP, externalIP and load-balancer IP, so a change of hostAddresses
   * finds the services it affects. */
  private readonly servicesByAddress = new Map<string, Set<string>>();
  /** Services with a NodePort, looked at again when this node's addresses change. */
  private readonly servicesWithNodePorts = new Set<string>();
  private readonly serviceCidrs: readonly Cidr[];
  private readonly explicitNodePortAddresses: readonly string[] | undefined;
  private readonly localScopeFrontends: boolean;

  constructor(node: NodeContext = {}, options: IndexOptions = {}) {
    this.node = node;
    this.serviceCidrs = options.serviceCidrs ?? [];
    this.localScopeFrontends = options.localScopeFrontends === true;
    this.explicitNodePortAddresses = options.nodePortAddresses?.map((a) => {
      if (ipFamily(a) === undefined) throw new Error(`node port address ${JSON.stringify(a)} is not an IP address; give this node's IPv4 or IPv6 addresses`);
      return canonicalIp(a);
    });
  }

  private addressChanged(address: string): void {
    for (const owner of this.servicesByAddress.get(address) ?? []) this.dirty.add(owner);
  }

  /** The addresses a holder (a Pod, a Node, "local interfaces") has now; [] forgets it.
   * node: the holder is a node (its addresses may carry externalIPs and NodePorts). */
  setHostAddresses(holder: string, addresses: readonly string[], node = false): void {
    const before = this.heldBy.get(holder) ?? [];
    if (before.length === addresses.length && before.every((a, i) => a === addresses[i])) return;
    this.hostAddresses.add(addresses);
    this.hostAddresses.remove(before);
    if (node) {
      this.nodeHostAddresses.add(addresses);
      this.nodeHostAddresses.remove(before);
      if (holder === this.nodeHolder() && this.explicitNodePortAddresses === undefined) for (const owner of this.servicesWithNodePorts) this.dirty.add(owner);
    }
    if (addresses.length > 0) this.heldBy.set(holder, addresses);
    else this.heldBy.delete(holder);
  }

  /** The addresses of the agent's own interfaces: node addresses even without a Node object. */
  setLocalAddresses(addresses: readonly string[]): void {
    this.setHostAddresses('this node (its own interfaces)', addresses, true);
  }

  /** The heldBy key of this node's Node object. */
  private nodeHolder(): string | undefined {
    return this.node.name === undefined ? undefined : `Node ${this.node.name}`;
  }

  /** Where this node serves NodePorts: the explicit list, else its Node object's addresses. */
  private nodePortAddresses(): readonly string[] | undefined {
    if (this.explicitNodePortAddresses !== undefined) return this.explicitNodePortAddresses;
    const holder = this.nodeHolder();
    return holder === undefined ? undefined : this.heldBy.get(holder);
  }

  upsertPod(raw: Pod): void {
    const problems: Problem[] = [];
    const addresses = isRecord(raw) ? podAddresses(raw, problems) : [];
    const id = objectKey(raw);
    this.problemBook.set(`Pod ${id ?? `?${this.unnamed++}`}`, problems);
    if (id !== undefined) this.setHostAddresses(`Pod ${id}`, addresses);
  }

  /** A pod decoded elsewhere (for NetworkPolicy, which reports its problems): its addresses. */
  setPodAddresses(pod: PodRow): void {
    this.setHostAddresses(`Pod ${key(pod.namespace, pod.name)}`, pod.ips);
  }

  deletePod(namespace: string, name: string): void {
    const id = key(namespace, name);
    this.problemBook.delete(`Pod ${id}`);
    this.setHostAddresses(`Pod ${id}`, []);
  }

  upsertNode(raw: Node): void {
    const problems: Problem[] = [];
    const addresses = isRecord(raw) ? nodeAddresses(raw, problems) : [];
    const name = isRecord(raw) && isRecord(raw.metadata) && typeof raw.metadata.name === 'string' ? raw.metadata.name : undefined;
    this.problemBook.set(`Node ${name ?? `?${this.unnamed++}`}`, problems);
    if (name !== undefined) this.setHostAddresses(`Node ${name}`, addresses, true);
  }

  deleteNode(name: string): void {
    this.problemBook.delete(`Node ${name}`);
    this.setHostAddresses(`Node ${name}`, [], true);
  }

  private indexAddresses(owner: string, svc: DecodedService | undefined, add: boolean): void {
    if (!svc) return;
    for (const { ip } of [...svc.clusterIPs, ...svc.external.externalIPs, ...svc.external.loadBalancerIPs]) {
      let owners = this.servicesByAddress.get(ip);
      if (add) {
        if (!owners) this.servicesByAddress.set(ip, (owners = new Set()));
        owners.add(owner);
      } else if (owners) {
        owners.delete(owner);
        if (owners.size === 0) this.servicesByAddress.delete(ip);
      }
    }
    if (add && svc.ports.some((p) => p.nodePort !== undefined)) this.servicesWithNodePorts.add(owner);
    else if (!add) this.servicesWithNodePorts.delete(owner);
  }

  /** Why this cluster IP must not be programmed, or undefined. */
  private clusterIpRefusal(ip: string): string | undefined {
    if (this.hostAddresses.has(ip)) {
      return `${ip} is the address of ${this.holderOf(ip)}; a cluster IP that is a pod's or a node's address would capture its traffic for every balanced process, so it is not programmed`;
    }
    if (this.serviceCidrs.length > 0 && !this.serviceCidrs.some((c) => cidrContains(c, ip))) {
      return `${ip} is outside --service-cidrs (${this.serviceCidrs.map((c) => c.text).join(', ')}); cluster IPs come from the cluster's service CIDR, so this one is not programmed (fix the address or the flag)`;
    }
    return undefined;
  }

  /** Why an externalIP or load-balancer IP must not be programmed, or undefined. kube-proxy
   * takes any; socklb balances at the socket of every local process, so one that is a pod's
   * address would take that pod's traffic from every balanced client, and one in the service
   * CIDRs belongs to cluster IPs. A node's address is fine: only the service's ports are taken. */
  private externalIpRefusal(ip: string): string | undefined {
    if (this.hostAddresses.has(ip) && !this.nodeHostAddresses.has(ip)) {
      return `${ip} is the address of ${this.holderOf(ip)}; an external or load-balancer IP that is a pod's address would capture that pod's traffic for every balanced process, so it is not programmed (use an address routed to the cluster)`;
    }
    if (this.serviceCidrs.some((c) => cidrContains(c, ip))) {
      return `${ip} is inside --service-cidrs (${this.serviceCidrs.map((c) => c.text).join(', ')}), which belong to cluster IPs; it is not programmed as an external or load-balancer IP (use an address outside the service CIDRs)`;
    }
    return undefined;
  }

  /** Who holds an address, for the message above (rare: only when a cluster IP is refused). */
  private holderOf(ip: string): string {
    for (const [holder, addresses] of this.heldBy) if (addresses.includes(ip)) return holder;
    for (const [id, slice] of this.slices) if (slice.endpoints.addresses.includes(ip)) return `an endpoint of EndpointSlice ${id}`;
    return 'a pod or node';
  }

  /** The node's name or zone changed: every service may select differently. */
  setNode(node: NodeContext): void {
    if (node.name === this.node.name && node.zone === this.node.zone) return;
    this.node = node;
    for (const owner of this.services.keys()) this.dirty.add(owner);
  }

  upsertService(raw: Service): void {
    const problems: Problem[] = [];
    if (!isRecord(raw)) problems.push({ object: 'Service ?', field: '(object)', message: `is ${describeValue(raw)}; expected a Service object` });
    const decoded = isRecord(raw) ? decodeService(raw, problems) : undefined;
    const owner = objectKey(raw);
    // An object without a name cannot be updated or deleted later; its problems stay with this index.
    this.problemBook.set(`Service ${owner ?? `?${this.unnamed++}`}`, problems);
    if (owner === undefined) return;
    this.indexAddresses(owner, this.services.get(owner), false);
    this.indexAddresses(owner, decoded, true);
    if (decoded) this.services.set(owner, decoded);
    else this.services.delete(owner);
    this.dirty.add(owner);
  }

  deleteService(namespace: string, name: string): void {
    const owner = key(namespace, name);
    this.indexAddresses(owner, this.services.get(owner), false);
    this.services.delete(owner);
    this.problemBook.delete(`Service ${owner}`);
    this.dirty.add(owner);
  }

  upsertSlice(raw: EndpointSlice): void {
    const problems: Problem[] = [];
    if (!isRecord(raw)) {
      problems.push({ object: 'EndpointSlice ?', field: '(object)', message: `is ${describeValue(raw)}; expected an EndpointSlice object` });
      this.problemBook.set(`EndpointSlice ?${this.unnamed++}`, problems);
      return;
    }
    const decoded = decodeSlice(raw, problems);
    const id = objectKey(raw);
    if (id === undefined) {
      this.problemBook.set(`EndpointSlice ?${this.unnamed++}`, problems);
      return;
    }
    this.problemBook.set(`EndpointSlice ${id}`, problems);
    this.removeSlice(id);
    if (!decoded) return;
    this.slices.set(id, decoded);
    this.hostAddresses.add(decoded.endpoints.addresses);
    let set = this.slicesByOwner.get(decoded.owner);
    if (!set) this.slicesByOwner.set(decoded.owner, (set = new Set()));
    set.add(id);
    this.dirty.add(decoded.owner);
  }

  deleteSlice(namespace: string, name: string): void {
    const id = key(namespace, name);
    this.problemBook.delete(`EndpointSlice ${id}`);
    this.removeSlice(id);
  }

  private removeSlice(id: string): void {
    const prev = this.slices.get(id);
    if (!prev) return;
    this.slices.delete(id);
    this.hostAddresses.remove(prev.endpoints.addresses);
    this.slicesByOwner.get(prev.owner)?.delete(id);
    this.dirty.add(prev.owner);
  }

  /** Every problem with the objects as they are now. */
  problems(): Problem[] {
    return this.problemBook.all();
  }

  /** The whole desired state, for a full resync. */
  desired(): DesiredService[] {
    return [...this.outputs.values()].flatMap((m) => [...m.values()]);
  }

  get size(): { services: number; slices: number } {
    return { services: this.services.size, slices: this.slices.size };
  }

  /** A cluster IP outranks a north-south address (anyone who may edit a Service can name any
   * externalIP): it takes the frontend from its holder, which is recomputed and then waits,
   * reported. Any other conflict keeps the holder. */
  private preempt(fid: string, holder: string, wanted: DesiredService, touch: (fid: string, value: DesiredService | undefined) => void, queue: string[]): boolean {
    const held = this.outputs.get(holder)?.get(fid);
    if (wanted.reach !== undefined || held?.reach !== 'external') return false;
    touch(fid, held);
    this.outputs.get(holder)!.delete(fid);
    this.claims.delete(fid);
    queue.push(holder);
    return true;
  }

  /** Recomputes the services touched since the last flush and returns what changed. */
  flush(): DesiredChanges {
    // What each frontend touched in this flush held before it: the delta compares end with start,
    // whatever happened in between (a frontend can pass from one service to another).
    const before = new Map<string, DesiredService | null>();
    const touch = (fid: string, value: DesiredService | undefined): void => {
      if (!before.has(fid)) before.set(fid, value ?? null);
    };
    // Sorted, so a batch (a file, a relist) resolves VIP conflicts by namespace/name, the same on every run.
    const queue = [...this.dirty].sort();
    this.dirty.clear();
    // An index walks the queue: shift() would move the whole array per service.
    for (let at = 0; at < queue.length; at++) {
      const owner = queue[at]!;
      const released: string[] = [];
      for (const [fid, value] of this.outputs.get(owner) ?? []) {
        touch(fid, value);
        this.claims.delete(fid);
        released.push(fid);
      }
      for (const waiters of this.waiting.values()) waiters.delete(owner);
      const next = new Map<string, DesiredService>();
      const svc = this.services.get(owner);
      const problems: Problem[] = [];
      if (svc) {
        const sink = new ProblemSink(problems, `Service ${owner}`);
        const slices = [...(this.slicesByOwner.get(owner) ?? [])].map((id) => this.slices.get(id)!);
        const endpoints = new ServiceEndpoints(slices, sink);
        // Cluster IPs first: within a service they win a frontend over its north-south addresses.
        const frontends: ServiceFrontend[] = [
          ...serviceFrontends(svc, endpoints, this.node, sink, (ip) => this.clusterIpRefusal(ip)),
          ...externalFrontends(
            svc,
            endpoints,
            this.node,
            { nodeAddresses: this.nodePortAddresses(), refuse: (ip) => this.externalIpRefusal(ip), localScope: this.localScopeFrontends },
            sink,
          ),
        ];
        const fields = new Map<string, string>();
        for (const { field, ...desired } of frontends) {
          const fid = frontendId(desired.frontend);
          const { address, port, protocol } = desired.frontend;
          // A scoped twin goes with its frontend for every client: where this service does not
          // hold that one (another holds it, or it came twice), it holds neither.
          if (desired.frontend.scope && (next.get(frontendId({ address, port, protocol })) === undefined || fields.has(fid))) continue;
          const first = fields.get(fid);
          if (first !== undefined) {
            sink.add(field, `${address} port ${port}/${protocol} is also the frontend of ${first} of this service; it is served once, for ${first}`);
            continue;
          }
          const holder = this.claims.get(fid);
          if (holder !== undefined && holder !== owner && !this.preempt(fid, holder, desired, touch, queue)) {
            sink.add(field, `${address} port ${port}/${protocol} is already served for Service ${holder}; this port is skipped until one of them changes`);
            let w = this.waiting.get(fid);
            if (!w) this.waiting.set(fid, (w = new Set()));
            w.add(owner);
            continue;
          }
          touch(fid, undefined);
          this.claims.set(fid, owner);
          fields.set(fid, field);
          next.set(fid, desired);
        }
      }
      // A service that wanted a frontend this one let go may take it now. Only one really let
      // go: waking the waiters of a frontend taken again would wake this service in turn when
      // two services each hold what the other waits for, without end.
      // A frontend taken again as a north-south address can still be taken from this service by
      // one that wants it as a cluster IP (preempt()): those waiters are woken, and only they, so
      // two services holding north-south addresses the other waits for do not wake each other.
      for (const fid of released) {
        const waiters = this.waiting.get(fid);
        if (!waiters) continue;
        const retaken = next.get(fid);
        if (!retaken) {
          for (const w of waiters) queue.push(w);
          this.waiting.delete(fid);
        } else if (retaken.reach === 'external') {
          for (const w of waiters) {
            if (!this.services.get(w)?.clusterIPs.some((c) => c.ip === retaken.frontend.address)) continue;
            queue.push(w);
            waiters.delete(w);
          }
          if (waiters.size === 0) this.waiting.delete(fid);
        }
      }
      this.problemBook.set(`conflicts ${owner}`, problems);
      if (next.size > 0) this.outputs.set(owner, next);
      else this.outputs.delete(owner);
    }
    const upserts: DesiredService[] = [];
    const removals: string[] = [];
    for (const [fid, was] of before) {
      const holder = this.claims.get(fid);
      const now = holder === undefined ? undefined : this.outputs.get(holder)?.get(fid);
      if (now && !(was && sameService(was, now))) upserts.push(now);
      else if (!now && was) removals.push(fid);
    }
    return { upserts, removals };
  }
}

/** Objects besides Services and EndpointSlices that shape the desired state. */
export interface HostObjects {
  pods?: readonly Pod[];
  /** Pods already decoded (policy-objects.ts), whose problems the decoder reported. */
  podRows?: readonly PodRow[];
  nodes?: readonly Node[];
  /** Addresses of the agent's own interfaces: node addresses even without Node objects. */
  localAddresses?: readonly string[];
}

/** All objects at once: the desired state and its problems (the file source, and tests). */
export function desiredServices(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  node: NodeContext = {},
  options: IndexOptions = {},
  hosts: HostObjects = {},
): { services: DesiredService[]; problems: Problem[] } {
  const index = new ServiceIndex(node, options);
  for (const p of hosts.pods ?? []) index.upsertPod(p);
  for (const p of hosts.podRows ?? []) index.setPodAddresses(p);
  for (const n of hosts.nodes ?? []) index.upsertNode(n);
  if (hosts.localAddresses) index.setLocalAddresses(hosts.localAddresses);
  for (const s of slices) index.upsertSlice(s);
  for (const s of services) index.upsertService(s);
  index.flush();
  return { services: index.desired(), problems: index.problems() };
}
