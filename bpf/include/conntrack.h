/* Conntrack operations over a table of ct_map.h's entries, for any path that tracks flows:
 * build a key, look up a live entry (keeping its state and expiry in step with the packet), and
 * insert an entry with its verdict and optional NAT data. What a path does with a verdict is the
 * path's. The table is the caller's: slb_ct for conntrack mode's translated flows, slb_pol_ct
 * (policy_ct_map.h) for the replies of policy-isolated pods' flows, slb_node_ct (node_ct_map.h,
 * entries that extend these) for north-south flows from outside the node, so a pod that no
 * policy selects never costs conntrack mode's table an entry, nor the reverse. */
#ifndef SOCKLB_CONNTRACK_H
#define SOCKLB_CONNTRACK_H

#include <bpf/bpf_helpers.h>
#include "counters_map.h"
#include "ct_map.h"
#include "packet.h"

#define NSEC_PER_SEC 1000000000ull

/* Entries expire in whole seconds of CLOCK_MONOTONIC; programs read the clock in nanoseconds
 * (bpf_ktime_get_ns) and divide only when they write an expiry, never per packet. */
static __always_inline __u32 ct_expiry(__u64 now_ns, __u32 lifetime)
{
	return now_ns / NSEC_PER_SEC + lifetime;
}

/* Every key is written through here: each field, the padding zeroed (a hash key is compared
 * byte for byte). */
static __always_inline void ct_key_fill(struct ct_key *key, const struct lb_address *src, __be16 sport,
					const struct lb_address *dst, __be16 dport, __u8 protocol, __u8 direction)
{
	key->src = *src;
	key->dst = *dst;
	key->sport = sport;
	key->dport = dport;
	key->protocol = protocol;
	key->direction = direction;
	key->pad[0] = 0;
	key->pad[1] = 0;
}

static __always_inline void ct_key_of(struct ct_key *key, const struct packet *p, __u8 direction)
{
	ct_key_fill(key, &p->src, p->sport, &p->dst, p->dport, p->protocol, direction);
}

/* The key of the replies to p's flow once its destination is translated to to:to_port: they
 * come from there and go back to p's source. */
static __always_inline void ct_reply_key_of(struct ct_key *key, const struct packet *p,
					    const struct lb_address *to, __be16 to_port)
{
	ct_key_fill(key, to, to_port, &p->src, p->sport, p->protocol, CT_DIR_REPLY);
}

/* The key of the forward entry of the flow p's packet replies in, once the reply's source is
 * given back as to:to_port (the service address the client sent to). */
static __always_inline void ct_forward_key_of_reply(struct ct_key *key, const struct packet *p,
						    const struct lb_address *to, __be16 to_port)
{
	ct_key_fill(key, &p->dst, p->dport, to, to_port, p->protocol, CT_DIR_FORWARD);
}

/* A TCP segment that resets its connection. */
static __always_inline bool ct_resets(const struct packet *p)
{
	return p->protocol == IPPROTO_TCP && (p->tcp_flags & PKT_TCP_RST);
}

/* A TCP segment that opens a connection: SYN without ACK. */
static __always_inline bool ct_opens(const struct packet *p)
{
	return p->protocol == IPPROTO_TCP && (p->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN;
}

static __always_inline __u32 ct_lifetime(__u8 protocol, __u8 state)
{
	if (protocol != IPPROTO_TCP)
		return CT_LIFETIME_NONTCP;
	if (state & CT_S_CLOSING)
		return CT_LIFETIME_TCP_CLOSING;
	if (state & CT_S_ESTABLISHED)
		return CT_LIFETIME_TCP_ESTABLISHED;
	return CT_LIFETIME_TCP_OPENING;
}

/* The state a packet adds to its direction's entry: any segment without SYN means the
 * handshake is behind us; FIN or RST starts the short closing lifetime. */
static __always_inline __u8 ct_state_of(const struct packet *p)
{
	__u8 state = 0;

	if (p->protocol != IPPROTO_TCP)
		return 0;
	if (!(p->tcp_flags & PKT_TCP_SYN))
		state |= CT_S_ESTABLISHED;
	if (p->tcp_flags & (PKT_TCP_FIN | PKT_TCP_RST))
		state |= CT_S_CLOSING;
	return state;
}

/* The live entry for key, updated for this packet; NULL if there is none or it has expired
 * (an expired entry is deleted here so the flow starts afresh). now: bpf_ktime_get_ns().
 * *written (may be NULL) tells whether this packet changed the entry: a new state, or an
 * expiry a second later, so at most about once a second per direction of a busy flow, which
 * lets a path do what a flow needs only now and then without a clock of its own. */
static __always_inline struct ct_entry *ct_lookup(void *table, const struct ct_key *key, const struct packet *p, __u64 now,
						  bool *written)
{
	struct ct_entry *entry = bpf_map_lookup_elem(table, key);
	__u64 expires_ns, until;
	__u8 state;

	if (!entry)
		return NULL;
	expires_ns = (__u64)entry->expires * NSEC_PER_SEC;
	if (expires_ns <= now) {
		bpf_map_delete_elem(table, key);
		counter_inc(REASON_CT_EXPIRED);
		return NULL;
	}
	state = entry->state | ct_state_of(p);
	until = now + (__u64)ct_lifetime(p->protocol, state) * NSEC_PER_SEC;
	/* Entries are updated in place: the value is read and written by this flow's packets only.
	 * The expiry is until in whole seconds: it changes, and the entry is written, at most once
	 * a second per direction (and on a state change), not on every packet. */
	if (state != entry->state || until < expires_ns || until >= expires_ns + NSEC_PER_SEC) {
		entry->state = state;
		entry->expires = until / NSEC_PER_SEC;
		if (written)
			*written = true;
	}
	return entry;
}

/* A TCP reset ends a connection in both directions at once, but only one direction sees it: the
 * other direction's entry (other) gets the closing state and lifetime too, or it would live the
 * established lifetime (hours) for a flow that is gone, holding whatever it holds (a source NAT's
 * port, say). For a packet that resets (ct_resets); what its own direction's entry gets,
 * ct_lookup gave. */
static __always_inline void ct_close_other(void *table, const struct ct_key *other, __u64 now)
{
	struct ct_entry *entry = bpf_map_lookup_elem(table, other);
	__u32 until;

	if (!entry)
		return;
	until = ct_expiry(now, CT_LIFETIME_TCP_CLOSING);
	entry->state |= CT_S_CLOSING;
	if (entry->expires > until)
		entry->expires = until;
}

/* An entry for this packet's state (state_of: the packet that created it, 0 for the direction
 * it has not been seen in yet), the verdict, and nat (NULL: no NAT data). */
static __always_inline void ct_entry_init(struct ct_entry *entry, __u8 protocol, __u8 state, __u8 verdict,
					  const struct ct_nat *nat, __u64 now)
{
	entry->expires = ct_expiry(now, ct_lifetime(protocol, state));
	entry->state = state;
	entry->verdict = verdict;
	entry->pad = 0;
	if (nat)
		entry->nat = *nat;
	else
		__builtin_memset(&entry->nat, 0, sizeof(entry->nat));
}

/* Writes the entry for key (see ct_entry_init). */
static __always_inline bool ct_insert(void *table, const struct ct_key *key, __u8 protocol, __u8 state, __u8 verdict,
				      const struct ct_nat *nat, __u64 now)
{
	struct ct_entry entry;

	ct_entry_init(&entry, protocol, state, verdict, nat, now);
	return bpf_map_update_elem(table, key, &entry, BPF_ANY) == 0;
}

#endif
