/* A packet's NetworkPolicy verdict in one direction, by the fixed sequence of lookups the model
 * runs in src/model/policy/policy-lookup.ts (lookupDirection): the local endpoint, then (when
 * it is isolated in this direction) the peer's identity, the policy entry for that identity,
 * and failing that the peer address's CIDR class and the class's entry. At most five lookups,
 * whatever the number of policies. Replies of allowed flows are not looked up here: the
 * caller's conntrack passes them. A pod's packets to itself never reach its interface, so the
 * model's loopback case has no lookup here. */
#ifndef SOCKLB_POLICY_VERDICT_H
#define SOCKLB_POLICY_VERDICT_H

#include <bpf/bpf_endian.h>
#include "policy_maps.h"

/* Why a verdict went the way it did (the model's LookupWhy, loopback aside). */
enum pol_why {
	POL_WHY_NOT_ENDPOINT = 0,
	POL_WHY_NOT_ISOLATED = 1,
	POL_WHY_OWN_NODE = 2,
	POL_WHY_IDENTITY = 3,
	POL_WHY_CIDR = 4,
	POL_WHY_DENIED = 5,
};

static __always_inline bool pol_allows(__u32 subject, __u32 peer, __u8 direction, __u8 protocol, __be16 port)
{
	struct pol_policy_key key = {
		.prefixlen = 96,
		.subject = bpf_htonl(subject),
		.peer = bpf_htonl(peer),
		.direction = direction,
		.protocol = protocol,
		.port = port,
	};
	return bpf_map_lookup_elem(&slb_pol_policy, &key) != NULL;
}

static __always_inline bool pol_isolated(const struct pol_endpoint *ep, __u8 direction)
{
	return ep->flags & (direction == POL_INGRESS ? POL_ENDPOINT_INGRESS_ISOLATED : POL_ENDPOINT_EGRESS_ISOLATED);
}

/* The verdict of endpoint ep (isolated in direction) on a packet to or from peer (after
 * service translation); port: the destination port, network order. */
static __always_inline enum pol_why pol_verdict_isolated(const struct pol_endpoint *ep, __u8 direction, const struct lb_address *peer, __u8 protocol,
							 __be16 port)
{
	__u32 subject = ep->identity, flags = ep->flags;
	struct pol_ipcache_entry *ic = bpf_map_lookup_elem(&slb_pol_ipcache, peer);
	__u32 peer_identity = ic ? ic->identity : POL_IDENTITY_WORLD;
	if (direction == POL_INGRESS && peer_identity == POL_IDENTITY_HOST && (flags & POL_ENDPOINT_HOST_IS_OWN_NODE))
		return POL_WHY_OWN_NODE;
	if (pol_allows(subject, peer_identity, direction, protocol, port))
		return POL_WHY_IDENTITY;
	struct pol_cidr_key ck = { .prefixlen = 40 + 128, .subject = bpf_htonl(subject), .direction = direction };
	__builtin_memcpy(ck.address, peer, sizeof(ck.address));
	struct pol_cidr_value *cv = bpf_map_lookup_elem(&slb_pol_cidr, &ck);
	__u32 cls = cv ? cv->cidr_class : POL_CIDR_CLASS_NONE;
	/* The class entries are written with direction 0: a class is one port set for both. */
	return pol_allows(POL_CLASS_SUBJECT, cls, 0, protocol, port) ? POL_WHY_CIDR : POL_WHY_DENIED;
}

/* local: the endpoint's address (the source for egress, the destination for ingress). */
static __always_inline enum pol_why pol_verdict(__u8 direction, const struct lb_address *local, const struct lb_address *peer, __u8 protocol, __be16 port)
{
	struct pol_endpoint *ep = bpf_map_lookup_elem(&slb_pol_endpoints, local);
	if (!ep)
		return POL_WHY_NOT_ENDPOINT;
	if (!pol_isolated(ep, direction))
		return POL_WHY_NOT_ISOLATED;
	return pol_verdict_isolated(ep, direction, peer, protocol, port);
}

static __always_inline bool pol_why_allows(enum pol_why why)
{
	return why != POL_WHY_DENIED;
}

#endif
