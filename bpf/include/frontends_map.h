/* Frontends: one entry per Service VIP, port and protocol. */
#ifndef SOCKLB_FRONTENDS_MAP_H
#define SOCKLB_FRONTENDS_MAP_H

#include "lb_common.h"

#define FRONTENDS_MAX 65536

/* Which clients a frontend is for. Every program looks up FRONTEND_SCOPE_ALL; the node
 * programs look up FRONTEND_SCOPE_LOCAL for traffic from outside the node to a frontend with
 * FRONTEND_F_EXTERNAL_LOCAL: the same address and port with this node's endpoints only. */
#define FRONTEND_SCOPE_ALL 0
#define FRONTEND_SCOPE_LOCAL 1

struct frontend_key {
	struct lb_address address;
	__be16 port;
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 scope;    /* FRONTEND_SCOPE_*; was padding (0) before scopes, so older pins read as ALL */
};

/* A north-south frontend (reach 'external'): user space's record, from which an agent that
 * adopts the maps learns the address's VIP_F_* flags; the programs read those. */
#define FRONTEND_F_EXTERNAL 1
/* externalTrafficPolicy Local (with FRONTEND_F_EXTERNAL): traffic from outside the node keeps
 * its client address and reaches only this node's endpoints, the frontend of FRONTEND_SCOPE_LOCAL
 * beside this one (written while the node programs run); in-cluster clients use every endpoint,
 * as kube-proxy's do. */
#define FRONTEND_F_EXTERNAL_LOCAL 2

/* generation names which half of slb_slots is live for this frontend. User space writes a new
 * backend list into the other half, then replaces this value in one update, so a lookup sees
 * either the whole old list or the whole new one, never a mix. */
struct frontend_value {
	__u32 service_id;
	__u16 backend_count;    /* 0: the service exists but has no usable endpoint */
	__u8 generation;        /* 0 or 1 */
	__u8 flags;             /* FRONTEND_F_* */
	__u32 affinity_timeout; /* sessionAffinity ClientIP: idle seconds a client keeps its backend; 0: none */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FRONTENDS_MAX);
	__type(key, struct frontend_key);
	__type(value, struct frontend_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} slb_frontends SEC(".maps");

#endif
