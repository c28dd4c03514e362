// Codec for bpf/include/frontends_map.h: one entry per Service VIP, port and protocol.
import { be16, defineStruct, lbAddress, optionalU8, u16, u32, u8 } from '../bpf/struct-layout.js';
import { frontendId, type Frontend, type Protocol } from '../model/desired-services.js';

export const FRONTENDS_MAP = 'slb_frontends';

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** The one mapping between a protocol's name (the model's) and its number (the kernel's). */
const PROTOCOL_NUMBER: Record<Protocol, number> = { TCP: IPPROTO_TCP, UDP: IPPROTO_UDP };

export function protocolNumber(protocol: Protocol): number {
  return PROTOCOL_NUMBER[protocol];
}

/** The name of a frontend key's protocol; socklb writes only TCP and UDP keys. */
export function protocolName(protocol: number): Protocol {
  if (protocol === IPPROTO_TCP) return 'TCP';
  if (protocol === IPPROTO_UDP) return 'UDP';
  throw new Error(`${FRONTENDS_MAP} holds a frontend with IP protocol ${protocol}, which socklb never writes; remove the pinned maps with socklb uninstall`);
}

/** frontend_key.scope (frontends_map.h): which clients a frontend is for. */
export const FRONTEND_SCOPE_LOCAL = 1;

export function frontendKey(f: Frontend): FrontendKey {
  const key: FrontendKey = { address: f.address, port: f.port, protocol: protocolNumber(f.protocol) };
  if (f.scope === 'local') key.scope = FRONTEND_SCOPE_LOCAL;
  return key;
}

export function frontendOfKey(k: FrontendKey): Frontend {
  const f: Frontend = { address: k.address, port: k.port, protocol: protocolName(k.protocol) };
  if (k.scope === FRONTEND_SCOPE_LOCAL) f.scope = 'local';
  else if (k.scope !== undefined)
    throw new Error(`${FRONTENDS_MAP} holds a frontend with scope ${k.scope}, which this socklb never writes; remove the pinned maps with socklb uninstall`);
  return f;
}

/** The frontend id (frontendId()) of a map key. */
export function frontendKeyId(k: FrontendKey): string {
  return frontendId(frontendOfKey(k));
}

export interface FrontendKey {
  address: string;
  port: number;
  protocol: number; // IPPROTO_TCP or IPPROTO_UDP
  /** FRONTEND_SCOPE_LOCAL, or absent (0): every client. */
  scope?: number;
}

export interface FrontendValue {
  service_id: number;
  backend_count: number;
  generation: number;
  flags: number;
  affinity_timeout: number;
}

export const frontendKeyLayout = defineStruct<FrontendKey>('frontend_key', [
  ['address', lbAddress],
  ['port', be16],
  ['protocol', u8],
  ['scope', optionalU8],
]);

export const frontendValueLayout = defineStruct<FrontendValue>('frontend_value', [
  ['service_id', u32],
  ['backend_count', u16],
  ['generation', u8],
  ['flags', u8],
  ['affinity_timeout', u32],
]);

/** frontend_value.flags (frontends_map.h). */
export const FRONTEND_FLAGS = {
  /** A north-south frontend (reach 'external'). */
  external: 1,
  /** externalTrafficPolicy Local on a north-south frontend: left alone by the node programs (tc_node.bpf.c). */
  externalLocal: 2,
} as const;

/** Upper bound of backend_count (a __u16). */
export const MAX_BACKENDS_PER_FRONTEND = 0xffff;
