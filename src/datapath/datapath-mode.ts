// The two datapath modes behind one interface, so the agent, the bench and the tests run
// either with the same control plane:
//   socket     (default) the cgroup socket programs translate at connect/sendmsg: no NAT, no
//              conntrack on the service path.
//   conntrack  tc programs on the pods' interfaces translate every packet and keep a conntrack
//              entry per flow: the design of the tc-eBPF datapaths socket mode is measured
//              against.
// Both load their programs against the same pinned maps, so switching is a restart: the new
// mode removes the other mode's attachments (and conntrack state), adopts the maps, and the
// first sync fixes any drift. The maps are adopted before the new programs are attached: what
// adoption repairs (a map an older socklb did not have, slb_vips, is filled from the
// frontends) is in place before the first lookup of a program that reads it.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyValueMap } from '../bpf/typed-map.js';
import { listInterfaces } from '../bpf/interfaces.js';
import { CT_MAP, type CtEntry, type CtKey } from './ct-map.js';
import type { DatapathMaps } from './datapath-maps.js';
import { podInterfaceMatcher } from './pod-interfaces.js';
import { Reconciler } from './reconciler.js';
import { detachSocketPrograms, installSockDatapath } from './sock-datapath.js';
import type { UdpSockets } from './udp-sockets.js';
import { detachTcFrom, installTcDatapath, interfacesWithTcFilters } from './tc-datapath.js';

export const DATAPATH_MODES = ['socket', 'conntrack'] as const;
export type DatapathMode = (typeof DATAPATH_MODES)[number];

export interface InterfaceChanges {
  attached: string[];
  detached: string[];
}

export interface InstalledMode {
  mode: DatapathMode;
  maps: DatapathMaps;
  /** The control plane over the maps, adopted from what they held before any program was attached. */
  reconciler: Reconciler;
  /** conntrack mode's flow table; undefined in socket mode. */
  ct: KeyValueMap<CtKey, CtEntry> | undefined;
  /** socket mode's UDP reverse map and connected-socket destruction; undefined in conntrack mode. */
  udp: UdpSockets | undefined;
  /** What the install did, for the agent's log line. */
  summary: Record<string, unknown>;
  /** conntrack: programs on every pod interface that appeared, off those that stopped matching; socket: nothing. */
  syncInterfaces(): InterfaceChanges;
  /** What of this install is gone from the kernel (`socklb uninstall` ran, pins were removed),
   * one line each; empty while it is as installed. conntrack: the maps (the interface scan
   * keeps the filters on, but must stop once this is not empty); socket: links and maps. */
  missing(): string[];
  close(): void;
}

export interface ModeOptions {
  mode: DatapathMode;
  bpffs: string;
  /** socket mode: the cgroup whose sockets are balanced. */
  cgroup: string;
  /** conntrack mode: name patterns of the pods' host-side interfaces. */
  podInterfaces: readonly string[];
}

const NO_CHANGES: InterfaceChanges = { attached: [], detached: [] };

/** Removes socklb's tc filters from every interface of this network namespace. */
export function detachTcEverywhere(): string[] {
  return interfacesWithTcFilters().filter((name) => detachTcFrom(name));
}

export function installMode(opts: ModeOptions): InstalledMode {
  if (opts.mode === 'socket') {
    const fromConntrack = detachTcEverywhere();
    // Conntrack state means nothing without the tc programs; unpinning frees it.
    const ctPin = join(opts.bpffs, 'maps', CT_MAP);
    if (existsSync(ctPin)) rmSync(ctPin);
    let reconciler: Reconciler | undefined;
    const dp = installSockDatapath({ bpffs: opts.bpffs, cgroup: opts.cgroup, beforeAttach: (maps) => (reconciler = Reconciler.adopt(maps)) });
    return {
      mode: 'socket',
      maps: dp.maps,
      reconciler: reconciler!, // set by beforeAttach, which installSockDatapath calls before it attaches
      ct: undefined,
      udp: dp.udp,
      summary: { cgroup: opts.cgroup, programs: dp.attached, tcFiltersRemoved: fromConntrack, ...(dp.udp.unavailable ? { connectedUdpNotDestroyed: dp.udp.unavailable } : {}) },
      syncInterfaces: () => NO_CHANGES,
      missing: () => dp.missing(),
      close: () => dp.close(),
    };
  }
  const fromSocket = detachSocketPrograms(opts.bpffs);
  const dp = installTcDatapath({ bpffs: opts.bpffs });
  const matches = podInterfaceMatcher(opts.podInterfaces);
  const syncInterfaces = (): InterfaceChanges => {
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
  try {
    const reconciler = Reconciler.adopt(dp.maps);
    const first = syncInterfaces();
    return {
      mode: 'conntrack',
      maps: dp.maps,
      reconciler,
      ct: dp.ct,
      udp: undefined,
      summary: { podInterfaces: opts.podInterfaces, attached: first.attached, detached: first.detached, socketProgramsDetached: fromSocket },
      syncInterfaces,
      missing: () => dp.missing(),
      close: () => dp.close(),
    };
  } catch (err) {
    dp.close();
    throw err;
  }
}
