// SPDX-License-Identifier: GPL-2.0
/* NodeTc: the node's external devices (its uplinks, and any device other nodes' pods are
 * reached by), for what the socket hooks cannot do: connections that arrive from outside the
 * node to a north-south frontend (a NodePort on the node's address, an externalIP, a
 * load-balancer IP: FRONTEND_F_EXTERNAL), which no socket of this node made.
 *   slb_node_from_world  ingress: a new flow to such a frontend gets a backend from the same
 *     frontends and slots as the socket hooks use, and two entries in slb_node_ct
 *     (node_ct_map.h); every packet of the flow is rewritten frontend -> backend. A backend on
 *     this node (a pod, or the node itself) is reached with the client's address kept, and its
 *     replies leave through slb_node_to_world. A backend on another node (the route to it goes
 *     out of one of the node's devices: node_devices_map.h) is reached source-NATed to the
 *     device's address and a port of the node's (kube-proxy masquerades these too), so its
 *     replies come back here, where this program gives them the frontend and the client back
 *     and sends them out towards the client.
 *   slb_node_to_world    egress: a local backend's reply gets its frontend's address back.
 * Nothing else is tracked: a pod's or the node's own connection to a service was translated at
 * its socket and carries the backend's address, and traffic to any other address or port
 * passes after one lookup (two for a packet to the source-NAT ports).
 * A frontend with externalTrafficPolicy Local takes its local-scope twin for these flows: this
 * node's endpoints only, never source-NATed, dropped when there is none (as kube-proxy does).
 * Every drop is counted with its reason (reasons.h). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "conntrack.h"
#include "lb_select.h"
#include "node_ct_map.h"
#include "node_devices_map.h"
#include "refusal.h"
#include "tc_drop.h"
#include "tc_frontend.h"
#include "tc_parse.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
/* Ports a new flow to another node's backend tries before it is dropped. */
#define NODE_SNAT_ATTEMPTS 16
#define NODE_SNAT_PORTS (NODE_SNAT_PORT_MAX - NODE_SNAT_PORT_MIN + 1)

static __always_inline bool in_snat_ports(__be16 port)
{
	__u16 host = bpf_ntohs(port);

	return host >= NODE_SNAT_PORT_MIN && host <= NODE_SNAT_PORT_MAX;
}

static __always_inline struct node_ct_entry *node_flow(const struct ct_key *key, const struct packet *p, __u64 now)
{
	return (struct node_ct_entry *)ct_lookup(&slb_node_ct, key, p, now, NULL);
}

/* The live entry p's packet is a reply in (its key in *key), if any. */
static __always_inline struct node_ct_entry *node_reply_flow(struct ct_key *key, const struct packet *p, __u64 now)
{
	ct_key_of(key, p, CT_DIR_REPLY);
	return node_flow(key, p, now);
}

/* Where the node routes a packet from p's source to dst, from the device p came in by: the
 * device it leaves by (*ifindex) with BPF_FIB_LKUP_RET_SUCCESS or _NO_NEIGH (the neighbour is
 * resolved when it is sent); BPF_FIB_LKUP_RET_NOT_FWDED for an address of the node's own, and
 * also (the helper folds the two) for one the node has no route to at all, which the node's
 * stack then drops as it would the packet kube-proxy DNATs there; a route that refuses
 * (blackhole, unreachable, prohibit) or a failed lookup is its own code. A call of its own: the
 * lookup's 64-byte struct stays off the new flow's stack. */
static __noinline int node_route(struct __sk_buff *skb, const struct packet *p, const struct lb_address *dst, __u32 *ifindex)
{
	struct bpf_fib_lookup fib = {};
	int ret;

	fib.ifindex = skb->ingress_ifindex;
	fib.l4_protocol = p->protocol;
	fib.sport = p->sport;
	fib.dport = p->dport;
	if (p->v6) {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_src, &p->src, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, dst, sizeof(fib.ipv6_dst));
	} else {
		fib.family = AF_INET;
		fib.ipv4_src = p->src.words[3];
		fib.ipv4_dst = dst->words[3];
	}
	ret = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	*ifindex = fib.ifindex;
	return ret;
}

/* The key of the other direction's entry of the flow p's packet is in (flow: its entry, in
 * p's direction, forward or not), from what the entry holds: for a reset (ct_close_other). */
