// The conntrack-mode datapath as installed on a node: the tc object's maps pinned under
// BPFFS/maps (the load-balancing maps are the socket mode's, adopted from their pins, so the
// reconciler and `service list` work the same in both modes), and its two programs attached
// to the pods' interfaces: from-pod on ingress of the host-side end, to-pod on egress.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadPinnedObject, lostMapPins, objectId } from '../bpf/bpf-object.js';
import { checkReturn } from '../bpf/bpf-error.js';
import { listInterfaces } from '../bpf/interfaces.js';
import { native } from '../bpf/libbpf.js';
import { checkCanLoadBpf } from '../bpf/preflight.js';
import { ensureBpffs } from '../bpf/kernel-env.js';
import { attachTc, detachTc, interfaceIndex, queryTc, type TcDirection } from '../bpf/tc-attach.js';
import { TypedMap } from '../bpf/typed-map.js';
import { bpfObjectPath } from '../install-paths.js';
import { CT_MAP, ctEntryLayout, ctKeyLayout, type CtEntry, type CtKey } from './ct-map.js';
import { datapathMaps, type DatapathMaps } from './datapath-maps.js';

export const TC_OBJECT_PATH = bpfObjectPath('tc_lb');

/** Which program goes on which hook of a pod's host-side interface. */
const HOOKS: readonly (readonly [TcDirection, string])[] = [
  ['ingress', 'slb_tc_from_pod'],
  ['egress', 'slb_tc_to_pod'],
];

export interface TcDatapath {
  maps: DatapathMaps;
  ct: TypedMap<CtKey, CtEntry>;
  /** Program fds by name (for BPF_PROG_TEST_RUN in tests). */
  programFds: ReadonlyMap<string, number>;
  /** Puts both programs on the interface unless this load's programs are already there; true if it changed anything. */
  attach(ifname: string): boolean;
  /** What of this install is gone from the kernel (its maps unpinned): see lostMapPins. */
  missing(): string[];
  close(): void;
}

export function installTcDatapath(opts: { bpffs: string; objectPath?: string }): TcDatapath {
  const objectPath = opts.objectPath ?? TC_OBJECT_PATH;
  if (!existsSync(objectPath)) throw new Error(`BPF object ${objectPath} is missing; build it with npm run build`);
  checkCanLoadBpf();
  ensureBpffs(opts.bpffs);
  const obj = loadPinnedObject(objectPath, join(opts.bpffs, 'maps'));
  try {
    const programFds = new Map(obj.programs.map((p) => [p.name, checkReturn(native.programFd(p.handle) as number, `fd of program ${p.name}`)]));
    const hooks = HOOKS.map(([direction, name]) => {
      const fd = programFds.get(name);
      if (fd === undefined) throw new Error(`${objectPath} has no program ${name}; rebuild with npm run build`);
      return { direction, name, fd, id: objectId(fd, `program ${name}`) };
    });
    const ctFd = obj.maps.get(CT_MAP);
    if (ctFd === undefined) throw new Error(`${objectPath} has no map ${CT_MAP}; rebuild with npm run build`);
    return {
      maps: datapathMaps(obj.maps),
      ct: new TypedMap(CT_MAP, ctFd, ctKeyLayout, ctEntryLayout),
      programFds,
      attach(ifname) {
        const ifindex = interfaceIndex(ifname);
        if (ifindex === 0) throw new Error(`interface ${ifname} does not exist (any more)`);
        let changed = false;
        for (const h of hooks) {
          if (queryTc(ifindex, h.direction, ifname) === h.id) continue;
          attachTc(ifindex, h.direction, h.fd, ifname);
          changed = true;
        }
        return changed;
      },
      missing: () => lostMapPins(obj.maps, join(opts.bpffs, 'maps')),
      close: () => obj.close(),
    };
  } catch (err) {
    obj.close();
    throw err;
  }
}

/** Removes socklb's tc filters from the interface; true when there were any. */
export function detachTcFrom(ifname: string): boolean {
  const ifindex = interfaceIndex(ifname);
  if (ifindex === 0) return false;
  let any = false;
  for (const [direction] of HOOKS) if (detachTc(ifindex, direction, ifname)) any = true;
  return any;
}

/** Interfaces of this network namespace that carry a socklb tc filter. */
export function interfacesWithTcFilters(): string[] {
  return listInterfaces().filter((name) => {
    const ifindex = interfaceIndex(name);
    return ifindex !== 0 && HOOKS.some(([direction]) => queryTc(ifindex, direction, name) !== undefined);
  });
}
