// NetworkPolicy compiled into the tables the datapath looks a packet up in, so a verdict costs
// the same few lookups whatever the number of policies (policy-lookup.ts is that sequence):
//   endpoints  pod address → its identity and isolation flags (hash)
//   ipcache    address → peer identity: pods' identities, IDENTITY_HOST for the node's own
//              addresses, IDENTITY_WORLD for anything else (hash, a miss is WORLD)
//   policy     (subject identity, peer identity or CIDR class, direction, protocol, port) → allow
//              (LPM: a prefix leaves the protocol or the port's low bits free, so protocol-only
//              rules and endPort ranges are a few entries each; this is Cilium's policy map key.
//              An exact-match hash would need one entry per port of a range, or a lookup per
//              wildcard level)
//   cidr       (subject identity, direction, address) → CIDR class (LPM; cidr-regions.ts
//              explains why the except holes stay exact under the union of rules)
// An endpoint's identity is its namespace, labels and named container ports: what decides
// which policies select it and what its named ports resolve to, so endpoints of one identity
// share every entry (Cilium's identities are namespace + labels; named ports are added because
// a rule's named port resolves per destination pod, and egress rules resolve it against the
// peer). Rules without peers are rules for every address (0.0.0.0/0 and ::/0), so no
// "any identity" lookup is needed. A named port in an egress ipBlock rule resolves per pod, so
// it becomes host prefixes, one per pod address in the block.
// A full recompute from the rows; identities and classes keep their ids across recomputes
// (IdentityAllocator), so a changed pod or policy changes only the entries it touches. Pure.
import { canonicalIp } from '../../net/ip-address.js';
import type { Cidr } from '../../net/cidr.js';
import type { IpBlock, Labels, NamedPort, NetworkPolicyRow, PodRow, PolicyDirection, PolicyPeer, PolicyRule } from '../policy-objects.js';
import { selectorMatches } from './label-selector.js';
import { cidrRegions, prefixContains, type RegionRule } from './cidr-regions.js';
import { IdentityAllocator } from './identity-allocator.js';
import { ipBlockContains, policyCidr, type FamilyCidr } from './ip-block.js';
import { LpmTable } from './lpm-table.js';
import { ClusterIndex, podId, type PolicyCluster } from './policy-cluster.js';
import * as K from './policy-keys.js';
import { normalisePorts, portBlocks, portSetKey, resolvePorts, type PortRange } from './port-set.js';
import { peerMatches, policySelects, rulesOf } from './reference-evaluator.js';

export interface PeerIdentity {
  id: number;
  namespace: string;
  labels: Labels;
  namedPorts: readonly NamedPort[];
  /** namespace/name of its pods. */
  pods: string[];
}

export interface EndpointEntry {
  pod: string;
  identity: number;
  /** ENDPOINT_* bits. */
  flags: number;
}

export interface CompiledPolicy {
  endpoints: Map<string, EndpointEntry>;
  ipcache: Map<string, number>;
  policy: LpmTable<number>;
  cidr: LpmTable<number>;
  identities: Map<number, PeerIdentity>;
  cidrClasses: Map<number, PortRange[]>;
  /** Things compiled other than written (SCTP ports, addresses two pods claim). */
  warnings: string[];
}

export interface CompileOptions {
  /** Only pods on cluster.localNode become endpoints (what the datapath loads). Default: all. */
  localOnly?: boolean;
}

const ALL_IPV4 = policyCidr('0.0.0.0/0');
const ALL_IPV6 = policyCidr('::/0');
/** In the 16-byte form IPv4 addresses sit inside IPv6 prefixes like ::/0; an IPv6 block holds no
 * IPv4 peer, so this range is subtracted from every IPv6 block that overlaps it. */
const V4_MAPPED = policyCidr('::ffff:0:0/96');
const hostPrefix = (ip: string): Cidr => policyCidr(`${ip}/${ip.includes(':') ? 128 : 32}`);

interface Group extends Omit<PeerIdentity, 'id'> {
  key: string;
  /** A pod of the group: selectors and policySelects read only its namespace and labels. */
  sample: PodRow;
}

