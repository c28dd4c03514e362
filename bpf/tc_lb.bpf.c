// SPDX-License-Identifier: GPL-2.0
/* Conntrack mode: service translation per packet at tc on the pods' interfaces, the design of
 * the tc-eBPF datapaths socklb's socket mode improves on. Attached to the host side of each
 * pod's interface: slb_tc_from_pod on ingress (packets the pod sends) picks a backend for a new
 * flow, records the flow in slb_ct and rewrites VIP -> backend on every packet;
 * slb_tc_to_pod on egress (packets to the pod) rewrites backend -> VIP on every reply.
 * A new flow to a service address on a port no service has is answered (refusal.h) instead.
 * Uses the same frontends, slots and backends maps as the socket programs, so the agent's
 * control plane is the same in both modes. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lb_select.h"
#include "conntrack.h"
#include "packet.h"
#include "refusal.h"

char LICENSE[] SEC("license") = "GPL";

/* Packets we do not change go on to the next filter (or the default action), so socklb
 * composes with a CNI's own tc programs. */
#define TC_PASS TC_ACT_UNSPEC

static __always_inline void frontend_key_of(const struct packet *p, struct frontend_key *key)
{
	key->address = p->dst;
	key->port = p->dport;
	key->protocol = p->protocol;
	key->pad = 0;
}

SEC("tc")
int slb_tc_from_pod(struct __sk_buff *skb)
{
	struct packet p;
	struct ct_key key;
	struct ct_entry *flow;
	struct frontend_key frontend;
	struct backend_value backend;
	__u32 backend_id = 0;
	__u64 now;

	if (!packet_parse(skb, &p))
		return TC_PASS;
	now = bpf_ktime_get_ns();
	ct_key_of(&key, &p, CT_DIR_FORWARD);
	flow = ct_lookup(&key, &p, now);
	if (flow) {
		backend.address = flow->nat_address;
		backend.port = flow->nat_port;
	} else {
		frontend_key_of(&p, &frontend);
		if (!lb_is_service_address(&frontend.address))
			return TC_PASS;
		switch (lb_select_backend(&frontend, lb_client_id_of_address(&p.src), &backend, &backend_id)) {
		case LB_NO_PORT:
			counter_inc(COUNTER_PORT_REFUSED);
			return refuse_packet(skb, &p);
		case LB_NO_BACKEND:
			counter_inc(COUNTER_NO_BACKEND);
			return TC_ACT_SHOT;
		case LB_SELECTED:
			break;
		}
		if (!ct_create(&p, &backend.address, backend.port, backend_id, now)) {
			counter_inc(COUNTER_CT_FAILED);
			return TC_ACT_SHOT;
		}
		counter_inc(COUNTER_TRANSLATED);
		counter_inc(COUNTER_CT_CREATED);
	}
	if (!packet_rewrite(skb, &p, true, &backend.address, backend.port)) {
		counter_inc(COUNTER_CT_FAILED);
		return TC_ACT_SHOT;
	}
	return TC_PASS;
}

SEC("tc")
int slb_tc_to_pod(struct __sk_buff *skb)
{
	struct packet p;
	struct ct_key key;
	struct ct_entry *flow;
	struct lb_address vip;
	__be16 vip_port;

	if (!packet_parse(skb, &p))
		return TC_PASS;
	ct_key_of(&key, &p, CT_DIR_REPLY);
	flow = ct_lookup(&key, &p, bpf_ktime_get_ns());
	if (!flow)
		return TC_PASS;
	vip = flow->nat_address;
	vip_port = flow->nat_port;
	if (!packet_rewrite(skb, &p, false, &vip, vip_port)) {
		counter_inc(COUNTER_CT_FAILED);
		return TC_ACT_SHOT;
	}
	return TC_PASS;
}
