// Codec for bpf/include/pod_links.h: which host-side interface and MAC each pod of this node
// was last seen with, as conntrack mode's tc program learns them from the pods' packets to
// deliver translated packets straight into the pod. User space only reads it (tests, debugging)
// and removes it with the tc programs.
import { defineStruct, macAddress, u32 } from '../bpf/struct-layout.js';
import { vipKeyLayout, type VipKey } from './vips-map.js';

export const POD_LINKS_MAP = 'slb_pod_links';
/** max_entries of slb_pod_links (checked against BTF). */
export const POD_LINKS_CAPACITY = 65536;

export interface PodLink {
  /** The host-side end of the pod's veth pair. */
  ifindex: number;
  /** CLOCK_MONOTONIC seconds (ctNow) a packet of the pod last confirmed the entry. */
  seen: number;
  mac: string;
  /** Where the pod sends service traffic; 00:00:00:00:00:00 until it has. */
  gateway_mac: string;
}

/** The key: the pod's address, a bare struct lb_address as slb_vips's key is. */
export const podLinkKeyLayout = vipKeyLayout;
export type PodLinkKey = VipKey;

export const podLinkLayout = defineStruct<PodLink>('pod_link', [
  ['ifindex', u32],
  ['seen', u32],
  ['mac', macAddress],
  ['gateway_mac', macAddress],
]);
