/* Which pod a socket belongs to, for the socket hooks' egress check (sock_policy.h): a pod's
 * sockets are those of its network namespace, named by the cookie bpf_get_netns_cookie()
 * gives. The agent learns each cookie by entering the namespaces of its cgroup's processes and
 * matching their addresses to the pods it compiled the policy for
 * (src/datapath/pod-namespaces.ts, pod-netns-table.ts). Only pods isolated for egress have an
 * entry, so every other pod's connect costs one lookup that misses. Only the socket hooks'
 * policy object (sock_lb_policy.bpf.o) has these maps: the tc programs know a pod by its
 * packets' source address. Mirrored by src/datapath/pod-netns-map.ts, checked against BTF. */
#ifndef SOCKLB_POLICY_NETNS_MAP_H
#define SOCKLB_POLICY_NETNS_MAP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_common.h"
#include "policy_maps.h"

/* slb_pol_netns: a pod's network namespace cookie → the pod's addresses, one per family (the
 * zero address where it has none); the socket looks its endpoint up in slb_pol_endpoints by
 * the one of its peer's family, the address its packets will carry, so the socket and tc
 * judge by the same endpoint entry. */
struct pol_netns_pod {
	struct lb_address v4;
	struct lb_address v6;
};

/* slb_pol_sock, one entry: how many entries slb_pol_netns holds, so that without any
 * egress-isolated pod a connect costs one array read (inlined by the verifier). */
struct pol_sock_state {
	__u32 netns_pods;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, POL_ENDPOINTS_MAX);
	__type(key, __u64);
	__type(value, struct pol_netns_pod);
} slb_pol_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pol_sock_state);
} slb_pol_sock SEC(".maps");

#endif
