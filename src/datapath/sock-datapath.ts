// The pinned datapath seen from tools that load nothing (`service list`, `uninstall`, the lab's
// sweep): every map pinned under BPFFS/maps, the socket hooks' links under BPFFS/links.
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { closeFd, openPinned } from '../bpf/bpf-object.js';
import { detachPinnedLinks } from '../bpf/cgroup-links.js';
import { bpffsMountFor } from '../bpf/kernel-env.js';
import { DATAPATH_MAP_NAMES, datapathMaps, type DatapathMaps } from './datapath-maps.js';
import { linkDir, mapDir } from './datapath-object.js';
import { pinName } from './map-layouts.js';

export const DEFAULT_BPFFS = '/sys/fs/bpf/socklb';

/** Opens the pinned maps of an installed datapath without loading anything (for `service list`). */
export function openPinnedDatapath(bpffs: string): { maps: DatapathMaps; close(): void } {
  if (!bpffsMountFor(bpffs) || !existsSync(mapDir(bpffs))) {
    throw new Error(`no socklb datapath is pinned at ${bpffs}; start \`socklb agent\` first, or pass the --bpffs it uses`);
  }
  const fds = new Map<string, number>();
  try {
    for (const name of DATAPATH_MAP_NAMES) fds.set(name, openPinned(join(mapDir(bpffs), pinName(name))));
  } catch (err) {
    for (const fd of fds.values()) closeFd(fd);
    throw err;
  }
  return { maps: datapathMaps(fds), close: () => fds.forEach((fd) => closeFd(fd)) };
}

/** Detaches every program and removes every pin socklb made under bpffs. */
export function uninstallSockDatapath(bpffs: string): { links: string[]; maps: string[] } {
  const links = detachPinnedLinks(linkDir(bpffs));
  const maps = existsSync(mapDir(bpffs)) ? readdirSync(mapDir(bpffs)).sort() : [];
  for (const name of maps) rmSync(join(mapDir(bpffs), name));
  for (const dir of [linkDir(bpffs), mapDir(bpffs), bpffs]) if (existsSync(dir)) rmdirSync(dir);
  return { links, maps };
}

/** The socket hooks' object, where the tests that read its BTF have always found it. */
export { SOCK_OBJECT_PATH } from './socket-hooks.js';
