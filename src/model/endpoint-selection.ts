// Which endpoints of a service port new connections from this node may use, with kube-proxy's
// semantics (pkg/proxy/topology.go, CategorizeEndpoints):
//  - cluster traffic policy: ready endpoints, narrowed to this zone's when topology hints apply;
//    when none is ready, endpoints that are serving and terminating, so a rolling update that
//    briefly has no ready pod does not drop traffic;
//  - internalTrafficPolicy Local: only this node's endpoints (ready ones, else serving and
//    terminating ones), never another node's, even when this node has none.
import type { Backend } from './desired-services.js';

export interface EndpointCandidate extends Backend {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** EndpointSlice endpoints[].nodeName. */
  nodeName?: string | undefined;
  /** EndpointSlice endpoints[].hints.forZones[].name; undefined when the endpoint has no hints. */
  zoneHints?: readonly string[] | undefined;
}

/** Where this agent runs: the node's name (NODE_NAME) and its topology.kubernetes.io/zone label. */
export interface NodeContext {
  name?: string | undefined;
  zone?: string | undefined;
}

export interface SelectionPolicy {
  /** internalTrafficPolicy: Local */
  localOnly: boolean;
  /** The service asks for topology-aware routing (annotation or trafficDistribution). */
  topologyAware: boolean;
}

const CLUSTER: SelectionPolicy = { localOnly: false, topologyAware: false };

/** Condition values as the API defines them: ready and serving default to true when unset, terminating to false. */
export function endpointConditions(c: { ready?: unknown; serving?: unknown; terminating?: unknown } | undefined): {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
} {
  return {
    ready: c?.ready === undefined || c.ready === null || c.ready === true,
    serving: c?.serving === undefined || c.serving === null || c.serving === true,
    terminating: c?.terminating === true,
  };
}

function compareBackends(a: Backend, b: Backend): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;
}

/** Hints are used only when they can be trusted: the node has a zone, every ready endpoint
 * carries hints, and at least one is meant for this zone (kube-proxy's canUseTopology). */
function canUseTopology(endpoints: readonly EndpointCandidate[], node: NodeContext): boolean {
  if (!node.zone) return false;
  let forThisZone = false;
  for (const e of endpoints) {
    if (!e.ready) continue;
    if (!e.zoneHints || e.zoneHints.length === 0) return false;
    if (e.zoneHints.includes(node.zone)) forThisZone = true;
  }
  return forThisZone;
}

const servingTerminating = (e: EndpointCandidate): boolean => e.serving && e.terminating;

/** Deduplicated (the same address and port may appear in several slices), filtered by policy, sorted. */
export function selectEndpoints(candidates: readonly EndpointCandidate[], policy: SelectionPolicy = CLUSTER, node: NodeContext = {}): Backend[] {
  const seen = new Map<string, EndpointCandidate>();
  for (const c of candidates) {
    const id = `${c.address}|${c.port}`;
    const prev = seen.get(id);
    // During a slice migration one endpoint can be listed twice; the readier listing wins.
    if (!prev || (c.ready && !prev.ready)) seen.set(id, c);
  }
  const all = [...seen.values()];
  let chosen: EndpointCandidate[];
  if (policy.localOnly) {
    const local = all.filter((e) => node.name !== undefined && e.nodeName === node.name);
    const ready = local.filter((e) => e.ready);
    chosen = ready.length > 0 ? ready : local.filter(servingTerminating);
  } else {
    const useTopology = policy.topologyAware && canUseTopology(all, node);
    const ready = all.filter((e) => e.ready && (!useTopology || e.zoneHints!.includes(node.zone!)));
    chosen = ready.length > 0 ? ready : all.filter(servingTerminating);
  }
  return chosen.map(({ address, port }) => ({ address, port })).sort(compareBackends);
}
