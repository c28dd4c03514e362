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
#include "conntrack.h"
#include "policy_ct_map.h"
#include "policy_verdict.h"
#include "tc_drop.h"
#include "tc_parse.h"

char LICENSE[] SEC("license") = "GPL";

/* Shared by both directions: parse, find the pod, judge. from_pod: the pod is the source. */
static __always_inline int pol_packet(struct __sk_buff *skb, bool from_pod)
{
	__u8 direction = from_pod ? POL_EGRESS : POL_INGRESS;
	__u8 back = from_pod ? POL_INGRESS : POL_EGRESS;
	struct pol_endpoint *ep;
	struct ct_key key;
	struct packet p;
	__u64 now;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	const struct lb_address *local = from_pod ? &p.src : &p.dst;
	const struct lb_address *peer = from_pod ? &p.dst : &p.src;
	ep = bpf_map_lookup_elem(&slb_pol_endpoints, local);
	if (!ep)
		return TC_PASS;
	now = bpf_ktime_get_ns();
	if (pol_isolated(ep, direction)) {
		/* An answer of a flow the policy let through earlier: its replies always pass. */
		ct_key_of(&key, &p, CT_DIR_REPLY);
		if (ct_lookup(&slb_pol_ct, &key, &p, now, NULL))
			return TC_PASS;
		if (!pol_why_allows(pol_verdict_isolated(ep, direction, peer, p.protocol, p.dport)))
			return tc_drop(from_pod ? REASON_POLICY_DENIED_EGRESS : REASON_POLICY_DENIED_INGRESS);
	}
	if (pol_isolated(ep, back)) {
		/* The replies will come back through the direction the pod is isolated in: they need
		 * their entry, written (or refreshed) by the flow's own packets. */
		ct_reply_key_of(&key, &p, &p.dst, p.dport);
		if (!ct_lookup(&slb_pol_ct, &key, &p, now, NULL)) {
			if (ct_insert(&slb_pol_ct, &key, p.protocol, 0, CT_F_POLICY_ALLOWED, NULL, now))
				counter_inc(REASON_POLICY_CT_CREATED);
			else
				counter_inc(REASON_POLICY_CT_FAILED);
		}
	}
	return TC_PASS;
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
