/* The lightweight conntrack of NetworkPolicy: one entry per flow an isolated pod must be able
 * to answer (or hear the answers of), and no entry for any other flow. Its entries are
 * conntrack.h's (ct_map.h's key and entry, CT_DIR_REPLY keys with CT_F_POLICY_ALLOWED): keyed by
 * the tuple the flow's replies carry, made when the flow's original packet passed the policy
 * of a pod that is isolated in the direction its replies take. A flow's original direction is
 * looked up against the policy on every packet, so a changed policy applies to established
 * flows at once (as Cilium does); replies of an allowed flow are not. A table of its own, apart
 * from conntrack mode's slb_ct: the flows it holds are different ones and are counted apart. */
#ifndef SOCKLB_POLICY_CT_MAP_H
#define SOCKLB_POLICY_CT_MAP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ct_map.h"

#ifndef POL_CT_MAX
#define POL_CT_MAX 262144
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, POL_CT_MAX);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
} slb_pol_ct SEC(".maps");

#endif
