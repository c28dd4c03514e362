// Socket mode's UDP state beyond the maps the reconciler writes: how full the LRU reverse map
// is, and the destruction of connected UDP sockets whose backend left (udp-sock-destroy.ts).
// The destroyer needs a kernel with bpf_sock_destroy (Linux 6.5); without it the socket hooks
// work as before and `unavailable` says why sockets are not destroyed.
import { TypedMap } from '../bpf/typed-map.js';
import { UDP_REVNAT_MAP, revnatValueLayout, udpRevnatKeyLayout, type SockRevnat } from './revnat-maps.js';
import { loadUdpSockDestroyer, type DestroyPass, type UdpSockDestroyer } from './udp-sock-destroy.js';

export interface UdpSockets {
  /** Entries in slb_udp_revnat now, counted with batched lookups: call it on a scrape, never per packet. */
  revnatEntries(): number;
  /** Destroys the connected UDP sockets of the cgroup connected through one of the pairs; undefined when unavailable. */
  destroyDeparted(pairs: readonly SockRevnat[]): DestroyPass | undefined;
  /** Why connected UDP sockets are not destroyed on this kernel; undefined when they are. */
  readonly unavailable: string | undefined;
  close(): void;
}

export function openUdpSockets(maps: ReadonlyMap<string, number>, bpffs: string, cgroup: string): UdpSockets {
  const fd = maps.get(UDP_REVNAT_MAP);
  if (fd === undefined) throw new Error(`the BPF object has no map named ${UDP_REVNAT_MAP}; rebuild with npm run build`);
  const revnat = new TypedMap(UDP_REVNAT_MAP, fd, udpRevnatKeyLayout, revnatValueLayout);
  let destroyer: UdpSockDestroyer | undefined;
  let unavailable: string | undefined;
  try {
    destroyer = loadUdpSockDestroyer(bpffs);
  } catch (err) {
    unavailable = (err as Error).message;
  }
  return {
    revnatEntries: () => revnat.count(),
    destroyDeparted: (pairs) => destroyer?.destroy(pairs, cgroup),
    unavailable,
    close: () => destroyer?.close(),
  };
}
