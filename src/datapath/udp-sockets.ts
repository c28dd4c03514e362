// Socket mode's UDP state beyond the maps the reconciler writes: how full the LRU reverse map
// is.
import { TypedMap } from '../bpf/typed-map.js';
import { UDP_REVNAT_MAP, revnatValueLayout, udpRevnatKeyLayout } from './revnat-maps.js';

export interface UdpSockets {
  /** Entries in slb_udp_revnat now, counted with batched lookups: call it on a scrape, never per packet. */
  revnatEntries(): number;
  close(): void;
}

export function openUdpSockets(maps: ReadonlyMap<string, number>): UdpSockets {
  const fd = maps.get(UDP_REVNAT_MAP);
  if (fd === undefined) throw new Error(`the BPF object has no map named ${UDP_REVNAT_MAP}; rebuild with npm run build`);
  const revnat = new TypedMap(UDP_REVNAT_MAP, fd, udpRevnatKeyLayout, revnatValueLayout);
  return {
    revnatEntries: () => revnat.count(),
    close: () => undefined,
  };
}
