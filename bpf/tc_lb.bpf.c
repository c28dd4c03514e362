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
 * NetworkPolicy (policy_enforce.h) is enforced on the same lookups, with slb_ct as its
 * conntrack: a service flow is judged on the backend it is translated to, for the client's
 * egress and, as a redirected packet skips the backend's own interface hooks, the backend's
 * ingress, on every packet of the original direction (a changed policy applies to established
 * flows at once, as in Cilium); its replies pass on the reply entry made when the flow passed
 * (CT_F_POLICY_ALLOWED). Traffic between pods that is no service's is judged as socket mode's
 * policy programs judge it, its reply entries (only for isolated pods) in slb_ct as well.
 * A pod whose connection to a service is given itself as the backend (hairpin) gets the source
 * LB_HAIRPIN_V4/_V6 for it (CT_F_SNAT), or its stack would answer itself past the programs and
 * never from the service address; such a flow never leaves the pod in Kubernetes' terms, so no
 * policy judges it (as none judges a pod's traffic to itself).
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
#include "policy_enforce.h"
#include "refusal.h"
#include "tc_frontend.h"
#include "tc_parse.h"

char LICENSE[] SEC("license") = "GPL";

/* The source of a hairpin flow (a pod's connection balanced to itself), as Cilium's
 * 169.254.42.1: link-local, so nothing else on a node has it; 100::42:1 for IPv6, in the
 * discard-only prefix (RFC 6666). The pod answers it through its route to the node, where
 * slb_tc_from_pod turns the answer back into the pod from the service address. */
#define LB_HAIRPIN_V4 0xa9fe2a01 /* 169.254.42.1 */

static __always_inline void lb_hairpin_address(struct lb_address *a, bool v6)
{
	a->words[0] = v6 ? bpf_htonl(0x01000000) : 0;
	a->words[1] = 0;
	a->words[2] = v6 ? 0 : LB_V4_MAPPED_PREFIX;
	a->words[3] = v6 ? bpf_htonl(0x00420001) : bpf_htonl(LB_HAIRPIN_V4);
}

/* The key of the backend's replies to p's flow: to the client, or for a hairpin flow to the
 * hairpin address (with the client's port). */
static __always_inline void service_reply_key(struct ct_key *key, const struct packet *p, const struct lb_address *backend, __be16 backend_port,
					      bool hairpin)
{
	struct lb_address client = p->src;

	if (hairpin)
		lb_hairpin_address(&client, p->v6);
	ct_key_fill(key, backend, backend_port, &client, p->sport, p->protocol, CT_DIR_REPLY);
}


/* Tracks p's new flow (client -> VIP) to the backend: a forward entry that DNATs to it, and a
 * reply entry that gives the backend's replies the VIP back and lets them through the policy
 * of both pods (the flow passed it before it was created: pol_service_denied). A flow is both entries or none:
 * when the reply entry cannot be written the forward one goes again, so the flow's next packet
 * starts over instead of reaching a backend whose replies would not be translated. */
static __always_inline enum slb_reason ct_create_service_flow(const struct packet *p, const struct backend_value *backend,
							      __u32 backend_id, bool hairpin, __u64 now)
{
	struct ct_key key;
	struct ct_nat nat = { .address = backend->address, .port = backend->port, .backend_id = backend_id };

	ct_key_of(&key, p, CT_DIR_FORWARD);
	if (!ct_insert(&slb_ct, &key, p->protocol, ct_state_of(p), CT_F_DNAT | (hairpin ? CT_F_SNAT : 0), &nat, now))
		return REASON_CT_INSERT_FAILED;
	service_reply_key(&key, p, &backend->address, backend->port, hairpin);
	nat.address = p->dst;
	nat.port = p->dport;
	if (ct_insert(&slb_ct, &key, p->protocol, 0, CT_F_REVNAT | CT_F_POLICY_ALLOWED | (hairpin ? CT_F_REV_SNAT : 0), &nat, now))
		return REASON_CT_CREATED;
	ct_key_of(&key, p, CT_DIR_FORWARD);
	bpf_map_delete_elem(&slb_ct, &key);
	return REASON_CT_REPLY_INSERT_FAILED;
}

/* The policy of a packet from the client (p's source) translated to backend: the client's
 * egress and the backend's ingress (0: allowed, else the reason it is dropped for). */
static __always_inline enum slb_reason pol_service_denied(const struct packet *p, const struct backend_value *backend)
{
	enum slb_reason denied = pol_denied(pol_endpoint_of(p, true), POL_EGRESS, &backend->address, p->protocol, backend->port);

	if (denied)
		return denied;
	return pol_denied(bpf_map_lookup_elem(&slb_pol_endpoints, &backend->address), POL_INGRESS, &p->src, p->protocol, backend->port);
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

/* A backend's reset closes its flow's forward entry too. */
static __always_inline void reset_closes_forward(const struct packet *p, const struct ct_entry *flow, __u64 now)
{
	struct ct_key key;

	if (!ct_resets(p) || !(flow->verdict & CT_F_REVNAT))
		return;
	/* A hairpin flow's client is the replying pod itself. */
	if (flow->verdict & CT_F_REV_SNAT)
		ct_key_fill(&key, &p->src, p->dport, &flow->nat.address, flow->nat.port, p->protocol, CT_DIR_FORWARD);
	else
		ct_forward_key_of_reply(&key, p, &flow->nat.address, flow->nat.port);
	ct_close_other(&slb_ct, &key, now);
}

/* The entry of the flow p's packet is a reply in: one that gives it the service address back
 * (CT_F_REVNAT), or one the policy let its replies through with (CT_F_POLICY_ALLOWED). */
static __always_inline struct ct_entry *reply_flow(const struct packet *p, __u64 now)
{
	struct ct_key key;

	ct_key_of(&key, p, CT_DIR_REPLY);
	return ct_lookup(&slb_ct, &key, p, now, NULL);
}

/* Whether p's packet, from a service address, is a reply already given that address back
 * (by the backend's from-pod program, then routed by the node): its flow's forward entry. */
static __always_inline bool service_reply(const struct packet *p, __u64 now)
{
	struct ct_key key;
	struct ct_entry *flow;

	ct_reply_key_of(&key, p, &p->dst, p->dport);
	key.direction = CT_DIR_FORWARD;
	flow = ct_lookup(&slb_ct, &key, p, now, NULL);
	return flow && (flow->verdict & CT_F_DNAT);
}

/* A packet to a service address: the forward direction of a flow, translated to its backend. */
static __always_inline int from_pod_reply(struct __sk_buff *skb, const struct packet *p, __u64 now);

static __always_inline int from_pod_to_service(struct __sk_buff *skb, const struct packet *p, __u64 now)
{
	struct ct_key key;
	struct ct_entry *flow;
	struct frontend_key frontend;
	struct backend_value backend;
	enum slb_reason created, denied;
	__u32 backend_id = 0;
	__u32 now_s = now / NSEC_PER_SEC;
	__u8 gateway_mac[ETH_ALEN];
	struct lb_address hairpin_source;
	struct ethhdr *eth;
	bool confirm = false, hairpin;

	ct_key_of(&key, p, CT_DIR_FORWARD);
	flow = ct_lookup(&slb_ct, &key, p, now, &confirm);
	if (flow) {
		if (!(flow->verdict & CT_F_DNAT))
			return TC_PASS;
		backend.address = flow->nat.address;
		backend.port = flow->nat.port;
		hairpin = flow->verdict & CT_F_SNAT;
		/* A reset closes the reply entry too (no reply may come to close it). */
		if (ct_resets(p)) {
			service_reply_key(&key, p, &backend.address, backend.port, hairpin);
			ct_close_other(&slb_ct, &key, now);
		}
	} else {
		frontend_key_of(p, &frontend);
		switch (lb_select_backend(&frontend, lb_client_id_of_address(&p->src), &backend, &backend_id)) {
		case LB_NO_PORT:
			/* No service has the address (taken for one by its range alone), or only
			 * north-south frontends are on it: the port goes where it was sent. */
			if (!lb_refuses_other_ports(&p->dst))
				return from_pod_reply(skb, p, now);
			counter_inc(REASON_PORT_REFUSED);
			return refuse_packet(skb, p);
		case LB_NO_BACKEND:
			return tc_drop(REASON_NO_BACKEND);
		case LB_SELECTED:
			break;
		}
		hairpin = lb_address_equal(&backend.address, &p->src);
	}
	denied = hairpin ? 0 : pol_service_denied(p, &backend);
	if (denied)
		return tc_drop(denied);
	if (!flow) {
		if (!hairpin) {
			pol_count_allowed(pol_endpoint_of(p, true), POL_EGRESS);
			pol_count_allowed(bpf_map_lookup_elem(&slb_pol_endpoints, &backend.address), POL_INGRESS);
		}
		created = ct_create_service_flow(p, &backend, backend_id, hairpin, now);
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
	if (hairpin) {
		lb_hairpin_address(&hairpin_source, p->v6);
		if (!packet_rewrite(skb, p, false, &hairpin_source, p->sport))
			return tc_drop_ct(REASON_NAT_FAILED);
	}
	return deliver(skb, pod_link_of(&backend.address, now_s), gateway_mac);
}

/* A packet to any other address: a backend's reply when it belongs to a tracked flow, given
 * the service address back; a reply the policy allowed; else the pod's egress policy's. */
static __always_inline int from_pod_reply(struct __sk_buff *skb, const struct packet *p, __u64 now)
{
	struct ct_entry *flow = reply_flow(p, now);
	__u32 now_s = now / NSEC_PER_SEC;
	const struct pod_link *client;
	struct pol_endpoint *ep;
	struct ethhdr *eth;

	if (!flow) {
		ep = pol_endpoint_of(p, true);
		return ep ? pol_enforce(&slb_ct, ep, p, true, now) : TC_PASS;
	}
	if (!(flow->verdict & CT_F_REVNAT))
		return TC_PASS;
	reset_closes_forward(p, flow, now);
	eth = frame_eth(skb);
	if (!eth)
		return tc_drop_ct(REASON_REVNAT_FAILED);
	/* Every reply confirms its backend: a flow's first one already lets the client's next
	 * packets go straight to it. */
	pod_link_learn(skb, eth, &p->src, false, now_s);
	if (!packet_rewrite(skb, p, false, &flow->nat.address, flow->nat.port))
		return tc_drop_ct(REASON_REVNAT_FAILED);
	/* A hairpin flow's reply goes back to the pod it came from, to its own address. */
	if (flow->verdict & CT_F_REV_SNAT) {
		if (!packet_rewrite(skb, p, true, &p->src, p->dport))
			return tc_drop_ct(REASON_REVNAT_FAILED);
		client = pod_link_of(&p->src, now_s);
	} else {
		/* The reply comes from the service address, which the client reaches through its next hop. */
		client = pod_link_of(&p->dst, now_s);
	}
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
	/* Inside a service CIDR a packet goes straight to its flow and frontend lookups, one lookup
	 * fewer per packet. */
	if (lb_may_be_service(&p.dst))
		return from_pod_to_service(skb, &p, bpf_ktime_get_ns());
	return from_pod_reply(skb, &p, bpf_ktime_get_ns());
}

SEC("tc")
int slb_tc_to_pod(struct __sk_buff *skb)
{
	struct pol_endpoint *ep;
	struct ct_entry *flow;
	struct packet p;
	__u64 now;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	now = bpf_ktime_get_ns();
	flow = reply_flow(&p, now);
	if (flow) {
		reset_closes_forward(&p, flow, now);
		if ((flow->verdict & CT_F_REVNAT) && !packet_rewrite(skb, &p, false, &flow->nat.address, flow->nat.port))
			return tc_drop_ct(REASON_REVNAT_FAILED);
		return TC_PASS;
	}
	/* What reaches the pod on the node's path: its ingress policy's, unless a reply. */
	ep = pol_endpoint_of(&p, false);
	if (!ep)
		return TC_PASS;
	if (pol_isolated(ep, POL_INGRESS) && service_reply(&p, now))
		return TC_PASS;
	return pol_enforce(&slb_ct, ep, &p, false, now);
}
