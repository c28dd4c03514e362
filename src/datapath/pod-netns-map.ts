// Codecs for bpf/include/policy_netns_map.h: which pod a socket belongs to, by its network
// namespace's cookie (the socket hooks' egress check, bpf/include/sock_policy.h), and the
// count of such entries that lets the hooks skip the lookup while there are none.
import { defineStruct, lbAddress, u32, u64, u32KeyLayout } from '../bpf/struct-layout.js';
import type { KeyValueMap } from '../bpf/typed-map.js';
import { TypedMap } from '../bpf/typed-map.js';

export const POD_NETNS_MAP = 'slb_pol_netns';
export const POLICY_SOCK_STATE_MAP = 'slb_pol_sock';
/** The pinned maps only the socket hooks' policy object has. */
export const SOCK_POLICY_MAPS = [POD_NETNS_MAP, POLICY_SOCK_STATE_MAP] as const;
/** One entry per pod, as many as the endpoints map holds addresses. */
export const POD_NETNS_CAPACITY = 16384;

export interface PodNetnsKey {
  cookie: bigint;
}

/** The pod's addresses, one per family; '::' where it has none of that family. */
export interface PodNetnsEntry {
  v4: string;
  v6: string;
}

export interface PolicySockState {
  netns_pods: number;
}

export const NO_ADDRESS = '::';

export const podNetnsKeyLayout = defineStruct<PodNetnsKey>('(u64)', [['cookie', u64]]);
export const podNetnsEntryLayout = defineStruct<PodNetnsEntry>('pol_netns_pod', [
  ['v4', lbAddress],
  ['v6', lbAddress],
]);
export const policySockKeyLayout = u32KeyLayout;
export const policySockStateLayout = defineStruct<PolicySockState>('pol_sock_state', [['netns_pods', u32]]);

export interface PodNetnsMaps {
  netns: KeyValueMap<PodNetnsKey, PodNetnsEntry>;
  state: KeyValueMap<{ index: number }, PolicySockState>;
}

/** The maps of a loaded socket-hooks policy object, by its map fds. */
export function openPodNetnsMaps(mapFd: (name: string) => number): PodNetnsMaps {
  return {
    netns: new TypedMap(POD_NETNS_MAP, mapFd(POD_NETNS_MAP), podNetnsKeyLayout, podNetnsEntryLayout),
    state: new TypedMap(POLICY_SOCK_STATE_MAP, mapFd(POLICY_SOCK_STATE_MAP), policySockKeyLayout, policySockStateLayout),
  };
}
