// How the agent tells which pod a socket belongs to: by its network namespace. The socket
// programs see a socket's namespace as its cookie (bpf_get_netns_cookie); the agent learns
// each cookie's pod by entering every network namespace its cgroup's processes are in
// (netns.ts: /proc/PID/ns/net, the same walk the UDP socket destruction makes), reading the
// namespace's cookie (SO_NETNS_COOKIE of a socket made there) and its global addresses
// (rtnetlink): a pod's namespace holds the pod's IPs, which the model knows from Pod objects.
// The node's own namespace (host-network pods) holds the node's addresses; the caller matches
// addresses to pods and leaves unknown namespaces unmatched (tc still enforces for them).
import { cgroupNetworkNamespaces, inNetns, netnsCookie } from '../bpf/netns.js';
import { listAddresses } from '../bpf/rtnetlink.js';

export interface NamespaceAddresses {
  /** What bpf_get_netns_cookie() returns for the namespace's sockets. */
  cookie: bigint;
  /** Its interfaces' global addresses, canonical text. */
  addresses: string[];
}

export interface PodNamespaceScan {
  namespaces: NamespaceAddresses[];
  /** Namespaces that could not be read, with why (the process's path and error). */
  unreadable: string[];
}

/** Every network namespace of the processes in cgroupDir (and below), with its cookie and addresses. */
export function scanPodNamespaces(cgroupDir: string): PodNamespaceScan {
  const found = cgroupNetworkNamespaces(cgroupDir);
  const unreadable = [...found.unreadable];
  const namespaces: NamespaceAddresses[] = [];
  for (const ns of found.namespaces) {
    try {
      namespaces.push(
        inNetns(ns.path, () => ({
          cookie: netnsCookie(),
          addresses: listAddresses()
            .filter((a) => a.global)
            .map((a) => a.address),
        })),
      );
    } catch (err) {
      // The process left (its namespace with it) between the walk and now, or we may not enter.
      unreadable.push(`${ns.path}: ${(err as Error).message}`);
    }
  }
  return { namespaces, unreadable };
}
