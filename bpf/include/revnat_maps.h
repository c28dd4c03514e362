/* Reverse translation: what lets recvmsg and getpeername report the VIP instead of the backend.
 * This is socklb's only per-flow state in socket mode, and it is bounded:
 *  - a socket with one peer (TCP, and UDP after connect()) keeps it in slb_revnat_sk, a
 *    preallocated hash keyed by the socket's cookie: writing an entry takes one from a free
 *    list, where socket-local storage would allocate (and later free through RCU) two objects
 *    per connection, most of a translated connect's cost. The sock_release hook removes the
 *    entry when the socket closes; it is no LRU, so nothing evicts it while the socket lives.
 *    Only when the map is full does a socket keep its record in socket-local storage
 *    (slb_sock_revnat), which lives and dies with the socket;
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

/* Translated sockets open at once on a node before their records go to socket storage. */
#define REVNAT_SK_MAX 65536

/* No BPF_F_NO_PREALLOC: every entry exists from the start, so a connect allocates nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REVNAT_SK_MAX);
	__type(key, __u64); /* bpf_get_socket_cookie(): unique for the machine's uptime, never reused */
	__type(value, struct sock_revnat);
} slb_revnat_sk SEC(".maps");

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
