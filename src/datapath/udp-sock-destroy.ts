// Destroys the connected UDP sockets whose (VIP, backend) pair a sync removed, with the socket
// iterator of bpf/sock_destroy.bpf.c. A UDP iterator sees the sockets of the network namespace
// it is started in, and pods' sockets live in the pods' namespaces: a pass starts it in each
// namespace the cgroup's processes are in, found fresh, from the main thread (inNetns), and
// returns to the agent's own. Everything runs synchronously, so no other JavaScript runs while
// the thread is in a pod's namespace.
import { attachIterator } from '../bpf/bpf-iter.js';
import { cgroupNetworkNamespaces, inNetns } from '../bpf/netns.js';
import { TypedMap } from '../bpf/typed-map.js';
import { bpfObjectPath } from '../install-paths.js';
import { closingOnError, loadDatapathObject } from './datapath-object.js';
import type { SockRevnat } from './revnat-maps.js';
import { UDP_DEPARTED_CAPACITY, UDP_DEPARTED_MAP, udpDepartedKeyLayout, udpDepartedValueLayout } from './udp-departed-map.js';

export const SOCK_DESTROY_OBJECT_PATH = bpfObjectPath('sock_destroy');
const PROGRAM = 'slb_udp_destroy';
/** The program writes the cookie (__u64) of each socket it destroyed. */
const RECORD_BYTES = 8;

export interface DestroyPass {
  /** Sockets destroyed. */
  destroyed: number;
  /** Pairs looked for. */
  pairs: number;
  /** Network namespaces the iterator ran in. */
  namespaces: number;
  /** Namespaces that could not be read or entered, with why: their sockets were not looked at. */
  unreachable: string[];
  /** Processes of the cgroup outside the agent's PID namespace: their namespaces are unknown. */
  hiddenProcesses: number;
}

export interface UdpSockDestroyer {
  /** Destroys the sockets connected through one of the pairs in the namespaces of the cgroup's processes. */
  destroy(pairs: readonly SockRevnat[], cgroup: string): DestroyPass;
  close(): void;
}

/** Loads the iterator against the maps pinned under bpffs (the socket programs' object must be loaded first). */
export function loadUdpSockDestroyer(bpffs: string, objectPath = SOCK_DESTROY_OBJECT_PATH): UdpSockDestroyer {
  const obj = loadDatapathObject(objectPath, bpffs);
  return closingOnError(obj, () => {
    const prog = obj.programs.find((p) => p.name === PROGRAM);
    if (!prog) throw new Error(`${objectPath} has no program ${PROGRAM}; rebuild with npm run build`);
    const departed = new TypedMap(UDP_DEPARTED_MAP, obj.mapFd(UDP_DEPARTED_MAP), udpDepartedKeyLayout, udpDepartedValueLayout);
    const iterator = attachIterator(prog);
    const clear = (): void => void departed.deleteMany(departed.keys());
    return {
      destroy(pairs, cgroup) {
        const pass: DestroyPass = { destroyed: 0, pairs: pairs.length, namespaces: 0, unreachable: [], hiddenProcesses: 0 };
        if (pairs.length === 0) return pass;
        const { namespaces, unreadable, hidden } = cgroupNetworkNamespaces(cgroup);
        pass.unreachable.push(...unreadable);
        pass.hiddenProcesses = hidden;
        const skipped = new Set<string>();
        // What a pass that died half-way (a killed agent) left would destroy sockets for nothing.
        clear();
        for (let at = 0; at < pairs.length; at += UDP_DEPARTED_CAPACITY) {
          const written = departed.setMany(pairs.slice(at, at + UDP_DEPARTED_CAPACITY).map((p) => [p, { present: 1 }] as const));
          try {
            if (written.error) throw written.error;
            for (const ns of namespaces) {
              if (skipped.has(ns.path)) continue;
              try {
                pass.destroyed += inNetns(ns.path, () => iterator.run()).length / RECORD_BYTES;
              } catch (err) {
                skipped.add(ns.path);
                // A process that exited since the listing took its namespace path along.
                if ((err as NodeJS.ErrnoException).code !== 'ENOENT') pass.unreachable.push(`${ns.path} (${(err as Error).message})`);
              }
            }
          } finally {
            clear();
          }
        }
        pass.namespaces = namespaces.length - skipped.size;
        return pass;
      },
      close() {
        iterator.close();
        obj.close();
      },
    };
  });
}
