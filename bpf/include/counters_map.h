/* Per-CPU counters, one per reason code (reasons.h), summed by user space for `service list`
 * and metrics. */
#ifndef SOCKLB_COUNTERS_MAP_H
#define SOCKLB_COUNTERS_MAP_H

#include <linux/types.h>
#include "reasons.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} slb_counters SEC(".maps");

static __always_inline void counter_inc(enum slb_reason reason)
{
	__u32 id = reason;
	__u64 *value = bpf_map_lookup_elem(&slb_counters, &id);

	if (value)
		*value += 1;
}

#endif
