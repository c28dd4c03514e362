// The socket-mode datapath as installed on a node: the compiled object's maps pinned under
// BPFFS/maps, its programs attached to a cgroup through links pinned under BPFFS/links.
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { closeFd, loadPinnedObject, lostMapPins, openPinned } from '../bpf/bpf-object.js';
import { attachToCgroup, detachPinnedLinks, lostLinks, type AttachResult } from '../bpf/cgroup-links.js';
import { checkCanLoadBpf } from '../bpf/preflight.js';
import { bpffsMountFor, ensureBpffs, findCgroup2Root, readMounts } from '../bpf/kernel-env.js';
import { bpfObjectPath } from '../install-paths.js';
import { DATAPATH_MAP_NAMES, datapathMaps, type DatapathMaps } from './datapath-maps.js';
import { openUdpSockets, type UdpSockets } from './udp-sockets.js';

export const DEFAULT_BPFFS = '/sys/fs/bpf/socklb';

export const SOCK_OBJECT_PATH = bpfObjectPath('sock_lb');

const mapDir = (bpffs: string): string => join(bpffs, 'maps');
const linkDir = (bpffs: string): string => join(bpffs, 'links');

export interface InstalledDatapath {
  maps: DatapathMaps;
  attached: AttachResult[];
  /** What of this install is gone from the kernel: links unpinned, detached or moved, maps
   * unpinned or replaced. Empty while the datapath is as installed. */
  missing(): string[];
  udp: UdpSockets;
  close(): void;
}

function checkCgroup(cgroup: string): void {
  const abs = resolve(cgroup);
  const root = findCgroup2Root();
  const onCgroup2 = readMounts().some((m) => m.fstype === 'cgroup2' && (abs === m.target || abs.startsWith(`${m.target}/`)));
  if (!onCgroup2 || !existsSync(join(abs, 'cgroup.procs'))) {
    throw new Error(`--cgroup ${cgroup} is not a cgroup v2 directory; pass one under ${root} (the cgroup2 mount in /proc/mounts)`);
  }
}

/** Loads the programs with maps adopted from pins, attaches (or re-points pinned links) to the
 * cgroup. beforeAttach sees the maps once they are open and before any of these programs runs. */
export function installSockDatapath(opts: { bpffs: string; cgroup: string; objectPath?: string; beforeAttach?: (maps: DatapathMaps) => void }): InstalledDatapath {
  const objectPath = opts.objectPath ?? SOCK_OBJECT_PATH;
  if (!existsSync(objectPath)) throw new Error(`BPF object ${objectPath} is missing; build it with npm run build`);
  checkCanLoadBpf();
  checkCgroup(opts.cgroup);
  ensureBpffs(opts.bpffs);
  const obj = loadPinnedObject(objectPath, mapDir(opts.bpffs));
  try {
    const maps = datapathMaps(obj.maps);
    opts.beforeAttach?.(maps);
    const attached = attachToCgroup(obj.programs, opts.cgroup, linkDir(opts.bpffs));
    const links = attached.map((a) => a.program);
    const udp = openUdpSockets(obj.maps, mapDir(opts.bpffs), opts.cgroup);
    return {
      maps,
      attached,
      missing: () => [...lostLinks(links, opts.cgroup, linkDir(opts.bpffs)), ...lostMapPins(obj.maps, mapDir(opts.bpffs))],
      udp,
      close: () => {
        udp.close();
        obj.close();
      },
    };
  } catch (err) {
    obj.close();
    throw err;
  }
}

/** Opens the pinned maps of an installed datapath without loading anything (for `service list`). */
export function openPinnedDatapath(bpffs: string): { maps: DatapathMaps; close(): void } {
  if (!bpffsMountFor(bpffs) || !existsSync(mapDir(bpffs))) {
    throw new Error(`no socklb datapath is pinned at ${bpffs}; start \`socklb agent\` first, or pass the --bpffs it uses`);
  }
  const fds = new Map<string, number>();
  try {
    for (const name of DATAPATH_MAP_NAMES) fds.set(name, openPinned(join(mapDir(bpffs), name)));
  } catch (err) {
    for (const fd of fds.values()) closeFd(fd);
    throw err;
  }
  return { maps: datapathMaps(fds), close: () => fds.forEach((fd) => closeFd(fd)) };
}

/** Detaches the socket programs (their pinned cgroup links) and leaves the maps: a switch to conntrack mode. */
export function detachSocketPrograms(bpffs: string): string[] {
  return detachPinnedLinks(linkDir(bpffs));
}

/** Detaches every program and removes every pin socklb made under bpffs. */
export function uninstallSockDatapath(bpffs: string): { links: string[]; maps: string[] } {
  const links = detachPinnedLinks(linkDir(bpffs));
  const maps = existsSync(mapDir(bpffs)) ? readdirSync(mapDir(bpffs)).sort() : [];
  for (const name of maps) rmSync(join(mapDir(bpffs), name));
  for (const dir of [linkDir(bpffs), mapDir(bpffs), bpffs]) if (existsSync(dir)) rmdirSync(dir);
  return { links, maps };
}
