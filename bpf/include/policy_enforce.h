/* NetworkPolicy enforcement at tc on a pod's host-side interface, for both tc objects: socket
 * mode's policy-only programs (tc_policy.bpf.c, with the lightweight conntrack slb_pol_ct) and
 * conntrack mode's translating ones (tc_lb.bpf.c, with its full conntrack slb_ct). The table a
 * flow's reply entry goes to is the caller's; so is the question whether a packet answers a
 * flow allowed earlier (the caller's conntrack lookup answers it, one lookup per packet).
 * from_pod: the packet is one the pod sends (its egress), else one that reaches it (its ingress).
 * A pod that no policy selects costs one lookup (slb_pol_endpoints) and never an entry. */
#ifndef SOCKLB_POLICY_ENFORCE_H
#define SOCKLB_POLICY_ENFORCE_H

#include "conntrack.h"
#include "policy_verdict.h"
#include "tc_drop.h"

/* The pod a packet's policy is about: its source from the pod, its destination to the pod. */
static __always_inline struct pol_endpoint *pol_endpoint_of(const struct packet *p, bool from_pod)
{
	return bpf_map_lookup_elem(&slb_pol_endpoints, from_pod ? &p->src : &p->dst);
}

/* 0 when ep (NULL: no policy selects the pod) lets the packet through in direction, with peer
 * at the other end (after service translation) and port the destination port; else the reason
 * it is dropped for. */
static __always_inline enum slb_reason pol_denied(const struct pol_endpoint *ep, __u8 direction, const struct lb_address *peer,
						  __u8 protocol, __be16 port)
{
	if (!ep || !pol_isolated(ep, direction) || pol_why_allows(pol_verdict_isolated(ep, direction, peer, protocol, port)))
		return 0;
	return direction == POL_EGRESS ? REASON_POLICY_DENIED_EGRESS : REASON_POLICY_DENIED_INGRESS;
}

/* A new flow ep's policy allowed in direction, counted when ep is isolated that way (a verdict
 * was made): once a flow, never per packet. */
static __always_inline void pol_count_allowed(const struct pol_endpoint *ep, __u8 direction)
{
	if (ep && pol_isolated(ep, direction))
		counter_inc(direction == POL_EGRESS ? REASON_POLICY_ALLOWED_EGRESS : REASON_POLICY_ALLOWED_INGRESS);
}

/* Whether p's packet answers a flow whose reply entry is in table. */
static __always_inline bool pol_answers(void *table, const struct packet *p, __u64 now)
{
	struct ct_key key;

	ct_key_of(&key, p, CT_DIR_REPLY);
	return ct_lookup(table, &key, p, now, NULL) != NULL;
}

/* Whether p can open a flow: a TCP SYN without ACK; any UDP datagram (UDP has no opening).
 * Only such a packet writes a reply entry: a packet in the middle of a flow socklb never saw
 * open (one from before the pod was isolated, or an answer of one) must not make the other
 * end's packets look like replies. */
static __always_inline bool pol_opens_flow(const struct packet *p)
{
	return p->protocol != IPPROTO_TCP || (p->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN;
}

static __always_inline bool pol_isolated_any(const struct pol_endpoint *ep)
{
	return ep->flags & (POL_ENDPOINT_INGRESS_ISOLATED | POL_ENDPOINT_EGRESS_ISOLATED);
}

/* The policy of ep's pod on a packet that answers no flow it allowed (the caller asked, for a
 * pod isolated either way): judged on every packet, so a changed policy applies to established
 * flows at once. Allowed, the flow's replies get their entry in table, whichever way the pod is
 * isolated: replies going the isolated way pass on it, and the pod's own answers are known as
 * answers, so they never write an entry that would let the other end's next packets skip the
 * policy. The entry is written by a packet that opens the flow and refreshed by the flow's own
 * packets after it. */
static __always_inline int pol_enforce(void *table, const struct pol_endpoint *ep, const struct packet *p, bool from_pod, __u64 now)
{
	__u8 direction = from_pod ? POL_EGRESS : POL_INGRESS;
	enum slb_reason denied = pol_denied(ep, direction, from_pod ? &p->dst : &p->src, p->protocol, p->dport);
	struct ct_key key;

	if (denied)
		return tc_drop(denied);
	if (!pol_isolated_any(ep))
		return TC_PASS;
	ct_reply_key_of(&key, p, &p->dst, p->dport);
	bool opens = pol_opens_flow(p);
	/* A TCP SYN is each side's verdict on a new flow (both pods of one node judge it); UDP has
	 * no opening: its first datagram at this side, the one that writes the entry. */
	if (opens && p->protocol == IPPROTO_TCP)
		pol_count_allowed(ep, direction);
	if (!ct_lookup(table, &key, p, now, NULL) && opens) {
		if (ct_insert(table, &key, p->protocol, 0, CT_F_POLICY_ALLOWED, NULL, now)) {
			counter_inc(REASON_POLICY_CT_CREATED);
			if (p->protocol != IPPROTO_TCP)
				pol_count_allowed(ep, direction);
		} else {
			counter_inc(REASON_POLICY_CT_FAILED);
		}
	}
	return TC_PASS;
}

#endif
