/* The socket hooks' egress check (issue 10): a pod isolated for egress whose connect or sendto
 * its policy denies fails at once with EPERM instead of sending packets tc would drop (the
 * client would wait for its timeout). The verdict is tc's own (policy_verdict.h) on the same
 * endpoint entry and the translated destination; a socket whose pod is not known (no
 * slb_pol_netns entry) proceeds, and tc still enforces on its packets. Needs addr_equal and
 * addr_is_v4_mapped (sock_lb.bpf.c). */
#ifndef SOCKLB_SOCK_POLICY_H
#define SOCKLB_SOCK_POLICY_H

#include <bpf/bpf_endian.h>
#include "policy_netns_map.h"
#include "policy_verdict.h"

/* Addresses whose traffic never leaves the pod's namespace (127/8, ::1, and the unspecified
 * address, which connect() takes for a local one): tc never sees it, so neither judges it. */
static __always_inline bool sock_addr_stays_local(const struct lb_address *a)
{
	if (addr_is_v4_mapped(a))
		return (bpf_ntohl(a->words[3]) >> 24) == 127 || a->words[3] == 0;
	return a->words[0] == 0 && a->words[1] == 0 && a->words[2] == 0 && (a->words[3] == 0 || a->words[3] == bpf_htonl(1));
}

/* Whether the socket's pod may send to peer:port (network order) by its egress policy. */
static __always_inline bool sock_egress_allows(struct bpf_sock_addr *ctx, const struct lb_address *peer, __be16 port)
{
	__u32 zero = 0;
	struct pol_sock_state *state = bpf_map_lookup_elem(&slb_pol_sock, &zero);

	if (!state || state->netns_pods == 0)
		return true;
	__u64 netns = bpf_get_netns_cookie(ctx);
	struct pol_netns_pod *pod = bpf_map_lookup_elem(&slb_pol_netns, &netns);

	if (!pod || sock_addr_stays_local(peer))
		return true;
	/* A pod's packets to itself never reach its interface (the model's loopback case). */
	if (lb_address_equal(peer, &pod->v4) || lb_address_equal(peer, &pod->v6))
		return true;
	struct pol_endpoint *ep = bpf_map_lookup_elem(&slb_pol_endpoints, addr_is_v4_mapped(peer) ? &pod->v4 : &pod->v6);

	if (!ep || !pol_isolated(ep, POL_EGRESS))
		return true;
	return pol_why_allows(pol_verdict_isolated(ep, POL_EGRESS, peer, ctx->protocol, port));
}

#endif
