/* The verdicts tc programs give, and dropping with a reason (reasons.h). */
#ifndef SOCKLB_TC_DROP_H
#define SOCKLB_TC_DROP_H

#include <linux/pkt_cls.h>
#include "counters_map.h"

/* Packets we do not change go on to the next filter (or the default action), so socklb
 * composes with a CNI's own tc programs. */
#define TC_PASS TC_ACT_UNSPEC

static __always_inline int tc_drop(enum slb_reason reason)
{
	counter_inc(reason);
	return TC_ACT_SHOT;
}

/* A conntrack or NAT failure: its own reason, and ct_failed, the total users have known. */
static __always_inline int tc_drop_ct(enum slb_reason reason)
{
	counter_inc(REASON_CT_FAILED);
	return tc_drop(reason);
}

#endif
