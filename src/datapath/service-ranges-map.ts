// Codec for bpf/include/service_ranges_map.h: the service CIDRs whose addresses the socket
// hooks look up as frontends first. Written whole, once, when the socket hooks are installed.
import { arrayOf, byteArray, defineStruct, padding, u32, u32KeyLayout } from '../bpf/struct-layout.js';
import { TypedMap } from '../bpf/typed-map.js';
import { prefixByteMask, type Cidr } from '../net/cidr.js';

export const SERVICE_RANGES_MAP = 'slb_service_ranges';
export const SERVICE_RANGES_MAX = 4;

export interface ServiceRange {
  net: Uint8Array;
  mask: Uint8Array;
}

export interface ServiceRanges {
  count: number;
  ranges: ServiceRange[];
}

export const serviceRangeLayout = defineStruct<ServiceRange>('service_range', [
  ['net', byteArray(16)],
  ['mask', byteArray(16)],
]);

export const serviceRangesLayout = defineStruct<ServiceRanges>('service_ranges', [
  ['count', u32],
  ['pad', padding(4)],
  ['ranges', arrayOf(serviceRangeLayout, SERVICE_RANGES_MAX)],
]);

export const serviceRangesKeyLayout = u32KeyLayout;

/** The map's value for these CIDRs (in the datapath's 16-byte form already, see cidr.ts). More
 * than the map holds: only the first SERVICE_RANGES_MAX speed lookups up; the others' addresses
 * take the slower order, which reaches the same verdict. */
export function serviceRangesOf(cidrs: readonly Cidr[]): ServiceRanges {
  const ranges = cidrs.slice(0, SERVICE_RANGES_MAX).map((c) => ({
    net: Uint8Array.from(c.bytes),
    mask: Uint8Array.from({ length: 16 }, (_, i) => prefixByteMask(c.bits, i)),
  }));
  return { count: ranges.length, ranges };
}

/** Writes the ranges into the socket object's map (its fd). */
export function writeServiceRanges(fd: number, cidrs: readonly Cidr[]): void {
  new TypedMap(SERVICE_RANGES_MAP, fd, serviceRangesKeyLayout, serviceRangesLayout).set({ index: 0 }, serviceRangesOf(cidrs));
}
