// Codecs for bpf/include/revnat_maps.h: the UDP reverse map and the per-socket TCP record.
import { be16, defineStruct, lbAddress, padding, u64 } from '../bpf/struct-layout.js';

export const UDP_REVNAT_MAP = 'slb_udp_revnat';
export const SOCK_REVNAT_MAP = 'slb_sock_revnat';

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
