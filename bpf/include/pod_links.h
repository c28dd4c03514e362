/* Where the pods of this node are, so conntrack mode can hand a translated packet straight to
 * the pod it is for (bpf_redirect_peer: from the host-side end of the sender's veth into the
 * receiver's namespace) instead of to the node's bridge and routing, as Cilium's and Terway's
 * datapaths do with their endpoint maps. socklb has no CNI telling it which address is behind
 * which interface, so the tc program learns it from the pods' own packets, the way a bridge
 * learns its forwarding table: a client from the packets that open its flows, a backend from
 * the replies it sends. Only addresses that are parties of flows socklb tracks are learned;
 * a packet for any other address takes the node's path as before.
 * An entry is trusted while the pod's packets keep confirming it: one no packet confirmed for
 * POD_LINK_LIFETIME seconds is not used, so an address that moved to another interface (a pod
 * deleted, its address given to a new one) costs a few packets on the node's path, never a
 * black hole. */
#ifndef SOCKLB_POD_LINKS_H
#define SOCKLB_POD_LINKS_H

#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "btf_export.h"
#include "lb_common.h"

#ifndef POD_LINKS_MAX
#define POD_LINKS_MAX 65536
#endif
/* Seconds an entry is used after a packet last confirmed it; confirmed entries are written
 * again at most once every POD_LINK_REFRESH seconds. */
#define POD_LINK_LIFETIME 10
#define POD_LINK_REFRESH 1

struct pod_link {
	__u32 ifindex;              /* the host-side end of the pod's veth pair */
	__u32 seen;                 /* CLOCK_MONOTONIC seconds a packet of the pod's last confirmed it */
	__u8 mac[ETH_ALEN];         /* the pod's own MAC address */
	__u8 gateway_mac[ETH_ALEN]; /* where the pod sends service traffic (its next hop), 0 until it has:
				     * the source MAC replies to it carry, as from the node */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, POD_LINKS_MAX);
	__type(key, struct lb_address);
	__type(value, struct pod_link);
} slb_pod_links SEC(".maps");

static __always_inline bool mac_equal(const __u8 *a, const __u8 *b)
{
	for (int i = 0; i < ETH_ALEN; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Records that addr's pod sent eth's frame in on skb's interface. gateway: the frame went to
 * the pod's next hop (a packet to a service address), so its destination MAC is that. */
static __always_inline void pod_link_learn(const struct __sk_buff *skb, const struct ethhdr *eth,
					   const struct lb_address *addr, bool gateway, __u32 now_s)
{
	struct pod_link *known = bpf_map_lookup_elem(&slb_pod_links, addr);
	struct pod_link link = { .ifindex = skb->ifindex, .seen = now_s };

	if (known && known->ifindex == link.ifindex && mac_equal(known->mac, eth->h_source) &&
	    (!gateway || mac_equal(known->gateway_mac, eth->h_dest)) && now_s < known->seen + POD_LINK_REFRESH)
		return;
	__builtin_memcpy(link.mac, eth->h_source, ETH_ALEN);
	if (gateway)
		__builtin_memcpy(link.gateway_mac, eth->h_dest, ETH_ALEN);
	else if (known)
		__builtin_memcpy(link.gateway_mac, known->gateway_mac, ETH_ALEN);
	bpf_map_update_elem(&slb_pod_links, addr, &link, BPF_ANY);
}

/* Whether the pod has sent service traffic, so the MAC replies to it come from is known. */
static __always_inline bool pod_link_has_gateway(const struct pod_link *link)
{
	const __u8 *g = link->gateway_mac;

	return g[0] | g[1] | g[2] | g[3] | g[4] | g[5];
}

/* addr's pod, if a packet of it confirmed where it is within POD_LINK_LIFETIME seconds. */
static __always_inline const struct pod_link *pod_link_of(const struct lb_address *addr, __u32 now_s)
{
	const struct pod_link *link = bpf_map_lookup_elem(&slb_pod_links, addr);

	if (!link || now_s >= link->seen + POD_LINK_LIFETIME)
		return NULL;
	return link;
}

#endif
