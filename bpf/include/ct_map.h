/* Connection tracking for the flows socklb translates per packet at tc: the flows sockets
 * cannot translate (conntrack mode's pod-to-service traffic now; NodePort and other
 * north-south traffic later). Two compact entries per flow in one LRU map:
 *  - CT_DIR_FORWARD, keyed by the original tuple (client -> VIP), holds the chosen backend;
 *  - CT_DIR_REPLY, keyed by the reply tuple (backend -> client), holds the VIP to restore.
 * Entries carry their own expiry (bpf_ktime_get_ns, CLOCK_MONOTONIC): a packet that finds an
 * expired entry treats it as absent, user space deletes expired entries (garbage collection),
 * and the LRU evicts the oldest if the table fills before that. */
#ifndef SOCKLB_CT_MAP_H
#define SOCKLB_CT_MAP_H

#include "lb_common.h"

#define CT_MAX 262144

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

/* TCP state, just enough to choose a lifetime. */
enum ct_flags {
	CT_F_ESTABLISHED = 1 << 0, /* this direction saw a packet past the handshake */
	CT_F_CLOSING = 1 << 1,     /* a FIN or RST went through this direction */
};

struct ct_entry {
	struct lb_address nat_address; /* FORWARD: the backend; REPLY: the VIP */
	__be16 nat_port;
	__u8 flags;                    /* enum ct_flags */
	__u8 pad;
	__u32 backend_id;              /* the backend chosen for the flow (for metrics and debugging) */
	__u64 expires_ns;              /* bpf_ktime_get_ns() after which the entry is dead */
};

/* Lifetimes in seconds, as Cilium's defaults: a handshake or a closing TCP flow is kept
 * briefly, an established one long (its packets refresh it), UDP until idle for a minute. */
#define CT_LIFETIME_TCP_OPENING 60
#define CT_LIFETIME_TCP_ESTABLISHED 21600
#define CT_LIFETIME_TCP_CLOSING 10
#define CT_LIFETIME_NONTCP 60
/* An entry is rewritten only when its expiry would move by more than this, so a busy flow
 * costs a map write at most once a second per direction, not on every packet. */
#define CT_REFRESH_SLACK_NS 1000000000ull

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CT_MAX);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
} slb_ct SEC(".maps");

#endif
