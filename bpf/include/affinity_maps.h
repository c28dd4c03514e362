/* Session affinity (sessionAffinity: ClientIP). At the socket layer the client is its network
 * namespace (a pod), named by its netns cookie: every socket of a pod shares it, whatever source
 * address the socket will get. */
#ifndef SOCKLB_AFFINITY_MAPS_H
#define SOCKLB_AFFINITY_MAPS_H

#include "lb_common.h"

#define AFFINITY_MAX 262144
#define AFFINITY_MATCH_MAX 262144

struct affinity_key {
	__u64 netns_cookie;
	__u32 service_id;
	__u32 pad;
};

struct affinity_value {
	__u64 last_used_ns; /* bpf_ktime_get_ns() of the client's last connect to the service */
	__u32 backend_id;
	__u32 pad;
};

/* Written by the programs only; LRU, so idle clients age out without user space. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AFFINITY_MAX);
	__type(key, struct affinity_key);
	__type(value, struct affinity_value);
} slb_affinity SEC(".maps");

/* Which backends a service with affinity has now: a remembered backend is reused only while
 * (service, backend) is here. User space adds a pair before the backend's slot goes live and
 * removes it after the slot is gone. */
struct affinity_match_key {
	__u32 service_id;
	__u32 backend_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AFFINITY_MATCH_MAX);
	__type(key, struct affinity_match_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} slb_affinity_match SEC(".maps");

#endif
