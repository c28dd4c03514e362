// Small checks the Service decoders share (k8s-decode.ts, external-decode.ts): records, lists,
// ports, addresses. Each reports a bad value on its field and returns nothing for it. Pure.
import { describeAddressClass, unusableAddressClass } from '../net/address-class.js';
import { canonicalIp, ipFamily, type IpFamily } from '../net/ip-address.js';
import { describeValue, type ProblemSink } from './problems.js';

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
export const portProblem = (v: unknown): string => `is ${describeValue(v)}; a port is an integer from 1 to 65535`;

/** "field[i]", flat (see flatKey): decoded services keep it for later reports. */
export const itemFieldName = (field: string, i: number): string => [field, '[', i, ']'].join('');

/** Calls fn for each object in a list field, reporting a non-list and each non-object item. */
export function eachRecord(list: unknown, field: string, sink: ProblemSink, fn: (item: Record<string, unknown>, itemField: string) => void): void {
  if (!Array.isArray(list)) return sink.add(field, `is ${describeValue(list)}; expected a list`);
  list.forEach((item: unknown, i) => {
    const itemField = itemFieldName(field, i);
    if (isRecord(item)) fn(item, itemField);
    else sink.add(itemField, `is ${describeValue(item)}; expected an object`);
  });
}

/** An address a Service names (a cluster IP, an external IP, a load-balancer IP), with its field. */
export interface DecodedAddress {
  ip: string; // canonical text
  family: IpFamily;
  field: string;
}

/** A usable unicast address, canonical; advice ends the message for an unusable one
 * (loopback, multicast, ...), whose traffic every balanced process would have captured. */
export function decodeAddress(ip: unknown, field: string, sink: ProblemSink, advice: string): DecodedAddress | undefined {
  const family = typeof ip === 'string' ? ipFamily(ip) : undefined;
  if (typeof ip !== 'string' || family === undefined) {
    sink.add(field, `is ${describeValue(ip)}; expected an IPv4 or IPv6 address`);
    return undefined;
  }
  const unusable = unusableAddressClass(ip);
  if (unusable !== undefined) {
    sink.add(field, `is ${describeAddressClass(unusable)} (${ip}); every balanced process would have its traffic to it captured, so it is not programmed: ${advice}`);
    return undefined;
  }
  return { ip: canonicalIp(ip), family, field };
}
