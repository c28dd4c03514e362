/* Reverse translation: what lets recvmsg and getpeername report the VIP instead of the backend.
 * This is socklb's only per-flow state in socket mode, and it is bounded:
 *  - UDP: an LRU map keyed by socket cookie and backend, because one unconnected socket may
 *    talk to many VIPs and replies arrive from the backend's address.
 *  - TCP: socket-local storage that lives and dies with the socket; no map entry outlives it. */
#ifndef SOCKLB_REVNAT_MAPS_H
#define SOCKLB_REVNAT_MAPS_H

#include "lb_common.h"

#define UDP_REVNAT_MAX 262144

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

/* TCP: the VIP a connected socket asked for, and the backend it was given. */
struct sock_revnat {
	struct lb_address vip;
	struct lb_address backend;
	__be16 vip_port;
	__be16 backend_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_revnat);
} slb_sock_revnat SEC(".maps");

#endif
