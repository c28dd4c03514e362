/* Per-CPU event counters, summed by user space for `service list` and metrics. */
#ifndef SOCKLB_COUNTERS_MAP_H
#define SOCKLB_COUNTERS_MAP_H

#include <linux/types.h>

enum counter_id {
	COUNTER_TRANSLATED = 0,   /* a connect/sendmsg, or a tc flow's first packet, sent to a backend */
	COUNTER_NO_BACKEND = 1,   /* a service hit with no usable endpoint: refused or dropped */
	COUNTER_REVNAT = 2,       /* a recvmsg or getpeername rewritten back to the VIP */
	COUNTER_SLOT_RETRY = 3,   /* a lookup that raced a backend update and read again */
	COUNTER_CT_CREATED = 4,   /* a tc-translated flow got its conntrack entries */
	COUNTER_CT_FAILED = 5,    /* a packet dropped because its conntrack entries could not be written or NAT failed */
	COUNTER_PORT_REFUSED = 6, /* a connect/sendmsg or a packet to a service address on a port (or protocol) no service has: refused */
	COUNTER_UDP_SOCK_DESTROYED = 7, /* a connected UDP socket destroyed because its backend left the service */
	COUNTER_UDP_REVNAT_CREATED = 8, /* an entry created in slb_udp_revnat */
	COUNTER_UDP_REVNAT_REMOVED = 9, /* an entry of slb_udp_revnat removed when its socket closed */
	COUNTER_UDP_REVNAT_UNTRACKED = 10, /* an entry its socket could not remember (it had UDP_SOCK_KEYS_MAX): left to LRU eviction */
	COUNTER_MAX = 11,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} slb_counters SEC(".maps");

static __always_inline void counter_inc(__u32 id)
{
	__u64 *value = bpf_map_lookup_elem(&slb_counters, &id);

	if (value)
		*value += 1;
}

#endif