static __always_inline void node_other_key(struct ct_key *key, const struct packet *p, const struct node_ct_entry *flow, bool forward)
{
	const struct ct_nat *nat = &flow->ct.nat;

	/* Without a source NAT the other end is p's own: ct_reply_key_of / ct_forward_key_of_reply. */
	if (!(flow->ct.verdict & (CT_F_SNAT | CT_F_REV_SNAT))) {
		if (forward)
			ct_reply_key_of(key, p, &nat->address, nat->port);
		else
			ct_forward_key_of_reply(key, p, &nat->address, nat->port);
		return;
	}
	/* The backend's replies to the node's address and port, or the client's packets to the frontend. */
	if (forward)
		ct_key_fill(key, &nat->address, nat->port, &flow->snat.address, flow->snat.port, p->protocol, CT_DIR_REPLY);
	else
		ct_key_fill(key, &flow->snat.address, flow->snat.port, &nat->address, nat->port, p->protocol, CT_DIR_FORWARD);
}

/* A new flow's two entries and the keys it writes are built here, not on the stack: with them
 * the path would pass BPF's 512 bytes of stack. Per CPU, and a tc program runs to its end on its CPU. */
struct node_scratch {
	struct node_ct_entry forward;
	struct node_ct_entry reply;
	struct ct_key forward_key;
	struct ct_key reply_key; /* the reply entry's (a source NAT's: the tuple being claimed), to undo it by */
	struct ct_key displaced; /* the forward entry of a closed flow whose port is taken over */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct node_scratch);
} slb_node_scratch SEC(".maps");

/* Whether a source NAT's reply entry holding a port may give it to p's new flow: dead, or its
 * connection closed both ways (a FIN each way, or a reset, which closes both entries) while p
 * opens a TCP connection; a half-closed connection still carries data and keeps its port.
 * forward: the held flow's forward entry (NULL: gone already). */
static __always_inline bool node_port_reusable(const struct node_ct_entry *held, const struct node_ct_entry *forward,
					       const struct packet *p, __u64 now)
{
	if ((__u64)held->ct.expires * NSEC_PER_SEC <= now)
		return true;
	return ct_opens(p) && (held->ct.state & CT_S_CLOSING) && (!forward || (forward->ct.state & CT_S_CLOSING));
}

/* Claims a port of the node's address for p's new flow to backend: the reply entry keyed by the
 * tuple the backend will answer on (backend -> node:port), written only if no flow has it
 * (BPF_NOEXIST is the claim, atomic between CPUs). Its data turns the replies back into the
 * frontend's, to the client, out of the device the client came in by. */
static __always_inline enum slb_reason node_claim_snat_port(struct __sk_buff *skb, const struct packet *p,
							    const struct backend_value *backend, const struct lb_address *node,
							    struct node_scratch *scratch, __be16 *port, __u64 now)
{
	struct ct_nat frontend = { .address = p->dst, .port = p->dport };
	struct node_ct_entry *reply = &scratch->reply;
	struct ct_key *key = &scratch->reply_key;

	ct_entry_init(&reply->ct, p->protocol, 0, CT_F_REVNAT | CT_F_REV_SNAT, &frontend, now);
	reply->snat.address = p->src;
	reply->snat.port = p->sport;
	reply->snat.pad = 0;
	reply->snat.ifindex = skb->ingress_ifindex;
	ct_key_fill(key, &backend->address, backend->port, node, 0, p->protocol, CT_DIR_REPLY);
	/* A random start, then the ports after it (wrapping in the range), as netfilter and Cilium
	 * probe: random tries alone fail far more often once the range is half taken. */
	__u32 first = lb_random_below(NODE_SNAT_PORTS);

