// The SocketHooks component: sock_lb.bpf.o's cgroup programs (connect, sendmsg, recvmsg,
// getpeername for both families, and sock_release), attached to one cgroup through links
// pinned under BPFFS/links, plus the UDP socket destroyer (sock_destroy.bpf.o) that moves
// connected UDP sockets off a backend that left. With NetworkPolicy the programs come from
// sock_lb_policy.bpf.o, the same source with the egress check (bpf/include/sock_policy.h) and
// the policy maps it shares with the tc policy object; without it from sock_lb.bpf.o, which has
// neither, so socket mode without policy runs what it always did.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { attachToCgroup, detachPinnedLinks, lostLinks } from '../bpf/cgroup-links.js';
import { findCgroup2Root, readMounts } from '../bpf/kernel-env.js';
import { bpfObjectPath } from '../install-paths.js';
import type { Cidr } from '../net/cidr.js';
import { NO_TARGET_CHANGES, type ComponentKind, type DatapathComponent } from './datapath-component.js';
import { datapathMaps, type DatapathMaps } from './datapath-maps.js';
import { closingOnError, linkDir, loadDatapathObject } from './datapath-object.js';
import { openPodNetnsMaps, type PodNetnsMaps } from './pod-netns-map.js';
import { SERVICE_RANGES_MAP, writeServiceRanges } from './service-ranges-map.js';
import { openUdpSockets, type UdpSockets } from './udp-sockets.js';

export const SOCK_OBJECT_PATH = bpfObjectPath('sock_lb');
export const SOCK_POLICY_OBJECT_PATH = bpfObjectPath('sock_lb_policy');

export interface SocketHooksConfig {
  /** The cgroup v2 directory whose sockets are balanced. */
  cgroup: string;
  /** Check pods' egress policy at connect and sendmsg (--network-policy). */
  networkPolicy?: boolean;
  /** --service-cidrs: addresses in them are looked up as frontends first (service_ranges_map.h). */
  serviceCidrs?: readonly Cidr[];
}

export interface SocketHooksComponent extends DatapathComponent {
  readonly maps: DatapathMaps;
  /** The UDP reverse map's fill and connected-socket destruction. */
  readonly udp: UdpSockets;
  /** Which pod a socket is, by its network namespace: with networkPolicy. */
  readonly podNetns?: PodNetnsMaps;
}

function checkCgroup(cgroup: string): void {
  const abs = resolve(cgroup);
  const root = findCgroup2Root();
  const onCgroup2 = readMounts().some((m) => m.fstype === 'cgroup2' && (abs === m.target || abs.startsWith(`${m.target}/`)));
  if (!onCgroup2 || !existsSync(join(abs, 'cgroup.procs'))) {
    throw new Error(`--cgroup ${cgroup} is not a cgroup v2 directory; pass one under ${root} (the cgroup2 mount in /proc/mounts)`);
  }
}

export const SocketHooks: ComponentKind<SocketHooksConfig, SocketHooksComponent> = {
  name: 'socket-hooks',
  install(bpffs, { cgroup, networkPolicy, serviceCidrs }) {
    checkCgroup(cgroup);
    const obj = loadDatapathObject(networkPolicy ? SOCK_POLICY_OBJECT_PATH : SOCK_OBJECT_PATH, bpffs);
    return closingOnError(obj, () => {
      // This agent's flag, also over ranges an earlier one pinned.
      if (serviceCidrs) writeServiceRanges(obj.mapFd(SERVICE_RANGES_MAP), serviceCidrs);
      const udp = openUdpSockets(obj.maps, bpffs, cgroup);
      /** The hooks this agent attached; their links are what missing() checks. */
      let links: string[] = [];
      return {
        name: 'socket-hooks',
        maps: datapathMaps(obj.maps),
        udp,
        ...(networkPolicy ? { podNetns: openPodNetnsMaps((name) => obj.mapFd(name)) } : {}),
        setAside: obj.setAside,
        attach() {
          const programs = attachToCgroup(obj.programs, cgroup, linkDir(bpffs));
          links = programs.map((a) => a.program);
          return { cgroup, programs, ...(udp.unavailable ? { connectedUdpNotDestroyed: udp.unavailable } : {}) };
        },
        sync: () => NO_TARGET_CHANGES,
        missing: () => [...lostLinks(links, cgroup, linkDir(bpffs)), ...obj.lostMaps()],
        close() {
          udp.close();
          obj.close();
        },
      };
    });
  },
  // The maps stay: the other components load against them.
  detach: (bpffs) => ({ socketProgramsDetached: detachPinnedLinks(linkDir(bpffs)) }),
};
