// SPDX-License-Identifier: GPL-2.0
/* Conntrack mode: service translation per packet at tc on the pods' interfaces, the design of
 * the tc-eBPF datapaths socklb's socket mode improves on. Attached to the host side of each
 * pod's interface: slb_tc_from_pod on ingress (packets the pod sends) picks a backend for a new
 * flow, tracks the flow in slb_ct (conntrack.h) and rewrites VIP -> backend on every packet of
 * a flow whose entry says CT_F_DNAT, and backend -> VIP on every reply a backend sends whose
 * entry says CT_F_REVNAT; slb_tc_to_pod on egress (packets to the pod) does the latter for
 * replies that did not come from a pod socklb is on (a backend elsewhere).
 * Each packet is parsed once and looked up in slb_ct once, in the direction its destination
 * tells (a service address: the flow's forward direction; any other: a reply). A translated
 * packet for a pod of this node goes straight into that pod (pod_links.h: bpf_redirect_peer,
 * with the MAC addresses the node's path would have given it) instead of through the node's
 * bridge and routing, as Cilium's and Terway's datapaths hand packets to local endpoints.
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
#include "pod_links.h"
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

/* The frame's Ethernet header, once parsed (packet_parse made the headers linear). */
static __always_inline struct ethhdr *frame_eth(struct __sk_buff *skb)
{
	struct ethhdr *eth = (void *)(long)skb->data;

	if ((void *)(eth + 1) > (void *)(long)skb->data_end)
		return NULL;
	return eth;
}

/* Hands the translated packet to the pod at link (pod_link_of): into its namespace, addressed
 * to its MAC from from_mac (what the node's path would have put there). Without a link it
 * passes on to the node's path. */
static __always_inline int deliver(struct __sk_buff *skb, const struct pod_link *link, const __u8 *from_mac)
{
	struct ethhdr *eth;

	if (!link)
		return TC_PASS;
	eth = frame_eth(skb);
	if (!eth)
		return TC_PASS;
	__builtin_memcpy(eth->h_source, from_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, link->mac, ETH_ALEN);
	return bpf_redirect_peer(link->ifindex, 0);
}

/* The entry of the flow p's packet is a reply in, if its replies get the service address back. */
static __always_inline struct ct_entry *reply_flow(const struct packet *p, __u64 now)
{
	struct ct_key key;
	struct ct_entry *flow;

	ct_key_of(&key, p, CT_DIR_REPLY);
	flow = ct_lookup(&slb_ct, &key, p, now, NULL);
	return flow && (flow->verdict & CT_F_REVNAT) ? flow : NULL;
}

/* A packet to a service address: the forward direction of a flow, translated to its backend. */
static __always_inline int from_pod_to_service(struct __sk_buff *skb, const struct packet *p, __u64 now)
{
	struct ct_key key;
	struct ct_entry *flow;
	struct frontend_key frontend;
	struct backend_value backend;
	enum slb_reason created;
	__u32 backend_id = 0;
	__u32 now_s = now / NSEC_PER_SEC;
	__u8 gateway_mac[ETH_ALEN];
	struct ethhdr *eth;
	bool confirm = false;

	ct_key_of(&key, p, CT_DIR_FORWARD);
	flow = ct_lookup(&slb_ct, &key, p, now, &confirm);
	if (flow) {
		if (!(flow->verdict & CT_F_DNAT))
			return TC_PASS;
		backend.address = flow->nat.address;
		backend.port = flow->nat.port;
	} else {
		frontend_key_of(p, &frontend);
		switch (lb_select_backend(&frontend, lb_client_id_of_address(&p->src), &backend, &backend_id)) {
		case LB_NO_PORT:
			counter_inc(REASON_PORT_REFUSED);
			return refuse_packet(skb, p);
		case LB_NO_BACKEND:
			return tc_drop(REASON_NO_BACKEND);
		case LB_SELECTED:
			break;
		}
		created = ct_create_service_flow(p, &backend, backend_id, now);
		if (created != REASON_CT_CREATED)
			return tc_drop_ct(created);
		counter_inc(REASON_TRANSLATED);
		counter_inc(REASON_CT_CREATED);
		confirm = true;
	}
	eth = frame_eth(skb);
	if (!eth)
		return tc_drop_ct(REASON_NAT_FAILED);
	/* The client sent this to its next hop, the MAC its replies will come from. Confirmed with
	 * a flow's first packet and whenever its entry is written (pod_links.h). */
	if (confirm)
		pod_link_learn(skb, eth, &p->src, true, now_s);
	__builtin_memcpy(gateway_mac, eth->h_dest, ETH_ALEN);
	if (!packet_rewrite(skb, p, true, &backend.address, backend.port))
		return tc_drop_ct(REASON_NAT_FAILED);
	return deliver(skb, pod_link_of(&backend.address, now_s), gateway_mac);
}

/* A packet to any other address: a backend's reply when it belongs to a tracked flow, given
 * the service address back. */
static __always_inline int from_pod_reply(struct __sk_buff *skb, const struct packet *p, __u64 now)
{
	struct ct_entry *flow = reply_flow(p, now);
	__u32 now_s = now / NSEC_PER_SEC;
	const struct pod_link *client;
	struct ethhdr *eth;

	if (!flow)
		return TC_PASS;
	eth = frame_eth(skb);
	if (!eth)
		return tc_drop_ct(REASON_REVNAT_FAILED);
	/* Every reply confirms its backend: a flow's first one already lets the client's next
	 * packets go straight to it. */
	pod_link_learn(skb, eth, &p->src, false, now_s);
	if (!packet_rewrite(skb, p, false, &flow->nat.address, flow->nat.port))
		return tc_drop_ct(REASON_REVNAT_FAILED);
	/* The reply comes from the service address, which the client reaches through its next hop. */
	client = pod_link_of(&p->dst, now_s);
	if (!client || !pod_link_has_gateway(client))
		return TC_PASS;
	return deliver(skb, client, client->gateway_mac);
}

SEC("tc")
int slb_tc_from_pod(struct __sk_buff *skb)
{
	struct packet p;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	if (lb_is_service_address(&p.dst))
		return from_pod_to_service(skb, &p, bpf_ktime_get_ns());
	return from_pod_reply(skb, &p, bpf_ktime_get_ns());
}

SEC("tc")
int slb_tc_to_pod(struct __sk_buff *skb)
{
	struct packet p;
	struct ct_entry *flow;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	flow = reply_flow(&p, bpf_ktime_get_ns());
	if (flow && !packet_rewrite(skb, &p, false, &flow->nat.address, flow->nat.port))
		return tc_drop_ct(REASON_REVNAT_FAILED);
	return TC_PASS;
}
