// Runs synchronous code in another network namespace: setns(2) on the calling (main) thread,
// then back. Network namespaces are per thread, and koffi's synchronous calls run on the
// thread that makes them, so every libbpf call and interface lookup inside fn sees the
// namespace; nothing asynchronous may run inside fn (a node:net or node:dgram socket is
// created after fn returns, in this process's own namespace, whose routes may lead off the
// machine: make such sockets in a child process started in the namespace), and the original namespace is restored
// even when fn throws. The lab uses it to attach tc programs to interfaces in its namespaces,
// the agent to run socket iterators in the namespaces of its cgroup's processes.
import { closeSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from './bpf-error.js';
import { lastErrno, native } from './libbpf.js';

const CLONE_NEWNET = 0x40000000;

function enter(fd: number, what: string): void {
  if ((native.setns(fd, CLONE_NEWNET) as number) !== 0) throw new BpfError(`enter network namespace ${what}`, lastErrno());
}

/** path: a namespace file, e.g. /run/netns/<name> as `ip netns add` makes it. */
export function inNetns<T>(path: string, fn: () => T): T {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const target = openSync(path, 'r');
    try {
      enter(target, path);
    } finally {
      closeSync(target);
    }
    try {
      return fn();
    } finally {
      enter(home, 'of this process (returning)');
    }
  } finally {
    closeSync(home);
  }
}

const SOL_SOCKET = 1;
const SO_NETNS_COOKIE = 71;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

/** The calling thread's network namespace's cookie: what bpf_get_netns_cookie() returns in a
 * program run for a socket of that namespace (SO_NETNS_COOKIE of a socket made here, Linux 5.14+). */
export function netnsCookie(): bigint {
  const fd = native.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw new BpfError('open a socket to read the network namespace cookie', lastErrno());
  try {
    const value = Buffer.alloc(8);
    const len = [8];
    if ((native.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, value, len) as number) !== 0) throw new BpfError('read SO_NETNS_COOKIE', lastErrno());
    return value.readBigUInt64LE(0);
  } finally {
    native.close(fd);
  }
}

/** A network namespace some process is in: its /proc path now, and its identity (the nsfs inode). */
export interface ProcessNetns {
  path: string;
  inode: bigint;
}

/** The network namespaces of the processes in a cgroup v2 directory and its descendants, each
 * once (by inode). Read fresh on every call: pods come and go. A process that exits while we
 * look is skipped; one whose namespace we may not see (EACCES) is reported by its path, and
 * processes outside our PID namespace (listed as pid 0) are counted in `hidden`. */
export function cgroupNetworkNamespaces(cgroupDir: string): { namespaces: ProcessNetns[]; unreadable: string[]; hidden: number } {
  const byInode = new Map<bigint, ProcessNetns>();
  const unreadable: string[] = [];
  const pids = cgroupPids(cgroupDir);
  for (const pid of pids) {
    if (pid === 0) continue;
    const path = `/proc/${pid}/ns/net`;
    try {
      const inode = statSync(path, { bigint: true }).ino;
      if (!byInode.has(inode)) byInode.set(inode, { path, inode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ESRCH') unreadable.push(`${path} (${code})`);
    }
  }
  return { namespaces: [...byInode.values()], unreadable, hidden: pids.filter((pid) => pid === 0).length };
}

function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      pids.push(...readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
      entries = readdirSync(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while we walked
      throw err;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  return pids;
}
