// Codec for bpf/include/node_devices_map.h: the node's devices the node programs are on, by
// ifindex, with the addresses a source NAT leaves from on each.
import { defineStruct, lbAddress, u32, type EnumMirror } from '../bpf/struct-layout.js';

export const NODE_DEVICES_MAP = 'slb_node_devices';
/** max_entries of slb_node_devices (checked against BTF). */
export const NODE_DEVICES_CAPACITY = 64;

/** enum node_device_flags: which of the addresses are set. */
export const NODE_DEVICE_FLAGS = { ipv4: 1, ipv6: 2 } as const;
export const NODE_DEVICE_ENUM: EnumMirror = { cName: 'node_device_flags', prefix: 'NODE_DEV_F_', members: NODE_DEVICE_FLAGS };

export interface NodeDevice {
  /** The device's IPv4 address, or 0.0.0.0 (flags tell). */
  ipv4: string;
  /** Its global IPv6 address, or :: (flags tell). */
  ipv6: string;
  flags: number;
}

export const nodeDeviceLayout = defineStruct<NodeDevice>('node_device', [
  ['ipv4', lbAddress],
  ['ipv6', lbAddress],
  ['flags', u32],
]);

/** The entry for a device with these addresses (the first global one of each family). */
export function nodeDeviceOf(addresses: readonly string[]): NodeDevice {
  const v4 = addresses.find((a) => !a.includes(':'));
  const v6 = addresses.find((a) => a.includes(':'));
  return {
    ipv4: v4 ?? '0.0.0.0',
    ipv6: v6 ?? '::',
    flags: (v4 ? NODE_DEVICE_FLAGS.ipv4 : 0) | (v6 ? NODE_DEVICE_FLAGS.ipv6 : 0),
  };
}