function identityKey(pod: PodRow): string {
  const labels = Object.entries(pod.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  const ports = pod.namedPorts.map((p) => `${p.name}/${p.protocol}/${p.port}`).sort();
  return JSON.stringify([pod.namespace, labels, ports]);
}

/** Pods with addresses grouped into identities, and the group of each address. */
function groupPods(index: ClusterIndex): { groups: Map<string, Group>; groupOfIp: Map<string, Group> } {
  const groups = new Map<string, Group>();
  const groupOfIp = new Map<string, Group>();
  for (const [ip, pod] of index.podsByIp) {
    const key = identityKey(pod);
    let group = groups.get(key);
    if (!group) {
      group = { key, namespace: pod.namespace, labels: pod.labels, namedPorts: pod.namedPorts, pods: [], sample: pod };
      groups.set(key, group);
    }
    if (!group.pods.includes(podId(pod))) group.pods.push(podId(pod));
    groupOfIp.set(ip, group);
  }
  return { groups, groupOfIp };
}

/** A direction is isolated once any policy selecting the pod lists it in policyTypes. */
function isolationFlags(selecting: readonly NetworkPolicyRow[]): number {
  let flags = 0;
  if (selecting.some((p) => p.policyTypes.includes('Ingress'))) flags |= K.ENDPOINT_INGRESS_ISOLATED;
  if (selecting.some((p) => p.policyTypes.includes('Egress'))) flags |= K.ENDPOINT_EGRESS_ISOLATED;
  return flags;
}

export class PolicyCompiler {
  private readonly podIdentities = new IdentityAllocator(K.FIRST_POD_IDENTITY, K.FIRST_CIDR_CLASS);
  private readonly classIds = new IdentityAllocator(K.FIRST_CIDR_CLASS, 0xffffffff);

  compile(cluster: PolicyCluster, options: CompileOptions = {}): CompiledPolicy {
    const index = new ClusterIndex(cluster);
    const warnings = index.addressConflicts.map((c) => `pod ${c.pod}: address ${c.ip} is already ${c.owner}'s; policy treats it as ${c.owner}'s`);
    const { groups, groupOfIp } = groupPods(index);
    // Selectors without a namespaceSelector, and every policy, look at one namespace's pods only.
    const groupsByNamespace = new Map<string, Group[]>();
    for (const g of groups.values()) groupsByNamespace.set(g.namespace, [...(groupsByNamespace.get(g.namespace) ?? []), g]);
    const policiesByNamespace = new Map<string, NetworkPolicyRow[]>();
    for (const p of cluster.policies) policiesByNamespace.set(p.namespace, [...(policiesByNamespace.get(p.namespace) ?? []), p]);
    const selectingOf = (g: Group): NetworkPolicyRow[] => (policiesByNamespace.get(g.namespace) ?? []).filter((p) => policySelects(p, g.sample));
    const ids = this.podIdentities.assign(groups.keys());
    const idOf = (g: Group): number => ids.get(g.key)!;

    const out: CompiledPolicy = {
      endpoints: new Map(),
      ipcache: new Map(),
      policy: new LpmTable(K.POLICY_KEY_BYTES),
      cidr: new LpmTable(K.CIDR_KEY_BYTES),
      identities: new Map(),
      cidrClasses: new Map(),
      warnings,
    };
    for (const g of groups.values()) out.identities.set(idOf(g), { id: idOf(g), namespace: g.namespace, labels: g.labels, namedPorts: g.namedPorts, pods: g.pods });
    for (const [ip, g] of groupOfIp) out.ipcache.set(ip, idOf(g));
    for (const ip of cluster.localNode?.addresses ?? []) out.ipcache.set(canonicalIp(ip), K.IDENTITY_HOST);

    this.warnSctp(cluster.policies, warnings);
    const subjects = new Map<Group, number>();
    for (const [ip, pod] of index.podsByIp) {
      if (options.localOnly && !index.isOnLocalNode(pod)) continue;
      const g = groupOfIp.get(ip)!;
      let flags = subjects.get(g);
      if (flags === undefined) {
        flags = isolationFlags(selectingOf(g));
        subjects.set(g, flags);
      }
      out.endpoints.set(ip, { pod: podId(pod), identity: idOf(g), flags: flags | (index.isOnLocalNode(pod) ? K.ENDPOINT_HOST_IS_OWN_NODE : 0) });
    }

    const pendingCidr: { subject: number; direction: number; prefix: Cidr; ports: string; set: PortRange[] }[] = [];
    for (const [g, flags] of subjects) {
      const selecting = selectingOf(g);
      for (const direction of ['Ingress', 'Egress'] as const) {
        const bit = direction === 'Ingress' ? K.ENDPOINT_INGRESS_ISOLATED : K.ENDPOINT_EGRESS_ISOLATED;
        if (!(flags & bit)) continue;
        const compiler = new DirectionCompiler(index, groupsByNamespace, idOf, g, direction, out.policy);
        for (const policy of selecting) {
          if (!policy.policyTypes.includes(direction)) continue;
          for (const rule of rulesOf(policy, direction)) compiler.addRule(policy, rule);
        }
        for (const region of cidrRegions(compiler.cidrRules)) {
          const set = normalisePorts(region.values.flat());
          pendingCidr.push({ subject: idOf(g), direction: K.DIRECTION_CODE[direction], prefix: region.prefix, ports: portSetKey(set), set });
        }
      }
    }
    // Classes are numbered once every set in use is known, so unused ones are released.
    const classes = this.classIds.assign(pendingCidr.filter((p) => p.set.length > 0).map((p) => p.ports));
    for (const p of pendingCidr) {
      const cls = p.set.length > 0 ? classes.get(p.ports)! : K.CIDR_CLASS_NONE;
      out.cidr.set(K.cidrKey(p.subject, p.direction, p.prefix.bytes), K.CIDR_PREFIX_BASE + p.prefix.bits, cls);
      if (cls !== K.CIDR_CLASS_NONE && !out.cidrClasses.has(cls)) {
        out.cidrClasses.set(cls, p.set);
        addPortEntries(out.policy, K.CLASS_SUBJECT, cls, 0, p.set);
      }
    }
    return out;
  }

  private warnSctp(policies: readonly NetworkPolicyRow[], warnings: string[]): void {
    for (const p of policies) {
      if ([...p.ingress, ...p.egress].some((r) => r.ports.some((port) => port.protocol === 'SCTP'))) {
        warnings.push(`policy ${podId(p)}: SCTP ports are ignored (this kernel has no SCTP); the policy still isolates the pods it selects`);
      }
    }
  }
}

/** Writes allow entries for `ranges` under (subject, peer, direction). */
function addPortEntries(table: LpmTable<number>, subject: number, peer: number, direction: number, ranges: readonly PortRange[]): void {
  for (const r of normalisePorts(ranges)) {
    if (r.protocol === 0) {
      table.set(K.policyKey(subject, peer, direction, 0, 0), K.POLICY_PREFIX_ANY_PROTOCOL, 1);
      continue;
    }
    for (const b of portBlocks(r.lo, r.hi)) table.set(K.policyKey(subject, peer, direction, r.protocol, b.start), K.POLICY_PREFIX_ANY_PORT + b.bits, 1);
  }
}

/** The rules of one direction of one subject identity, as identity entries and CIDR rules. */
class DirectionCompiler {
  readonly cidrRules: RegionRule<PortRange[]>[] = [];
  private readonly code: number;

  constructor(
    private readonly index: ClusterIndex,
    private readonly groupsByNamespace: ReadonlyMap<string, readonly Group[]>,
    private readonly idOf: (g: Group) => number,
    private readonly subject: Group,
    private readonly direction: PolicyDirection,
    private readonly policy: LpmTable<number>,
  ) {
    this.code = K.DIRECTION_CODE[direction];
  }

  addRule(policy: NetworkPolicyRow, rule: PolicyRule): void {
    if (rule.peers.length === 0) {
      this.addCidr(ALL_IPV4, [], rule);
      this.addCidr(ALL_IPV6, [], rule);
      return;
    }
    for (const peer of rule.peers) {
      if (peer.ipBlock) {
        this.addCidr(policyCidr(peer.ipBlock.cidr), peer.ipBlock.except.map(policyCidr), rule, peer.ipBlock);
        continue;
      }
      for (const g of this.candidates(policy, peer)) {
        if (!peerMatches(this.index, policy, peer, '', g.sample)) continue;
        const destination = this.direction === 'Ingress' ? this.subject.namedPorts : g.namedPorts;
        addPortEntries(this.policy, this.idOf(this.subject), this.idOf(g), this.code, resolvePorts(rule.ports, destination));
      }
    }
  }

  /** The groups a selector peer can match: the policy's namespace's, or those of the namespaces
   * its namespaceSelector selects. */
  private candidates(policy: NetworkPolicyRow, peer: PolicyPeer): readonly Group[] {
    if (!peer.namespaceSelector) return this.groupsByNamespace.get(policy.namespace) ?? [];
    const sel = peer.namespaceSelector;
    return [...this.groupsByNamespace].flatMap(([ns, gs]) => (selectorMatches(sel, this.index.namespaceLabels(ns)) ? gs : []));
  }

  private addCidr(cidr: FamilyCidr, excepts: FamilyCidr[], rule: PolicyRule, block: IpBlock = { cidr: cidr.text, except: excepts.map((e) => e.text) }): void {
    // An except of the other family holds none of the block's addresses.
    const holes: Cidr[] = excepts.filter((e) => e.family === cidr.family);
    if (cidr.family === 6 && (prefixContains(cidr, V4_MAPPED) || prefixContains(V4_MAPPED, cidr))) holes.push(V4_MAPPED);
    // Toward a bare address a named port matches nothing; toward a pod it is resolved below.
    const destination = this.direction === 'Ingress' ? this.subject.namedPorts : undefined;
    this.cidrRules.push({ cidr, excepts: holes, value: resolvePorts(rule.ports, destination) });
    if (this.direction === 'Ingress' || !rule.ports.some((p) => typeof p.port === 'string')) return;
    for (const [ip, pod] of this.index.podsByIp) {
      if (!ipBlockContains(block, ip)) continue;
      const named = resolvePorts(rule.ports, pod.namedPorts, 'named');
      if (named.length > 0) this.cidrRules.push({ cidr: hostPrefix(ip), excepts: [], value: named });
    }
  }
}