	for (int i = 0; i < NODE_SNAT_ATTEMPTS; i++) {
		key->dport = bpf_htons(NODE_SNAT_PORT_MIN + (first + i) % NODE_SNAT_PORTS);
		if (bpf_map_update_elem(&slb_node_ct, key, reply, BPF_NOEXIST) == 0) {
			*port = key->dport;
			return REASON_CT_CREATED;
		}
		/* Taken by a flow that is over: its entry is dead (garbage collection has not reached
		 * it yet), or closed (a reset or FIN went through) while this is a new connection, which
		 * may take its port as netfilter lets a SYN reuse a closed connection's tuple; the old
		 * flow's forward entry goes with it. */
		struct node_ct_entry *held = bpf_map_lookup_elem(&slb_node_ct, key);

		if (!held)
			continue;
		node_other_key(&scratch->displaced, p, held, false);
		if (!node_port_reusable(held, bpf_map_lookup_elem(&slb_node_ct, &scratch->displaced), p, now))
			continue;
		bpf_map_delete_elem(&slb_node_ct, &scratch->displaced);
		bpf_map_delete_elem(&slb_node_ct, key);
		if (bpf_map_update_elem(&slb_node_ct, key, reply, BPF_NOEXIST) == 0) {
			*port = key->dport;
			return REASON_CT_CREATED;
		}
	}
	return REASON_NODE_SNAT_NO_PORT;
}

/* The node's address on the device, in p's family; NULL when it has none. */
static __always_inline const struct lb_address *device_address(const struct node_device *dev, const struct packet *p)
{
	if (p->v6)
		return (dev->flags & NODE_DEV_F_IPV6) ? &dev->ipv6 : NULL;
	return (dev->flags & NODE_DEV_F_IPV4) ? &dev->ipv4 : NULL;
}

/* A new flow, as node_new_flow found it, for node_start_flow. */
struct node_new_flow {
	const struct packet *p;
	struct backend_value backend;
	__u32 backend_id;
	__u32 out_ifindex;
	const struct lb_address *snat; /* NULL: a backend on this node */
	__u64 now;
};

/* Makes p's new flow's entries, to a backend on this node (snat NULL: the client's address is
 * kept, and the reply entry is keyed by backend -> client) or on another node (source-NATed:
 * the reply entry, claimed first, is keyed by backend -> node:port). A flow is both entries or
 * none: the reply entry's key stays in the scratch, to undo it by. */
static __always_inline enum slb_reason node_create_flow(struct __sk_buff *skb, const struct node_new_flow *flow,
							struct node_scratch *scratch)
{
	struct node_ct_entry *forward = &scratch->forward;
	struct node_ct_entry *reply = &scratch->reply;
	const struct packet *p = flow->p;
	const struct backend_value *backend = &flow->backend;
	const struct lb_address *snat = flow->snat;
	__u64 now = flow->now;
	struct ct_nat nat = { .address = backend->address, .port = backend->port, .backend_id = flow->backend_id };
	__be16 port = 0;

	if (snat) {
		enum slb_reason claimed = node_claim_snat_port(skb, p, backend, snat, scratch, &port, now);

		if (claimed != REASON_CT_CREATED)
			return claimed;
		ct_entry_init(&forward->ct, p->protocol, ct_state_of(p), CT_F_DNAT | CT_F_SNAT, &nat, now);
		forward->snat.address = *snat;
		forward->snat.port = port;
		forward->snat.pad = 0;
		forward->snat.ifindex = flow->out_ifindex;
	} else {
		struct ct_nat frontend = { .address = p->dst, .port = p->dport };

		ct_entry_init(&reply->ct, p->protocol, 0, CT_F_REVNAT, &frontend, now);
		__builtin_memset(&reply->snat, 0, sizeof(reply->snat));
		ct_reply_key_of(&scratch->reply_key, p, &backend->address, backend->port);
		if (bpf_map_update_elem(&slb_node_ct, &scratch->reply_key, reply, BPF_ANY))
			return REASON_CT_REPLY_INSERT_FAILED;
		ct_entry_init(&forward->ct, p->protocol, ct_state_of(p), CT_F_DNAT, &nat, now);
		__builtin_memset(&forward->snat, 0, sizeof(forward->snat));
	}
	ct_key_of(&scratch->forward_key, p, CT_DIR_FORWARD);
	if (bpf_map_update_elem(&slb_node_ct, &scratch->forward_key, forward, BPF_ANY) == 0)
		return REASON_CT_CREATED;
	/* Undo the reply entry, so the port (or the tuple) is free for the next attempt. */
	bpf_map_delete_elem(&slb_node_ct, &scratch->reply_key);
	return REASON_CT_INSERT_FAILED;
}

/* A packet of a tracked flow in its forward direction: to the backend, and, source-NATed, out
 * of the device towards it (the node's routing would take a packet with the node's own address
 * as source, arriving from outside, for a martian). */
