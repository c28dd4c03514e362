/* Backend selection over the frontends, slots and backends maps. */
#ifndef SOCKLB_LB_SELECT_H
#define SOCKLB_LB_SELECT_H

#include <bpf/bpf_helpers.h>
#include "frontends_map.h"
#include "backends_map.h"
#include "counters_map.h"

enum lb_result {
	LB_NOT_A_SERVICE = 0,
	LB_NO_BACKEND = 1,
	LB_SELECTED = 2,
};

/* Two reads at most: a miss on a slot or backend means user space flipped the frontend to a
 * new generation and retired the old one between our reads, and a fresh frontend read sees
 * the new, complete list. */
#define LB_SELECT_ATTEMPTS 2

static __always_inline enum lb_result lb_select_backend(const struct frontend_key *key,
							struct backend_value *out)
{
	for (int attempt = 0; attempt < LB_SELECT_ATTEMPTS; attempt++) {
		struct frontend_value *svc = bpf_map_lookup_elem(&slb_frontends, key);
		struct slot_key slot = {};
		struct slot_value *slot_value;
		struct backend_value *backend;
		__u32 backend_id;

		if (!svc)
			return LB_NOT_A_SERVICE;
		if (svc->backend_count == 0)
			return LB_NO_BACKEND;
		slot.service_id = svc->service_id;
		slot.generation = svc->generation;
		slot.slot = bpf_get_prandom_u32() % svc->backend_count;
		slot_value = bpf_map_lookup_elem(&slb_slots, &slot);
		if (!slot_value) {
			counter_inc(COUNTER_SLOT_RETRY);
			continue;
		}
		backend_id = slot_value->backend_id;
		backend = bpf_map_lookup_elem(&slb_backends, &backend_id);
		if (!backend) {
			counter_inc(COUNTER_SLOT_RETRY);
			continue;
		}
		*out = *backend;
		return LB_SELECTED;
	}
	return LB_NO_BACKEND;
}

#endif
