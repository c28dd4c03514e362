/* Backends and the slots that tie a service to its backends. */
#ifndef SOCKLB_BACKENDS_MAP_H
#define SOCKLB_BACKENDS_MAP_H

#include "lb_common.h"

#define BACKENDS_MAX 262144
#define SLOTS_MAX 524288 /* two generations of up to BACKENDS_MAX slots */

struct backend_key {
	__u32 backend_id;
};

struct backend_value {
	struct lb_address address;
	__be16 port;
	__u8 pad[2];
};

struct slot_key {
	__u32 service_id;
	__u16 slot;      /* 0 .. backend_count-1 */
	__u8 generation; /* the frontend_value generation this list belongs to */
	__u8 pad;
};

/* The backend itself rides in its slot, so picking one is one lookup, not two: a backend id
 * names one address and port for good (ids are never reused), so the copy never goes stale.
 * slb_backends stays for what starts from an id (affinity, conntrack entries). */
struct slot_value {
	__u32 backend_id;
	struct lb_address address;
	__be16 port;
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BACKENDS_MAX);
	__type(key, struct backend_key);
	__type(value, struct backend_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} slb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLOTS_MAX);
	__type(key, struct slot_key);
	__type(value, struct slot_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} slb_slots SEC(".maps");

#endif
