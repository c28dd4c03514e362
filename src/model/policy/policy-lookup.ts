// A packet's verdict from the compiled tables, by the fixed sequence of lookups the tc program
// will make (per direction at most: endpoint, ipcache, policy by identity, cidr, policy by CIDR
// class), so the property tests exercise the datapath's algorithm and not the model's. Replies
// of allowed connections are not looked up: the datapath's conntrack passes them. Pure.
import { canonicalIp, ipToBytes } from '../../net/ip-address.js';
import type { PolicyDirection } from '../policy-objects.js';
import type { CompiledPolicy } from './policy-compiler.js';
import * as K from './policy-keys.js';
import type { TrafficProtocol } from './reference-evaluator.js';

export type LookupWhy = 'not-an-endpoint' | 'not-isolated' | 'loopback' | 'own-node' | 'identity' | 'cidr' | 'denied';

export interface DirectionLookup {
  allowed: boolean;
  why: LookupWhy;
  /** Map lookups made: what a packet costs in this direction. */
  lookups: number;
}

/** The verdict of the endpoint `local` on a packet to or from `peer` in `direction`. */
export function lookupDirection(tables: CompiledPolicy, direction: PolicyDirection, local: string, peer: string, protocol: TrafficProtocol, port: number): DirectionLookup {
  const endpoint = tables.endpoints.get(canonicalIp(local));
  if (!endpoint) return { allowed: true, why: 'not-an-endpoint', lookups: 1 };
  const isolatedBit = direction === 'Ingress' ? K.ENDPOINT_INGRESS_ISOLATED : K.ENDPOINT_EGRESS_ISOLATED;
  if (!(endpoint.flags & isolatedBit)) return { allowed: true, why: 'not-isolated', lookups: 1 };
  // A packet from a pod to itself never reaches the pod's interface; in the model it is the
  // peer address being an address of the same endpoint.
  if (tables.endpoints.get(canonicalIp(peer))?.pod === endpoint.pod) return { allowed: true, why: 'loopback', lookups: 1 };
  const peerIdentity = tables.ipcache.get(canonicalIp(peer)) ?? K.IDENTITY_WORLD;
  if (direction === 'Ingress' && peerIdentity === K.IDENTITY_HOST && endpoint.flags & K.ENDPOINT_HOST_IS_OWN_NODE) {
    return { allowed: true, why: 'own-node', lookups: 2 };
  }
  const dir = K.DIRECTION_CODE[direction];
  const proto = K.PROTOCOL_NUMBER[protocol];
  if (tables.policy.lookup(K.policyKey(endpoint.identity, peerIdentity, dir, proto, port)) !== undefined) return { allowed: true, why: 'identity', lookups: 3 };
  const cls = tables.cidr.lookup(K.cidrKey(endpoint.identity, dir, ipToBytes(peer))) ?? K.CIDR_CLASS_NONE;
  const allowed = tables.policy.lookup(K.policyKey(K.CLASS_SUBJECT, cls, 0, proto, port)) !== undefined;
  return { allowed, why: allowed ? 'cidr' : 'denied', lookups: 5 };
}

export interface PacketLookup {
  allowed: boolean;
  egress: DirectionLookup;
  ingress: DirectionLookup;
}

/** Both ends: the source's egress and the destination's ingress must allow. */
export function lookupPacket(tables: CompiledPolicy, from: string, to: string, protocol: TrafficProtocol, port: number): PacketLookup {
  const egress = lookupDirection(tables, 'Egress', from, to, protocol, port);
  const ingress = lookupDirection(tables, 'Ingress', to, from, protocol, port);
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}
