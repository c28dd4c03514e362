// Which codec each map's key and value use: the list the BTF layout test walks, so every
// struct shared with the kernel is checked against the compiled object.
import { SERVICE_RANGES_MAP, serviceRangeLayout, serviceRangesLayout } from './service-ranges-map.js';
import type { EnumMirror, StructLayout } from '../bpf/struct-layout.js';
import { BACKENDS_MAP, SLOTS_MAP, backendKeyLayout, backendValueLayout, slotKeyLayout, slotValueLayout } from './backends-map.js';
import { AFFINITY_MAP, AFFINITY_MATCH_MAP, affinityKeyLayout, affinityMatchKeyLayout, affinityValueLayout } from './affinity-maps.js';
import { FRONTENDS_MAP, frontendKeyLayout, frontendValueLayout } from './frontends-map.js';
import { REASON_ENUM } from './counters-map.js';
import { CT_ENUMS, CT_MAP, ctEntryLayout, ctKeyLayout, ctNatLayout } from './ct-map.js';
import { POD_LINKS_MAP, podLinkKeyLayout, podLinkLayout } from './pod-links-map.js';
import {
  REVNAT_SK_MAP,
  SOCK_REVNAT_MAP,
  UDP_REVNAT_MAP,
  UDP_SOCK_KEYS_MAP,
  revnatValueLayout,
  sockRevnatLayout,
  sockRevnatSlotLayout,
  udpRevnatKeyLayout,
  udpRevnatPeerLayout,
  udpSockKeysLayout,
} from './revnat-maps.js';
import { UDP_DEPARTED_MAP, udpDepartedKeyLayout } from './udp-departed-map.js';
import { VIPS_MAP, vipKeyLayout, vipValueLayout } from './vips-map.js';
import {
  POLICY_CIDR_MAP,
  POLICY_CT_MAP,
  POLICY_ENDPOINTS_MAP,
  POLICY_IPCACHE_MAP,
  POLICY_RULES_MAP,
  policyAddressLayout,
  policyCidrKeyLayout,
  policyCidrValueLayout,
  policyEndpointLayout,
  policyIpcacheLayout,
  policyRuleKeyLayout,
  policyRuleValueLayout,
} from './policy-maps.js';
import { POD_NETNS_MAP, POLICY_SOCK_STATE_MAP, podNetnsEntryLayout, policySockStateLayout } from './pod-netns-map.js';
import { NODE_CT_MAP, nodeCtEntryLayout, nodeSnatLayout } from './node-ct-map.js';
import { NODE_DEVICE_ENUM, NODE_DEVICES_MAP, nodeDeviceLayout } from './node-devices-map.js';

export interface MapCodec {
  map: string;
  /** undefined where the C side uses a plain integer (sk_storage's int key, a __u8 flag). */
  key: StructLayout<object> | undefined;
  value: StructLayout<object> | undefined;
}

const codec = <K extends object, V extends object>(map: string, key: StructLayout<K> | undefined, value: StructLayout<V> | undefined): MapCodec => ({
  map,
  key: key as StructLayout<object> | undefined,
  value: value as StructLayout<object> | undefined,
});

export const MAP_CODECS: readonly MapCodec[] = [
  codec(POLICY_ENDPOINTS_MAP, policyAddressLayout, policyEndpointLayout),
  codec(POLICY_IPCACHE_MAP, policyAddressLayout, policyIpcacheLayout),
  codec(POLICY_RULES_MAP, policyRuleKeyLayout, policyRuleValueLayout),
  codec(POLICY_CIDR_MAP, policyCidrKeyLayout, policyCidrValueLayout),
  codec(POLICY_CT_MAP, ctKeyLayout, ctEntryLayout),
  codec(POD_NETNS_MAP, undefined, podNetnsEntryLayout),
  codec(POLICY_SOCK_STATE_MAP, undefined, policySockStateLayout),
  codec(AFFINITY_MAP, affinityKeyLayout, affinityValueLayout),
  codec(AFFINITY_MATCH_MAP, affinityMatchKeyLayout, undefined),
  codec(FRONTENDS_MAP, frontendKeyLayout, frontendValueLayout),
  codec(BACKENDS_MAP, backendKeyLayout, backendValueLayout),
  codec(SLOTS_MAP, slotKeyLayout, slotValueLayout),
  codec(VIPS_MAP, vipKeyLayout, vipValueLayout),
  codec(UDP_REVNAT_MAP, udpRevnatKeyLayout, revnatValueLayout),
  codec(SOCK_REVNAT_MAP, undefined, sockRevnatLayout),
  codec(REVNAT_SK_MAP, undefined, sockRevnatSlotLayout),
  codec(UDP_SOCK_KEYS_MAP, undefined, udpSockKeysLayout),
  codec(UDP_DEPARTED_MAP, udpDepartedKeyLayout, undefined),
  codec(CT_MAP, ctKeyLayout, ctEntryLayout),
  codec(POD_LINKS_MAP, podLinkKeyLayout, podLinkLayout),
  codec(SERVICE_RANGES_MAP, undefined, serviceRangesLayout),
  codec(NODE_CT_MAP, ctKeyLayout, nodeCtEntryLayout),
  codec(NODE_DEVICES_MAP, undefined, nodeDeviceLayout),
];

/** Structs shared with the kernel inside another struct (a member or an array member), checked the same way. */
export const NESTED_STRUCT_LAYOUTS: readonly StructLayout<object>[] = [
  udpRevnatPeerLayout as StructLayout<object>,
  ctNatLayout as StructLayout<object>,
  serviceRangeLayout as StructLayout<object>,
  ctEntryLayout as StructLayout<object>,
  nodeSnatLayout as StructLayout<object>,
];

/** Enums shared with the kernel (codes and flags), checked against the objects' BTF. */
export const ENUM_MIRRORS: readonly EnumMirror[] = [REASON_ENUM, ...CT_ENUMS, NODE_DEVICE_ENUM];
