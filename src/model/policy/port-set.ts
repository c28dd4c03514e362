// A rule's ports resolved to numbers: the set of (protocol, port range) a rule allows toward one
// destination, normalised so equal sets have equal keys (CIDR classes are interned by key), and
// cut into the aligned power-of-two blocks an LPM entry can hold. Pure.
import type { NamedPort, PolicyPort } from '../policy-objects.js';
import { PROTOCOL_NUMBER } from './policy-keys.js';

/** protocol 0: every protocol and port (a rule without ports). */
export interface PortRange {
  protocol: number;
  lo: number;
  hi: number;
}

export const ANY_PORT: PortRange = { protocol: 0, lo: 0, hi: 0xffff };

/** Which entries of a rule's port list to resolve: all of them (named ones against
 * `destination`), or only the named ones (the per-pod part of an egress ipBlock rule). */
export type PortPart = 'all' | 'named';

/** The ranges `ports` allow toward a destination with `destination` named ports (undefined:
 * not a pod, so named ports match nothing). SCTP entries are left out: they match no flow here. */
export function resolvePorts(ports: readonly PolicyPort[], destination: readonly NamedPort[] | undefined, part: PortPart = 'all'): PortRange[] {
  if (ports.length === 0) return part === 'all' ? [ANY_PORT] : [];
  const out: PortRange[] = [];
  for (const entry of ports) {
    if (entry.protocol === 'SCTP') continue;
    const protocol = PROTOCOL_NUMBER[entry.protocol];
    if (typeof entry.port === 'string') {
      for (const np of destination ?? []) if (np.name === entry.port && np.protocol === entry.protocol) out.push({ protocol, lo: np.port, hi: np.port });
    } else if (part === 'named') continue;
    else if (entry.port === undefined) out.push({ protocol, lo: 0, hi: 0xffff });
    else out.push({ protocol, lo: entry.port, hi: entry.endPort ?? entry.port });
  }
  return out.filter((r) => r.lo <= r.hi);
}

/** Sorted by protocol then port, overlapping and adjacent ranges merged; ANY_PORT absorbs all. */
export function normalisePorts(ranges: readonly PortRange[]): PortRange[] {
  if (ranges.some((r) => r.protocol === 0)) return [ANY_PORT];
  const sorted = [...ranges].sort((a, b) => a.protocol - b.protocol || a.lo - b.lo);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.protocol === r.protocol && r.lo <= last.hi + 1) last.hi = Math.max(last.hi, r.hi);
    else out.push({ ...r });
  }
  return out;
}

export const portSetKey = (normalised: readonly PortRange[]): string => normalised.map((r) => `${r.protocol}:${r.lo}-${r.hi}`).join(',');

/** An aligned block of ports: `start` with its low (16 - bits) bits free. */
export interface PortBlock {
  start: number;
  bits: number;
}

/** The fewest aligned blocks that cover lo..hi exactly (at most 30 for 16-bit ports). */
export function portBlocks(lo: number, hi: number): PortBlock[] {
  const out: PortBlock[] = [];
  let start = lo;
  while (start <= hi) {
    let size = 1;
    let bits = 16;
    // Grow while the block stays aligned and inside the range.
    while (bits > 0 && start % (size * 2) === 0 && start + size * 2 - 1 <= hi) {
      size *= 2;
      bits--;
    }
    out.push({ start, bits });
    start += size;
  }
  return out;
}
