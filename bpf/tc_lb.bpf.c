// SPDX-License-Identifier: GPL-2.0
/* Conntrack mode: service translation per packet at tc on the pods' interfaces, the design of
 * the tc-eBPF datapaths socklb's socket mode improves on. Attached to the host side of each
 * pod's interface: slb_tc_from_pod on ingress (packets the pod sends) picks a backend for a new
 * flow, tracks the flow in slb_ct (conntrack.h) and rewrites VIP -> backend on every packet of
 * a flow whose entry says CT_F_DNAT; slb_tc_to_pod on egress (packets to the pod) rewrites
 * backend -> VIP on every reply whose entry says CT_F_REVNAT.
 * A new flow to a service address on a port no service has is answered (refusal.h) instead.
 * Every drop is counted with its reason (reasons.h).
 * Uses the same frontends, slots and backends maps as the socket programs, so the agent's
 * control plane is the same in both modes. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lb_select.h"
#include "conntrack.h"
#include "packet.h"
#include "refusal.h"
#include "tc_drop.h"
#include "tc_parse.h"

char LICENSE[] SEC("license") = "GPL";

/* A conntrack or NAT failure: its own reason, and ct_failed, the total users have known. */
static __always_inline int tc_drop_ct(enum slb_reason reason)
{
	counter_inc(REASON_CT_FAILED);
	return tc_drop(reason);
}


static __always_inline void frontend_key_of(const struct packet *p, struct frontend_key *key)
{
	key->address = p->dst;
	key->port = p->dport;
	key->protocol = p->protocol;
	key->pad = 0;
}

/* Tracks p's new flow (client -> VIP) to the backend: a forward entry that DNATs to it, and a
 * reply entry that gives the backend's replies the VIP back. A flow is both entries or none:
 * when the reply entry cannot be written the forward one goes again, so the flow's next packet
 * starts over instead of reaching a backend whose replies would not be translated. */
static __always_inline enum slb_reason ct_create_service_flow(const struct packet *p, const struct backend_value *backend,
							      __u32 backend_id, __u64 now)
{
	struct ct_key key;
	struct ct_nat nat = { .address = backend->address, .port = backend->port, .backend_id = backend_id };

	ct_key_of(&key, p, CT_DIR_FORWARD);
	if (!ct_insert(&slb_ct, &key, p->protocol, ct_state_of(p), CT_F_DNAT, &nat, now))
		return REASON_CT_INSERT_FAILED;
	ct_reply_key_of(&key, p, &backend->address, backend->port);
	nat.address = p->dst;
	nat.port = p->dport;
	if (ct_insert(&slb_ct, &key, p->protocol, 0, CT_F_REVNAT, &nat, now))
		return REASON_CT_CREATED;
	ct_key_of(&key, p, CT_DIR_FORWARD);
	bpf_map_delete_elem(&slb_ct, &key);
	return REASON_CT_REPLY_INSERT_FAILED;
}

SEC("tc")
int slb_tc_from_pod(struct __sk_buff *skb)
{
	struct packet p;
	struct ct_key key;
	struct ct_entry *flow;
	struct frontend_key frontend;
	struct backend_value backend;
	enum slb_reason created;
	__u32 backend_id = 0;
	__u64 now;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	now = bpf_ktime_get_ns();
	ct_key_of(&key, &p, CT_DIR_FORWARD);
	flow = ct_lookup(&slb_ct, &key, &p, now);
	if (flow) {
		if (!(flow->verdict & CT_F_DNAT))
			return TC_PASS;
		backend.address = flow->nat.address;
		backend.port = flow->nat.port;
	} else {
		frontend_key_of(&p, &frontend);
		if (!lb_is_service_address(&frontend.address))
			return TC_PASS;
		switch (lb_select_backend(&frontend, lb_client_id_of_address(&p.src), &backend, &backend_id)) {
		case LB_NO_PORT:
			counter_inc(REASON_PORT_REFUSED);
			return refuse_packet(skb, &p);
		case LB_NO_BACKEND:
			return tc_drop(REASON_NO_BACKEND);
		case LB_SELECTED:
			break;
		}
		created = ct_create_service_flow(&p, &backend, backend_id, now);
		if (created != REASON_CT_CREATED)
			return tc_drop_ct(created);
		counter_inc(REASON_TRANSLATED);
		counter_inc(REASON_CT_CREATED);
	}
	if (!packet_rewrite(skb, &p, true, &backend.address, backend.port))
		return tc_drop_ct(REASON_NAT_FAILED);
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

	if (!tc_parse(skb, &p))
		return TC_PASS;
	ct_key_of(&key, &p, CT_DIR_REPLY);
	flow = ct_lookup(&slb_ct, &key, &p, bpf_ktime_get_ns());
	if (!flow || !(flow->verdict & CT_F_REVNAT))
		return TC_PASS;
	vip = flow->nat.address;
	vip_port = flow->nat.port;
	if (!packet_rewrite(skb, &p, false, &vip, vip_port))
		return tc_drop_ct(REASON_REVNAT_FAILED);
	return TC_PASS;
}
