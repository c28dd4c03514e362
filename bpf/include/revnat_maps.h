/* Reverse translation: what lets recvmsg and getpeername report the VIP instead of the backend.
 * This is socklb's only per-flow state in socket mode, and it is bounded:
 *  - a socket with one peer (TCP, and UDP after connect()) keeps it in slb_revnat_sk, an
 *    array of slots indexed by the socket's cookie: claiming a slot is one compare-and-swap
 *    on memory that exists from the start, where socket-local storage would allocate (and
 *    later free through RCU) two objects per connection, most of a translated connect's cost,
 *    and a hash map would hash, lock a bucket and take an element from a free list. The
 *    sock_release hook frees the slot when the socket closes; nothing else takes a claimed
 *    slot, so a live socket's record is never evicted. Cookies are handed out in increasing
 *    order, so sockets open at the same time rarely share a slot; a socket whose slot another
 *    live socket holds keeps its record in socket-local storage (slb_sock_revnat), which lives
 *    and dies with the socket;
 *  - an unconnected UDP socket may talk to many VIPs, and replies arrive from the backend's
 *    address: an LRU map keyed by socket cookie and backend. The socket remembers the first
 *    UDP_SOCK_KEYS_MAX keys it created, and the sock_release hook removes them when it closes;
 *    the LRU ages out the rest. */
#ifndef SOCKLB_REVNAT_MAPS_H
#define SOCKLB_REVNAT_MAPS_H

#include "lb_common.h"

#define UDP_REVNAT_MAX 262144
#define UDP_SOCK_KEYS_MAX 16

struct udp_revnat_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
	struct lb_address address; /* backend */
	__be16 port;               /* backend */
	__u8 pad[6];
};

struct revnat_value {
	struct lb_address address; /* VIP */
	__be16 port;               /* VIP port */
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UDP_REVNAT_MAX);
	__type(key, struct udp_revnat_key);
	__type(value, struct revnat_value);
} slb_udp_revnat SEC(".maps");

/* A socket with one peer: the VIP it asked for and the backend it was given. */
struct sock_revnat {
	struct lb_address vip;
	struct lb_address backend;
	__be16 vip_port;
	__be16 backend_port;
};

/* Slots for the records of translated sockets: a power of two, a slot is cookie & (max - 1). */
#define REVNAT_SK_SLOTS 65536

/* One socket's record; cookie is its owner's bpf_get_socket_cookie(), 0 while the slot is free.
 * The owner claims a free slot with a compare-and-swap and frees it at close; only the socket
 * whose cookie it holds reads rec as its own. */
struct sock_revnat_slot {
	__u64 cookie;
	struct sock_revnat rec;
	__u8 pad[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, REVNAT_SK_SLOTS);
	__type(key, __u32);
	__type(value, struct sock_revnat_slot);
} slb_revnat_sk SEC(".maps");

/* The slot a socket's record is in, or would be. */
static __always_inline struct sock_revnat_slot *revnat_sk_slot(__u64 cookie)
{
	__u32 index = cookie & (REVNAT_SK_SLOTS - 1);

	return bpf_map_lookup_elem(&slb_revnat_sk, &index);
}

/* The socket's record in slb_revnat_sk, if it has one there. */
static __always_inline struct sock_revnat *revnat_sk_lookup(__u64 cookie)
{
	struct sock_revnat_slot *slot = revnat_sk_slot(cookie);

	return slot && slot->cookie == cookie ? &slot->rec : NULL;
}

/* Frees the socket's slot, if it holds one. */
static __always_inline void revnat_sk_release(__u64 cookie)
{
	struct sock_revnat_slot *slot = revnat_sk_slot(cookie);

	if (slot && slot->cookie == cookie)
		slot->cookie = 0;
}

/* Where slb_revnat_sk has no slot for a socket: its own storage, freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_revnat);
} slb_sock_revnat SEC(".maps");

/* The backend half of an slb_udp_revnat key (the cookie is the socket's own). */
struct udp_revnat_peer {
	struct lb_address address;
	__be16 port;
	__u8 pad[2];
};

/* The slb_udp_revnat keys an unconnected UDP socket created, for its sock_release hook.
 * count is bumped atomically to claim a slot, so it may exceed UDP_SOCK_KEYS_MAX: readers
 * clamp it. Written only when an entry is created, never per datagram. */
struct udp_sock_keys {
	__u32 count;
	struct udp_revnat_peer peers[UDP_SOCK_KEYS_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct udp_sock_keys);
} slb_udp_sock_keys SEC(".maps");

#endif
