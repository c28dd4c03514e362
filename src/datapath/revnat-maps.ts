// Codecs for bpf/include/revnat_maps.h: the UDP reverse map, the record of a socket with one
// peer (by socket cookie, or in socket storage), and the keys an unconnected UDP socket remembers for its sock_release hook.
import { arrayOf, be16, defineStruct, lbAddress, padding, structField, u32, u64, u32KeyLayout } from '../bpf/struct-layout.js';

export const UDP_REVNAT_MAP = 'slb_udp_revnat';
export const SOCK_REVNAT_MAP = 'slb_sock_revnat';
export const REVNAT_SK_MAP = 'slb_revnat_sk';
export const UDP_SOCK_KEYS_MAP = 'slb_udp_sock_keys';

/** UDP_REVNAT_MAX and UDP_SOCK_KEYS_MAX (checked against BTF by test/bpf/btf-layouts.test.ts). */
export const UDP_REVNAT_CAPACITY = 262144;
export const UDP_SOCK_KEYS_MAX = 16;
/** REVNAT_SK_SLOTS: slots for the records of translated sockets with one peer (slot = cookie & (slots - 1)). */
export const REVNAT_SK_SLOTS = 65536;

export interface UdpRevnatKey {
  cookie: bigint;
  address: string;
  port: number;
}

export interface RevnatValue {
  address: string;
  port: number;
}

export interface SockRevnat {
  vip: string;
  backend: string;
  vip_port: number;
  backend_port: number;
}

export interface UdpRevnatPeer {
  address: string;
  port: number;
}

export interface UdpSockKeys {
  count: number;
  peers: UdpRevnatPeer[];
}

export const udpRevnatKeyLayout = defineStruct<UdpRevnatKey>('udp_revnat_key', [
  ['cookie', u64],
  ['address', lbAddress],
  ['port', be16],
  ['pad', padding(6)],
]);

export const revnatValueLayout = defineStruct<RevnatValue>('revnat_value', [
  ['address', lbAddress],
  ['port', be16],
  ['pad', padding(2)],
]);

export const sockRevnatLayout = defineStruct<SockRevnat>('sock_revnat', [
  ['vip', lbAddress],
  ['backend', lbAddress],
  ['vip_port', be16],
  ['backend_port', be16],
]);

/** slb_revnat_sk's key: a slot index (a plain __u32 in C). */
export const slotIndexLayout = u32KeyLayout;

export interface SockRevnatSlot {
  /** The owner socket's cookie; 0n: the slot is free. */
  cookie: bigint;
  rec: SockRevnat;
}

export const sockRevnatSlotLayout = defineStruct<SockRevnatSlot>('sock_revnat_slot', [
  ['cookie', u64],
  ['rec', structField(sockRevnatLayout)],
  ['pad', padding(4)],
]);

export const udpRevnatPeerLayout = defineStruct<UdpRevnatPeer>('udp_revnat_peer', [
  ['address', lbAddress],
  ['port', be16],
  ['pad', padding(2)],
]);

export const udpSockKeysLayout = defineStruct<UdpSockKeys>('udp_sock_keys', [
  ['count', u32],
  ['peers', arrayOf(udpRevnatPeerLayout, UDP_SOCK_KEYS_MAX)],
]);
