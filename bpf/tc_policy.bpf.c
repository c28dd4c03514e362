// SPDX-License-Identifier: GPL-2.0
/* NetworkPolicy on a pod's host-side interface, where socket mode needs no translation: the
 * socket hooks already sent service traffic to a backend, so a packet carries the pod
 * addresses policy is written for. PodTc's second object for the same attachment points:
 *   slb_pol_from_pod  ingress of the host-side interface: what the pod sends (its egress),
 *   slb_pol_to_pod    egress of the host-side interface: what reaches the pod (its ingress).
 * A pod that no policy selects costs one lookup per packet (slb_pol_endpoints) and no state.
 * For a pod isolated in a direction: a packet that answers a flow allowed earlier passes on
 * its slb_pol_ct entry; any other packet is the policy's to judge (policy_verdict.h: at most
 * five lookups), on every packet of the flow, so a changed policy applies to established
 * flows at once. An allowed packet of a pod isolated the other way leaves the entry its
 * replies need (policy_ct_map.h). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "policy_ct_map.h"
#include "policy_enforce.h"
#include "tc_parse.h"

char LICENSE[] SEC("license") = "GPL";

/* Shared by both directions: parse, find the pod, pass the answers of flows it allowed, judge
 * the rest (policy_enforce.h). from_pod: the pod is the source. */
static __always_inline int pol_packet(struct __sk_buff *skb, bool from_pod)
{
	struct pol_endpoint *ep;
	struct packet p;
	__u64 now;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	ep = pol_endpoint_of(&p, from_pod);
	if (!ep)
		return TC_PASS;
	now = bpf_ktime_get_ns();
	/* A pod isolated either way needs to know an answer: it passes, and it opens nothing. */
	if (!pol_isolated_any(ep))
		return TC_PASS;
	if (pol_answers(&slb_pol_ct, &p, now))
		return TC_PASS;
	return pol_enforce(&slb_pol_ct, ep, &p, from_pod, now);
}

SEC("tc")
int slb_pol_from_pod(struct __sk_buff *skb)
{
	return pol_packet(skb, true);
}

SEC("tc")
int slb_pol_to_pod(struct __sk_buff *skb)
{
	return pol_packet(skb, false);
}