static __always_inline int node_forward(struct __sk_buff *skb, const struct packet *p, const struct node_ct_entry *flow)
{
	if (!packet_rewrite(skb, p, true, &flow->ct.nat.address, flow->ct.nat.port))
		return tc_drop_ct(REASON_NAT_FAILED);
	if (!(flow->ct.verdict & CT_F_SNAT))
		return TC_PASS;
	if (!packet_hop(skb, p))
		return tc_drop(REASON_NODE_TTL_EXCEEDED);
	if (!packet_rewrite(skb, p, false, &flow->snat.address, flow->snat.port))
		return tc_drop_ct(REASON_NAT_FAILED);
	return bpf_redirect_neigh(flow->snat.ifindex, NULL, 0, 0);
}

/* A reset in one direction closes the flow's other entry too. */
static __always_inline void node_reset_other(const struct packet *p, const struct node_ct_entry *flow, bool forward, __u64 now)
{
	struct ct_key other;

	if (!ct_resets(p))
		return;
	node_other_key(&other, p, flow, forward);
	ct_close_other(&slb_node_ct, &other, now);
}

/* A SYN on a flow that is closing opens a new connection on a tuple the client used before (it
 * reuses source ports within the closing lifetime): the old flow's entries go, and the
 * connection starts afresh, with a new backend choice and both entries new. Carried on, the new
 * connection could outlive one of the old entries (each expires on its own direction's
 * packets) and lose its replies. */
static __always_inline bool node_reopens(const struct packet *p, const struct node_ct_entry *flow)
{
	return ct_opens(p) && (flow->ct.state & CT_S_CLOSING);
}

static __always_inline void node_forget(const struct ct_key *key, const struct packet *p, const struct node_ct_entry *flow)
{
	struct ct_key other;

	node_other_key(&other, p, flow, true);
	bpf_map_delete_elem(&slb_node_ct, &other);
	bpf_map_delete_elem(&slb_node_ct, key);
}

/* The refusal's frame is built on the stack: a call of its own keeps that stack apart from the
 * new flow's (the two together pass BPF's 512 bytes). */
static __noinline int node_refuse(struct __sk_buff *skb, const struct packet *p)
{
	return refuse_packet(skb, p);
}

/* The new flow's entries, then its first packet on its way. A call of its own (BPF allows a
 * subprogram five arguments, hence the struct): its entries and keys on a stack apart from the
 * packet path's, which with them would pass BPF's 512 bytes. */
static __noinline int node_start_flow(struct __sk_buff *skb, const struct node_new_flow *flow)
{
	__u32 zero = 0;
	struct node_scratch *scratch = bpf_map_lookup_elem(&slb_node_scratch, &zero);
	enum slb_reason created;

	if (!scratch)
		return tc_drop_ct(REASON_CT_INSERT_FAILED);
	created = node_create_flow(skb, flow, scratch);

	if (created == REASON_NODE_SNAT_NO_PORT)
		return tc_drop(created);
	if (created != REASON_CT_CREATED)
		return tc_drop_ct(created);
	counter_inc(REASON_NODE_TRANSLATED);
	if (flow->snat)
		counter_inc(REASON_NODE_SNAT);
	return node_forward(skb, flow->p, &scratch->forward);
}

