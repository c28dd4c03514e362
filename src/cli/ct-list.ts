// `socklb ct list`: the flow tables of the tc programs, read straight from their pins: the
// lightweight conntrack of NetworkPolicy (slb_pol_ct: one reply entry per allowed flow of a
// pod isolated in its replies' direction) and, where conntrack mode runs, its full table
// (slb_ct: a forward and a reply entry per flow), and with --node-devices the north-south flows
// from outside the node (slb_node_ct: two entries per flow, with a source NAT's other end where
// the backend is on another node). Expiry is shown in seconds from now on the
// programs' own clock (ctNow), so a negative one is dead and waits for GC or a packet.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { closeFd, openPinned } from '../bpf/bpf-object.js';
import { TypedMap } from '../bpf/typed-map.js';
import { CT_DIRECTION, CT_MAP, CT_STATE, CT_VERDICT, ctEntryLayout, ctKeyLayout, ctNow, type CtEntry, type CtKey } from '../datapath/ct-map.js';
import { mapDir } from '../datapath/datapath-object.js';
import { pinName } from '../datapath/map-layouts.js';
import { NODE_CT_MAP, nodeCtEntryLayout } from '../datapath/node-ct-map.js';
import { POLICY_CT_MAP } from '../datapath/policy-maps.js';
import { formatHostPort } from '../net/ip-address.js';

export const FLOW_TABLES = [POLICY_CT_MAP, CT_MAP, NODE_CT_MAP] as const;

export interface ListedFlow {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  protocol: string;
  direction: string;
  state: string;
  /** Seconds until the entry is dead (negative: already). */
  expiresInS: number;
  verdict: string[];
  /** conntrack mode's NAT data; absent when the entry has none. */
  nat?: { address: string; port: number; backendId: number };
  /** slb_node_ct: a source NAT's other end (the node's address and port, or the client) and its device. */
  snat?: { address: string; port: number; ifindex: number };
}

export interface ListedFlowTable {
  map: string;
  flows: ListedFlow[];
}

const nameOf = (members: Readonly<Record<string, number>>, value: number): string => Object.entries(members).find(([, v]) => v === value)?.[0] ?? String(value);
/** The names of the bits set in `value`; a bit this socklb has no name for as hex. */
function bitNames(members: Readonly<Record<string, number>>, value: number): string[] {
  const names = Object.entries(members)
    .filter(([, bit]) => (value & bit) !== 0)
    .map(([name]) => name);
  const unknown = value & ~Object.values(members).reduce((a, b) => a | b, 0);
  return unknown === 0 ? names : [...names, `0x${unknown.toString(16)}`];
}
const PROTOCOLS: Readonly<Record<string, number>> = { TCP: 6, UDP: 17 };

export function describeFlow(key: CtKey, entry: CtEntry, nowS: number): ListedFlow {
  const state = bitNames(CT_STATE, entry.state);
  return {
    src: key.src,
    sport: key.sport,
    dst: key.dst,
    dport: key.dport,
    protocol: nameOf(PROTOCOLS, key.protocol),
    direction: nameOf(CT_DIRECTION, key.direction),
    // No bit: a flow without TCP phases (UDP), or not past the handshake in this direction.
    state: state.length === 0 ? 'new' : state.join(','),
    expiresInS: entry.expires - nowS,
    verdict: bitNames(CT_VERDICT, entry.verdict),
    ...(entry.nat.backend_id !== 0 || entry.nat.port !== 0 ? { nat: { address: entry.nat.address, port: entry.nat.port, backendId: entry.nat.backend_id } } : {}),
  };
}

/** Every pinned flow table under bpffs, sorted by tuple. */
export function listFlowTables(bpffs: string, nowS: number = ctNow()): ListedFlowTable[] {
  const tables: ListedFlowTable[] = [];
  for (const map of FLOW_TABLES) {
    const path = join(mapDir(bpffs), pinName(map));
    if (!existsSync(path)) continue;
    const fd = openPinned(path);
    try {
      const flows =
        map === NODE_CT_MAP
          ? new TypedMap(map, fd, ctKeyLayout, nodeCtEntryLayout).entries().map(([k, v]) => ({
              ...describeFlow(k, v.ct, nowS),
              ...(v.ct.verdict & (CT_VERDICT.snat | CT_VERDICT.rev_snat) ? { snat: v.snat } : {}),
            }))
          : new TypedMap(map, fd, ctKeyLayout, ctEntryLayout).entries().map(([k, v]) => describeFlow(k, v, nowS));
      flows.sort((a, b) => (flowText(a) < flowText(b) ? -1 : 1));
      tables.push({ map, flows });
    } finally {
      closeFd(fd);
    }
  }
  if (tables.length === 0) {
    throw new Error(
      `no flow table is pinned under ${mapDir(bpffs)} (${FLOW_TABLES.join(', ')}): run the agent with --network-policy, --mode conntrack or --node-devices, or pass the --bpffs it uses`,
    );
  }
  return tables;
}

const flowText = (f: ListedFlow): string => `${f.protocol} ${formatHostPort(f.src, f.sport)} → ${formatHostPort(f.dst, f.dport)} ${f.direction}`;

export function formatFlowTables(tables: readonly ListedFlowTable[]): string {
  const out: string[] = [];
  for (const t of tables) {
    out.push(`${t.map}: ${t.flows.length} entr${t.flows.length === 1 ? 'y' : 'ies'}`);
    for (const f of t.flows) {
      const expiry = f.expiresInS > 0 ? `expires in ${f.expiresInS} s` : `expired ${-f.expiresInS} s ago`;
      const nat = f.nat ? `  nat ${formatHostPort(f.nat.address, f.nat.port)} backend ${f.nat.backendId}` : '';
      const snat = f.snat ? `  snat ${formatHostPort(f.snat.address, f.snat.port)} ifindex ${f.snat.ifindex}` : '';
      out.push(`  ${flowText(f)}  ${f.state}  ${expiry}  ${f.verdict.length > 0 ? f.verdict.join(',') : '-'}${nat}${snat}`);
    }
  }
  return `${out.join('\n')}\n`;
}
