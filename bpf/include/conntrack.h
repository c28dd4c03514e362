/* Conntrack operations over slb_ct (see ct_map.h): look up a live entry, create a flow's
 * two entries, and keep an entry's lifetime in step with the TCP flags it sees. */
#ifndef SOCKLB_CONNTRACK_H
#define SOCKLB_CONNTRACK_H

#include <bpf/bpf_helpers.h>
#include "ct_map.h"
#include "packet.h"

#define NSEC_PER_SEC 1000000000ull

static __always_inline void ct_key_of(struct ct_key *key, const struct packet *p, __u8 direction)
{
	key->src = p->src;
	key->dst = p->dst;
	key->sport = p->sport;
	key->dport = p->dport;
	key->protocol = p->protocol;
	key->direction = direction;
	key->pad[0] = 0;
	key->pad[1] = 0;
}

static __always_inline __u64 ct_lifetime_ns(__u8 protocol, __u8 flags)
{
	if (protocol != IPPROTO_TCP)
		return CT_LIFETIME_NONTCP * NSEC_PER_SEC;
	if (flags & CT_F_CLOSING)
		return CT_LIFETIME_TCP_CLOSING * NSEC_PER_SEC;
	if (flags & CT_F_ESTABLISHED)
		return CT_LIFETIME_TCP_ESTABLISHED * NSEC_PER_SEC;
	return CT_LIFETIME_TCP_OPENING * NSEC_PER_SEC;
}

/* The flags a packet adds to its direction's entry: any segment without SYN means the
 * handshake is behind us; FIN or RST starts the short closing lifetime. */
static __always_inline __u8 ct_flags_of(const struct packet *p)
{
	__u8 flags = 0;

	if (p->protocol != IPPROTO_TCP)
		return 0;
	if (!(p->tcp_flags & PKT_TCP_SYN))
		flags |= CT_F_ESTABLISHED;
	if (p->tcp_flags & (PKT_TCP_FIN | PKT_TCP_RST))
		flags |= CT_F_CLOSING;
	return flags;
}

/* The live entry for key, updated for this packet; NULL if there is none or it has expired
 * (an expired entry is deleted here so the flow starts afresh). */
static __always_inline struct ct_entry *ct_lookup(const struct ct_key *key, const struct packet *p, __u64 now)
{
	struct ct_entry *entry = bpf_map_lookup_elem(&slb_ct, key);
	__u8 flags;
	__u64 expires;

	if (!entry)
		return NULL;
	if (entry->expires_ns <= now) {
		bpf_map_delete_elem(&slb_ct, key);
		return NULL;
	}
	flags = entry->flags | ct_flags_of(p);
	expires = now + ct_lifetime_ns(p->protocol, flags);
	/* Entries are updated in place: the value is read and written by this flow's packets only. */
	if (flags != entry->flags || expires > entry->expires_ns + CT_REFRESH_SLACK_NS ||
	    expires < entry->expires_ns) {
		entry->flags = flags;
		entry->expires_ns = expires;
	}
	return entry;
}

/* Writes both entries of a new flow from p (client -> VIP) to the backend. */
static __always_inline bool ct_create(const struct packet *p, const struct lb_address *backend,
				      __be16 backend_port, __u32 backend_id, __u64 now)
{
	struct ct_key key;
	__u8 flags = ct_flags_of(p);
	struct ct_entry entry = {
		.nat_address = *backend,
		.nat_port = backend_port,
		.flags = flags,
		.backend_id = backend_id,
		.expires_ns = now + ct_lifetime_ns(p->protocol, flags),
	};

	ct_key_of(&key, p, CT_DIR_FORWARD);
	if (bpf_map_update_elem(&slb_ct, &key, &entry, BPF_ANY))
		return false;
	/* The reply comes from the backend to the client; it must leave with the VIP. */
	key.src = *backend;
	key.sport = backend_port;
	key.dst = p->src;
	key.dport = p->sport;
	key.direction = CT_DIR_REPLY;
	entry.nat_address = p->dst;
	entry.nat_port = p->dport;
	entry.flags = 0;
	entry.expires_ns = now + ct_lifetime_ns(p->protocol, 0);
	return bpf_map_update_elem(&slb_ct, &key, &entry, BPF_ANY) == 0;
}

#endif
