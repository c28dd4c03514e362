/* The cluster's service CIDRs (--service-cidrs), as net and mask in the v4-mapped form of
 * lb_address. A socket hook looks an address inside one of them up in slb_frontends at once:
 * a connect to a cluster IP costs one hash lookup, not two (slb_vips, then slb_frontends), and
 * only a miss there asks slb_vips whether the address is a service's (a port no service has:
 * refused) or not (it passes). Addresses outside every range (pods, other hosts, external IPs)
 * ask slb_vips first, as before: traffic that is no service's costs that one lookup, plus the
 * compares here. Both paths reach the same verdict for every address; the ranges only choose
 * the cheaper order. Without --service-cidrs count is 0 and every address asks slb_vips first.
 * One entry, written by the agent when it installs the socket hooks. */
#ifndef SOCKLB_SERVICE_RANGES_MAP_H
#define SOCKLB_SERVICE_RANGES_MAP_H

#include <bpf/bpf_helpers.h>
#include "lb_common.h"

#define SERVICE_RANGES_MAX 4

struct service_range {
	struct lb_address net; /* host bits clear */
	struct lb_address mask;
};

struct service_ranges {
	__u32 count; /* ranges in use, at most SERVICE_RANGES_MAX */
	__u32 pad;
	struct service_range ranges[SERVICE_RANGES_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct service_ranges);
} slb_service_ranges SEC(".maps");

static __always_inline bool lb_range_contains(const struct service_range *r, const struct lb_address *a)
{
	return (a->words[0] & r->mask.words[0]) == r->net.words[0] &&
	       (a->words[1] & r->mask.words[1]) == r->net.words[1] &&
	       (a->words[2] & r->mask.words[2]) == r->net.words[2] &&
	       (a->words[3] & r->mask.words[3]) == r->net.words[3];
}

/* Whether the address is in a service CIDR; the array's lookup is inlined, so this costs the
 * compares alone. */
static __always_inline bool lb_in_service_range(const struct lb_address *a)
{
	__u32 zero = 0;
	struct service_ranges *sr = bpf_map_lookup_elem(&slb_service_ranges, &zero);

	if (!sr)
		return false;
	for (__u32 i = 0; i < SERVICE_RANGES_MAX; i++) {
		if (i >= sr->count)
			break;
		if (lb_range_contains(&sr->ranges[i], a))
			return true;
	}
	return false;
}

#endif
