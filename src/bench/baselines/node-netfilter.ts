// What the kube-proxy baselines share on the lab's node namespace: the pod CIDRs (kube-proxy's
// --cluster-cidr) and bridge-nf-call-iptables/ip6tables. The sysctls send bridged pod traffic
// (a backend's reply to a client on the same bridge) through the ip-family netfilter hooks,
// where both iptables and nftables rules live; without them a DNATed reply skips conntrack's
// reverse translation. They are on while any baseline mode is on, so switching one mode off
// cannot pull them from under another, and off otherwise, so socklb's runs pay nothing for them.
import { run } from '../../lab/command.js';

export const POD_CIDR_V4 = '10.244.0.0/16';
export const POD_CIDR_V6 = 'fd00:244::/64';

const users = new Map<string, Set<string>>();

function write(netns: string, on: boolean): void {
  const v = on ? 1 : 0;
  run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', `net.bridge.bridge-nf-call-iptables=${v}`, `net.bridge.bridge-nf-call-ip6tables=${v}`]);
}

/** Forwarding on, bridged traffic off the netfilter hooks: a new namespace starts with them on. */
export function prepareNode(netns: string): void {
  run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  if (!users.get(netns)?.size) write(netns, false);
}

/** Says whether `mode` needs bridged traffic through netfilter in `netns`; the sysctls follow the union. */
export function wantBridgeNetfilter(netns: string, mode: string, on: boolean): void {
  const set = users.get(netns) ?? new Set<string>();
  const before = set.size > 0;
  if (on) set.add(mode);
  else set.delete(mode);
  if (set.size > 0) users.set(netns, set);
  else users.delete(netns);
  if (set.size > 0 !== before) write(netns, set.size > 0);
}
