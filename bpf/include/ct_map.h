/* socklb's connection tracking, for the flows that packets, not sockets, must carry state for:
 * conntrack mode's pod-to-service flows, NetworkPolicy replies, and north-south flows from
 * outside the node (node_ct_map.h, whose entries extend these). One LRU map, one entry per direction of a flow:
 *  - CT_DIR_FORWARD, keyed by the original tuple (client -> service),
 *  - CT_DIR_REPLY, keyed by the tuple its replies carry (backend -> client).
 * An entry holds what every tracked flow has (its protocol state, its expiry, and verdict bits
 * saying what its packets need) apart from what only a translated flow has (its NAT data), so
 * a path that tracks without translating reads and writes the same entries.
 * Entries carry their own expiry (CLOCK_MONOTONIC seconds): a packet that finds an expired
 * entry treats it as absent and deletes it, user space deletes the ones no packet comes back
 * for (garbage collection), and the LRU evicts the oldest if the table fills before that. */
#ifndef SOCKLB_CT_MAP_H
#define SOCKLB_CT_MAP_H

#include "btf_export.h"
#include "ct_config.h"
#include "lb_common.h"

enum ct_direction {
	CT_DIR_FORWARD = 0,
	CT_DIR_REPLY = 1,
};

struct ct_key {
	struct lb_address src;
	struct lb_address dst;
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 direction; /* enum ct_direction */
	__u8 pad[2];
};

/* The protocol state of one direction, just enough to choose a lifetime: TCP's handshake,
 * established and closing phases; UDP has none (its entries live until idle). */
enum ct_state {
	CT_S_ESTABLISHED = 1 << 0, /* this direction saw a TCP segment past the handshake */
	CT_S_CLOSING = 1 << 1,     /* a FIN or RST went through this direction */
};

/* What the flow's packets in this direction need, decided when the flow was created. */
enum ct_verdict {
	CT_F_DNAT = 1 << 0,           /* rewrite the destination to nat (a service's backend) */
	CT_F_REVNAT = 1 << 1,         /* rewrite the source back to nat (the service a reply answers for) */
	CT_F_REV_SNAT = 1 << 2,       /* rewrite the destination back to nat (undo a source NAT) */
	CT_F_POLICY_ALLOWED = 1 << 3, /* NetworkPolicy allowed the flow: its packets skip the policy lookup */
	CT_F_SNAT = 1 << 4,           /* rewrite the source to the node's address and port (node_ct_map.h) */
};

/* A translated flow's NAT data. */
struct ct_nat {
	struct lb_address address; /* FORWARD: the backend; REPLY: the service address */
	__be16 port;
	__u16 pad;
	__u32 backend_id;          /* the backend chosen for the flow (for metrics and debugging) */
};

/* 32 bytes, as the NAT-only entry before it: the expiry in seconds (4 bytes, not the 8 of
 * nanoseconds) pays for the verdict bits. The NAT data is part of the value rather than in a
 * map of its own: every flow tracked today is translated, so a second map would cost each
 * packet a second lookup to save nothing; a flow tracked only for policy carries 24 unused
 * bytes, a fifth of what an LRU entry costs the kernel (key, value and its own header). */
struct ct_entry {
	__u32 expires;  /* CLOCK_MONOTONIC seconds (bpf_ktime_get_ns() / 1e9) from which the entry is dead */
	__u8 state;     /* enum ct_state */
	__u8 verdict;   /* enum ct_verdict */
	__u16 pad;
	struct ct_nat nat; /* set when verdict has CT_F_DNAT, CT_F_REVNAT or CT_F_REV_SNAT */
};

struct {
	__uint(type, CT_MAP_TYPE);
	__uint(max_entries, CT_MAX);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
} slb_ct SEC(".maps");

BTF_EXPORT(enum ct_direction, ct_direction)
BTF_EXPORT(enum ct_state, ct_state)
BTF_EXPORT(enum ct_verdict, ct_verdict)

#endif
