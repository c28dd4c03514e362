/* The (VIP, backend) pairs UDP frontends lost in the last sync. User space fills it, runs the
 * socket iterator of sock_destroy.bpf.c in each pod's network namespace and empties it again:
 * a connected UDP socket whose slb_sock_revnat record is a key here is destroyed. */
#ifndef SOCKLB_UDP_DEPARTED_MAP_H
#define SOCKLB_UDP_DEPARTED_MAP_H

#include "revnat_maps.h"

/* Pairs per iterator pass; user space passes more in several. */
#define UDP_DEPARTED_MAX 16384

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UDP_DEPARTED_MAX);
	__type(key, struct sock_revnat); /* the record of a socket connected through that pair */
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} slb_udp_departed SEC(".maps");

#endif
