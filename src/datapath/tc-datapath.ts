// The conntrack-mode datapath as installed on a node: the tc object's maps pinned under
// BPFFS/maps (the load-balancing maps are the socket mode's, adopted from their pins, so the
// reconciler and `service list` work the same in both modes), and its two programs attached
// to the pods' interfaces: from-pod on ingress of the host-side end, to-pod on egress.
import { objectId } from '../bpf/bpf-object.js';
import { listInterfaces } from '../bpf/interfaces.js';
import { attachTc, detachTc, interfaceIndex, queryTc, TC_HANDLE, type TcDirection } from '../bpf/tc-attach.js';
import { TypedMap } from '../bpf/typed-map.js';
import type { TargetChanges } from './datapath-component.js';
import { bpfObjectPath } from '../install-paths.js';
import { CT_MAP, ctEntryLayout, ctKeyLayout, type CtEntry, type CtKey } from './ct-map.js';
import { datapathMaps, type DatapathMaps } from './datapath-maps.js';
import { POD_LINKS_MAP, podLinkKeyLayout, podLinkLayout, type PodLink, type PodLinkKey } from './pod-links-map.js';
import { openPolicyMaps, type PolicyMaps } from './policy-tables.js';
import { closingOnError, loadDatapathObject, type DatapathObject } from './datapath-object.js';
import { SERVICE_RANGES_MAP, writeServiceRanges } from './service-ranges-map.js';
import type { Cidr } from '../net/cidr.js';

export const TC_OBJECT_PATH = bpfObjectPath('tc_lb');
/** Socket mode's tc object: NetworkPolicy only, no translation (bpf/tc_policy.bpf.c). */
export const TC_POLICY_OBJECT_PATH = bpfObjectPath('tc_policy');

/** Which program goes on which hook of a pod's host-side interface (the policy object's
 * programs take the same places: policy-tc.ts). */
export const HOOKS: readonly (readonly [TcDirection, string])[] = [
  ['ingress', 'slb_tc_from_pod'],
  ['egress', 'slb_tc_to_pod'],
];

export interface TcDatapath {
  maps: DatapathMaps;
  /** Conntrack mode's flows, and the reply entries of isolated pods' flows that are no service's. */
  ct: TypedMap<CtKey, CtEntry>;
  /** The NetworkPolicy tables the programs enforce (policy_enforce.h; empty: nothing isolated). */
  policy: PolicyMaps;
  /** Where the programs learned each pod is (pod_links.h). */
  podLinks: TypedMap<PodLinkKey, PodLink>;
  /** Program fds by name (for BPF_PROG_TEST_RUN in tests). */
  programFds: ReadonlyMap<string, number>;
  /** Puts both programs on the interface unless this load's programs are already there; true if it changed anything. */
  attach(ifname: string): boolean;
  /** Pins of another layout the load set aside (map-layouts.ts). */
  setAside: readonly string[];
  /** What of this install is gone from the kernel (its maps unpinned): see lostMapPins. */
  missing(): string[];
  close(): void;
}

/** Puts a loaded object's programs on an interface's hooks (hooks: direction, program name) as
 * the filter with the handle, each unless the same program is already there; true if it
 * changed anything. */
export function tcAttacher(obj: DatapathObject, hooks: readonly (readonly [TcDirection, string])[], handle = TC_HANDLE): (ifname: string) => boolean {
  const placed = hooks.map(([direction, name]) => {
    const fd = obj.programFd(name);
    return { direction, fd, id: objectId(fd, `program ${name}`) };
  });
  return (ifname) => {
    const ifindex = interfaceIndex(ifname);
    if (ifindex === 0) throw new Error(`interface ${ifname} does not exist (any more)`);
    let changed = false;
    for (const h of placed) {
      if (queryTc(ifindex, h.direction, ifname, handle) === h.id) continue;
      attachTc(ifindex, h.direction, h.fd, ifname, handle);
      changed = true;
    }
    return changed;
  };
}

export function installTcDatapath(opts: { bpffs: string; objectPath?: string; serviceCidrs?: readonly Cidr[] }): TcDatapath {
  const objectPath = opts.objectPath ?? TC_OBJECT_PATH;
  const obj = loadDatapathObject(objectPath, opts.bpffs);
  return closingOnError(obj, () => {
    // Shared with the socket hooks' object: written by whichever component is told the CIDRs.
    if (opts.serviceCidrs) writeServiceRanges(obj.mapFd(SERVICE_RANGES_MAP), opts.serviceCidrs);
    return {
      maps: datapathMaps(obj.maps),
      ct: new TypedMap(CT_MAP, obj.mapFd(CT_MAP), ctKeyLayout, ctEntryLayout),
      policy: openPolicyMaps((name) => obj.mapFd(name)),
      podLinks: new TypedMap(POD_LINKS_MAP, obj.mapFd(POD_LINKS_MAP), podLinkKeyLayout, podLinkLayout),
      programFds: new Map(obj.programs.map((p) => [p.name, obj.programFd(p.name)])),
      attach: tcAttacher(obj, HOOKS),
      missing: () => obj.lostMaps(),
      setAside: obj.setAside,
      close: () => obj.close(),
    };
  });
}

const DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];

/** One pass of a tc component over the interfaces there are (names): the programs onto those
 * that match (attach; true if it changed anything), off those that stopped matching (a changed
 * flag), the filter with the handle. An interface that vanishes between the listing and the
 * attach is the next pass's. */
export function syncTcInterfaces(names: readonly string[], matches: (name: string) => boolean, attach: (name: string) => boolean, handle = TC_HANDLE): TargetChanges {
  const attached: string[] = [];
  for (const name of names.filter(matches)) {
    try {
      if (attach(name)) attached.push(name);
    } catch (err) {
      if (listInterfaces().includes(name)) throw err;
    }
  }
  const detached = names.filter((name) => !matches(name) && detachTcFrom(name, handle));
  return { attached, detached };
}

/** Removes socklb's tc filters with the handle (default: the pods' interfaces' programs) from
 * the interface; true when there were any. */
export function detachTcFrom(ifname: string, handle = TC_HANDLE): boolean {
  const ifindex = interfaceIndex(ifname);
  if (ifindex === 0) return false;
  let any = false;
  for (const direction of DIRECTIONS) if (detachTc(ifindex, direction, ifname, handle)) any = true;
  return any;
}

/** Removes socklb's tc filters with the handle (default: the pods' interfaces' programs) from
 * every interface of this network namespace; returns the interfaces that had any. */
export function detachTcEverywhere(handle = TC_HANDLE): string[] {
  return interfacesWithTcFilters(handle).filter((name) => detachTcFrom(name, handle));
}

/** Interfaces of this network namespace that carry a socklb tc filter with the handle. */
export function interfacesWithTcFilters(handle = TC_HANDLE): string[] {
  return listInterfaces().filter((name) => {
    const ifindex = interfaceIndex(name);
    return ifindex !== 0 && DIRECTIONS.some((direction) => queryTc(ifindex, direction, name, handle) !== undefined);
  });
}
