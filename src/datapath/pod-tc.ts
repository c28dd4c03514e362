// The PodTc component: tc_lb.bpf.o's programs on the host-side end of every pod interface
// (from-pod on ingress, to-pod on egress), found by name patterns and kept up to date by a scan
// of the network namespace the agent runs in. Today its programs translate service traffic per
// packet with a conntrack entry per flow (conntrack mode); a program that only enforces policy
// would be a second object for the same attachment points.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listInterfaces } from '../bpf/interfaces.js';
import type { KeyValueMap } from '../bpf/typed-map.js';
import { CT_MAP, type CtEntry, type CtKey } from './ct-map.js';
import type { ComponentKind, DatapathComponent, TargetChanges } from './datapath-component.js';
import { mapDir } from './datapath-object.js';
import { pinName } from './map-layouts.js';
import { podInterfaceMatcher } from './pod-interfaces.js';
import { POD_LINKS_MAP } from './pod-links-map.js';
import { detachTcFrom, installTcDatapath, interfacesWithTcFilters } from './tc-datapath.js';

export interface PodTcConfig {
  /** Name patterns of the pods' host-side interfaces (--pod-interfaces). */
  podInterfaces: readonly string[];
}

export interface PodTcComponent extends DatapathComponent {
  /** The flow table of the translating programs. */
  readonly ct: KeyValueMap<CtKey, CtEntry>;
  /** Removes the programs from every interface of this network namespace; the maps stay. */
  detachInterfaces(): string[];
}

/** Removes socklb's tc filters from every interface of this network namespace. */
export function detachTcEverywhere(): string[] {
  return interfacesWithTcFilters().filter((name) => detachTcFrom(name));
}

export const PodTc: ComponentKind<PodTcConfig, PodTcComponent> = {
  name: 'pod-tc',
  install(bpffs, { podInterfaces }) {
    const dp = installTcDatapath({ bpffs });
    const matches = podInterfaceMatcher(podInterfaces);
    const sync = (): TargetChanges => {
      const names = listInterfaces();
      const attached: string[] = [];
      for (const name of names.filter(matches)) {
        try {
          if (dp.attach(name)) attached.push(name);
        } catch (err) {
          // A pod's interface can vanish between the listing and the attach; the next pass settles it.
          if (listInterfaces().includes(name)) throw err;
        }
      }
      // Interfaces that stopped matching (--pod-interfaces changed) lose socklb's filters.
      const detached = names.filter((name) => !matches(name) && detachTcFrom(name));
      return { attached, detached };
    };
    return {
      name: 'pod-tc',
      maps: dp.maps,
      ct: dp.ct,
      setAside: dp.setAside,
      attach: () => ({ podInterfaces, ...sync() }),
      sync,
      detachInterfaces: detachTcEverywhere,
      // The scan keeps the filters on, so only the maps can tell that an uninstall ran.
      missing: () => dp.missing(),
      close: () => dp.close(),
    };
  },
  detach(bpffs) {
    const tcFiltersRemoved = detachTcEverywhere();
    // Conntrack state and the pods' links mean nothing without the tc programs; unpinning frees them.
    for (const map of [CT_MAP, POD_LINKS_MAP]) {
      const pin = join(mapDir(bpffs), pinName(map));
      if (existsSync(pin)) rmSync(pin);
    }
    return { tcFiltersRemoved };
  },
};
