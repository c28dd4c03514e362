// The keys of the compiled policy tables, byte for byte as the BPF maps will hold them (all
// fields big-endian, so an LPM prefix over the port is a prefix of its high bits), and the
// numbers that go in them. One definition the compiler, the model's lookup and (later) the map
// codec share. Pure.
import type { PolicyDirection } from '../policy-objects.js';

/** Reserved peer identities, Cilium's numbers: the node the endpoint runs on, and any address
 * that is no pod's and not the node's. Pod identities start at FIRST_POD_IDENTITY. */
export const IDENTITY_HOST = 1;
export const IDENTITY_WORLD = 2;
export const FIRST_POD_IDENTITY = 256;
/** CIDR classes (a set of allowed ports for a region of the address space) share the peer field
 * of the policy key with identities; they start where Cilium's node-local identities do. */
export const FIRST_CIDR_CLASS = 1 << 24;
/** The CIDR class of a region that allows nothing: no policy entry names it. */
export const CIDR_CLASS_NONE = 0;
/** The subject of a CIDR class's port entries: a class is the same port set for every endpoint
 * and direction, so its entries are written once, not per endpoint. */
export const CLASS_SUBJECT = 0;

export const DIRECTION_CODE: Record<PolicyDirection, number> = { Ingress: 0, Egress: 1 };
export const PROTOCOL_NUMBER = { TCP: 6, UDP: 17, SCTP: 132 } as const;

/** Policy key: subject u32 (the endpoint's identity), peer u32 (identity or CIDR class),
 * direction u8, protocol u8, port u16. An LPM prefix always covers subject..direction; it
 * covers the protocol unless the entry allows every protocol, and as many port bits as the
 * port block is long. */
export const POLICY_KEY_BYTES = 12;
export const POLICY_PREFIX_ANY_PROTOCOL = 72;
export const POLICY_PREFIX_ANY_PORT = 80;
export const POLICY_PREFIX_FULL = 96;

export function policyKey(subject: number, peer: number, direction: number, protocol: number, port: number): Uint8Array {
  const key = new Uint8Array(POLICY_KEY_BYTES);
  const view = new DataView(key.buffer);
  view.setUint32(0, subject);
  view.setUint32(4, peer);
  view.setUint8(8, direction);
  view.setUint8(9, protocol);
  view.setUint16(10, port);
  return key;
}

/** CIDR key: subject u32, direction u8, address (16 bytes, IPv4 as ::ffff:a.b.c.d). Its prefix
 * covers subject and direction, then the address prefix's bits. */
export const CIDR_KEY_BYTES = 21;
export const CIDR_PREFIX_BASE = 40;

export function cidrKey(subject: number, direction: number, address: Uint8Array): Uint8Array {
  const key = new Uint8Array(CIDR_KEY_BYTES);
  new DataView(key.buffer).setUint32(0, subject);
  key[4] = direction;
  key.set(address, 5);
  return key;
}

/** Endpoint flags (the endpoint entry's value beside its identity). */
export const ENDPOINT_INGRESS_ISOLATED = 1;
export const ENDPOINT_EGRESS_ISOLATED = 2;
/** IDENTITY_HOST is this endpoint's own node: ingress from it is allowed. Every endpoint the
 * datapath holds is local, so it always sets this; the model compiles remote pods too. */
export const ENDPOINT_HOST_IS_OWN_NODE = 4;