/* A new flow from outside to p's destination, if a north-south frontend is there. */
static __always_inline int node_new_flow(struct __sk_buff *skb, const struct packet *p, __u64 now)
{
	struct node_new_flow flow = { .p = p, .now = now };
	struct frontend_key fk;
	struct frontend_value *svc;
	struct node_device *dev = NULL;
	bool local_only;
	int route;

	frontend_key_of(p, &fk);
	svc = bpf_map_lookup_elem(&slb_frontends, &fk);
	/* A cluster IP reached from outside, or a port of the node's no NodePort has: not ours. */
	if (!svc || !(svc->flags & FRONTEND_F_EXTERNAL))
		return TC_PASS;
	local_only = svc->flags & FRONTEND_F_EXTERNAL_LOCAL;
	if (local_only)
		fk.scope = FRONTEND_SCOPE_LOCAL;
	switch (lb_select_backend(&fk, lb_client_id_of_address(&p->src), &flow.backend, &flow.backend_id)) {
	case LB_NO_PORT:
		/* No local-scope frontend beside it: an agent that does not write them. */
		if (local_only)
			counter_inc(REASON_NODE_LOCAL_POLICY_PASSED);
		return TC_PASS;
	case LB_NO_BACKEND:
		/* As kube-proxy: a service without endpoints is rejected, the client fails at once;
		 * externalTrafficPolicy Local without endpoints on this node drops (a load balancer's
		 * health check takes the node out). */
		counter_inc(REASON_NO_BACKEND);
		return local_only ? TC_ACT_SHOT : node_refuse(skb, p);
	case LB_SELECTED:
		break;
	}
	/* This node's endpoints, the client's address kept: never source-NATed. */
	if (local_only)
		goto create;
	route = node_route(skb, p, &flow.backend.address, &flow.out_ifindex);
	if (route == BPF_FIB_LKUP_RET_SUCCESS || route == BPF_FIB_LKUP_RET_NO_NEIGH)
		dev = bpf_map_lookup_elem(&slb_node_devices, &flow.out_ifindex);
	else if (route != BPF_FIB_LKUP_RET_NOT_FWDED)
		return tc_drop(REASON_NODE_NO_ROUTE);
	if (dev) {
		flow.snat = device_address(dev, p);
		if (!flow.snat)
			return tc_drop(REASON_NODE_NO_SNAT_ADDRESS);
	}
create:
	return node_start_flow(skb, &flow);
}

/* A source-NATed flow's reply from the backend on another node: the frontend's address as its
 * source and the client as its destination again, sent out of the device the client came by. */
static __always_inline int node_reply_from_remote(struct __sk_buff *skb, const struct packet *p, const struct node_ct_entry *flow)
{
	if (!packet_hop(skb, p))
		return tc_drop(REASON_NODE_TTL_EXCEEDED);
	if (!packet_rewrite(skb, p, false, &flow->ct.nat.address, flow->ct.nat.port) ||
	    !packet_rewrite(skb, p, true, &flow->snat.address, flow->snat.port))
		return tc_drop_ct(REASON_REVNAT_FAILED);
	return bpf_redirect_neigh(flow->snat.ifindex, NULL, 0, 0);
}

SEC("tc")
int slb_node_from_world(struct __sk_buff *skb)
{
	struct node_ct_entry *flow;
	struct ct_key key;
	struct packet p;
	__u64 now;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	now = bpf_ktime_get_ns();
	if (in_snat_ports(p.dport)) {
		flow = node_reply_flow(&key, &p, now);
		if (flow && (flow->ct.verdict & CT_F_REV_SNAT)) {
			node_reset_other(&p, flow, false, now);
			return node_reply_from_remote(skb, &p, flow);
		}
	}
	/* Node addresses with NodePorts, externalIPs and load-balancer IPs are all in slb_vips. */
	if (!lb_service_address(&p.dst))
		return TC_PASS;
	ct_key_of(&key, &p, CT_DIR_FORWARD);
	flow = node_flow(&key, &p, now);
	if (flow && node_reopens(&p, flow)) {
		node_forget(&key, &p, flow);
		flow = NULL;
	}
	if (!flow)
		return node_new_flow(skb, &p, now);
	if (!(flow->ct.verdict & CT_F_DNAT))
		return TC_PASS;
	node_reset_other(&p, flow, true, now);
	return node_forward(skb, &p, flow);
}

SEC("tc")
int slb_node_to_world(struct __sk_buff *skb)
{
	struct node_ct_entry *flow;
	struct ct_key key;
	struct packet p;
	__u64 now;

	if (!tc_parse(skb, &p))
		return TC_PASS;
	now = bpf_ktime_get_ns();
	flow = node_reply_flow(&key, &p, now);
	/* A source-NATed flow's replies come in from the other node (slb_node_from_world). */
	if (!flow || (flow->ct.verdict & (CT_F_REVNAT | CT_F_REV_SNAT)) != CT_F_REVNAT)
		return TC_PASS;
	node_reset_other(&p, flow, false, now);
	if (!packet_rewrite(skb, &p, false, &flow->ct.nat.address, flow->ct.nat.port))
		return tc_drop_ct(REASON_REVNAT_FAILED);
	return TC_PASS;
}
