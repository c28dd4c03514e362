// SPDX-License-Identifier: GPL-2.0
/* For the tests only: policy_verdict.h run by BPF_PROG_TEST_RUN on a query instead of a
 * packet (the frame's bytes are a struct pol_query), so the kernel's answer for a compiled
 * policy can be compared with the model's lookup query by query. Returns the enum pol_why. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "policy_verdict.h"

struct pol_query {
	struct lb_address local;
	struct lb_address peer;
	__u8 direction;
	__u8 protocol;
	__be16 port;
};

SEC("tc")
int slb_policy_verdict_test(struct __sk_buff *skb)
{
	struct pol_query q;
	if (bpf_skb_load_bytes(skb, 0, &q, sizeof(q)))
		return -1;
	return pol_verdict(q.direction, &q.local, &q.peer, q.protocol, q.port);
}

char LICENSE[] SEC("license") = "GPL";
