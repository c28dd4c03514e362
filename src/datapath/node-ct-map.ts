// Codec for bpf/include/node_ct_map.h: the conntrack of north-south flows from outside the
// node (two entries per flow), generic entries (ct-map.ts) followed by a source NAT's other end.
import { be16, defineStruct, lbAddress, padding, structField, u32 } from '../bpf/struct-layout.js';
import { ctEntryLayout, type CtEntry } from './ct-map.js';

export const NODE_CT_MAP = 'slb_node_ct';
/** The programs' per-CPU room for a new flow's entries and keys (tc_node.bpf.c); no user space reads it. */
export const NODE_SCRATCH_MAP = 'slb_node_scratch';
/** max_entries of slb_node_ct (checked against BTF). */
export const NODE_CT_CAPACITY = 131072;
/** NODE_SNAT_PORT_MIN..MAX: the source ports a source NAT takes on the node's addresses. */
export const NODE_SNAT_PORTS = { min: 61000, max: 65535 } as const;

export interface NodeSnat {
  /** forward: the node's address the flow leaves from; reply: the client. */
  address: string;
  port: number;
  /** forward: the device towards the backend; reply: the device the client came in by. */
  ifindex: number;
}

export interface NodeCtEntry {
  ct: CtEntry;
  snat: NodeSnat;
}

export const nodeSnatLayout = defineStruct<NodeSnat>('node_snat', [
  ['address', lbAddress],
  ['port', be16],
  ['pad', padding(2)],
  ['ifindex', u32],
]);

export const nodeCtEntryLayout = defineStruct<NodeCtEntry>('node_ct_entry', [
  ['ct', structField(ctEntryLayout)],
  ['snat', structField(nodeSnatLayout)],
]);
