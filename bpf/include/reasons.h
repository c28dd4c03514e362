/* Why a packet or a syscall went the way it did: every translation, refusal, drop and
 * conntrack event any socklb program counts, one code each. The codes index slb_counters
 * (counters_map.h) and are mirrored once in TypeScript (COUNTER_NAMES in
 * src/datapath/counters-map.ts: name = the code without REASON_, lower case), checked against
 * this enum in the objects' BTF. A code is only ever appended: its number is the counter's
 * slot in a pinned map, and its name is the `event` label users' dashboards match on. */
#ifndef SOCKLB_REASONS_H
#define SOCKLB_REASONS_H

#include "btf_export.h"

enum slb_reason {
	REASON_TRANSLATED = 0,   /* a connect/sendmsg, or a tc flow's first packet, sent to a backend */
	REASON_NO_BACKEND = 1,   /* a service hit with no usable endpoint: refused or dropped */
	REASON_REVNAT = 2,       /* a recvmsg or getpeername rewritten back to the VIP */
	REASON_SLOT_RETRY = 3,   /* a lookup that raced a backend update and read again */
	REASON_CT_CREATED = 4,   /* a tc-translated flow got its conntrack entries */
	REASON_CT_FAILED = 5,    /* a packet dropped for a conntrack or NAT failure: the sum of
				  * CT_INSERT_FAILED, CT_REPLY_INSERT_FAILED, NAT_FAILED and
				  * REVNAT_FAILED, counted with each of them */
	REASON_PORT_REFUSED = 6, /* a connect/sendmsg or a packet to a service address on a port (or protocol) no service has: refused */
	REASON_UDP_SOCK_DESTROYED = 7, /* a connected UDP socket destroyed because its backend left the service */
	REASON_UDP_REVNAT_CREATED = 8, /* an entry created in slb_udp_revnat */
	REASON_UDP_REVNAT_REMOVED = 9, /* an entry of slb_udp_revnat removed when its socket closed */
	REASON_UDP_REVNAT_UNTRACKED = 10, /* an entry its socket could not remember (it had UDP_SOCK_KEYS_MAX): left to LRU eviction */
	REASON_CT_INSERT_FAILED = 11,       /* a new flow dropped: its forward conntrack entry could not be written */
	REASON_CT_REPLY_INSERT_FAILED = 12, /* a new flow dropped: its reply entry could not be written (the forward one is removed again) */
	REASON_NAT_FAILED = 13,             /* a packet dropped: rewriting its destination to the backend failed */
	REASON_REVNAT_FAILED = 14,          /* a reply dropped: rewriting its source back to the service failed */
	REASON_REFUSAL_FAILED = 15,         /* a refused packet dropped: its answer (reset, port unreachable) could not be built */
	REASON_REFUSAL_NOT_SENT = 16,       /* a refused TCP reset dropped unanswered, as a reset is never answered */
	REASON_INVALID_PACKET = 17,         /* an IP packet whose headers could not be read (truncated, IPv4 header length < 5): passed on untouched */
	REASON_IP_FRAGMENT = 18,            /* an IPv4 fragment: passed on untranslated (its ports are in the first fragment only) */
	REASON_CT_EXPIRED = 19,             /* a packet met an expired conntrack entry and deleted it (garbage collection had not yet) */
	REASON_POLICY_DENIED_EGRESS = 20,   /* a pod's packet dropped at tc by the NetworkPolicy of its egress */
	REASON_POLICY_DENIED_INGRESS = 21,  /* a packet to a pod dropped by the NetworkPolicy of the pod's ingress */
	REASON_POLICY_CT_CREATED = 22,      /* an allowed flow of an isolated pod got its reply entry (slb_pol_ct; conntrack mode: slb_ct) */
	REASON_POLICY_CT_FAILED = 23,       /* an allowed flow's reply entry could not be written: its replies meet the policy */
	REASON_SOCK_REVNAT_FALLBACK = 24,   /* a translated socket's record kept in socket storage: another socket held its slot in slb_revnat_sk */
	REASON_POLICY_REFUSED_EGRESS = 25,  /* a pod's connect or sendto failed with EPERM by its egress policy (socket hooks; its packets never existed) */
	REASON_POLICY_ALLOWED_EGRESS = 26,  /* a new flow an egress-isolated pod opened, allowed by its policy (counted once a flow) */
	REASON_POLICY_ALLOWED_INGRESS = 27, /* a new flow into an ingress-isolated pod, allowed by its policy (counted once a flow) */
	REASON_NODE_TRANSLATED = 28,        /* a north-south flow from outside the node translated at a node device (its entries made) */
	REASON_NODE_SNAT = 29,              /* ... and source-NATed to the node: its backend is on another node */
	REASON_NODE_SNAT_NO_PORT = 30,      /* a north-south flow dropped: no source port of the node's was free for its backend */
	REASON_NODE_NO_ROUTE = 31,          /* a north-south packet dropped: no route to its backend or client (FIB lookup failed) */
	REASON_NODE_NO_SNAT_ADDRESS = 32,   /* a north-south flow dropped: the device to its backend has no address of its family */
	REASON_NODE_LOCAL_POLICY_PASSED = 33, /* a packet from outside to a frontend with externalTrafficPolicy Local that has no local-scope frontend beside it: passed untranslated */
	REASON_NODE_TTL_EXCEEDED = 34,      /* a north-south packet NodeTc sends on itself (source-NATed to the backend, or a reply turned back) dropped: its TTL or hop limit ran out, as a router drops it */
	REASON_MAX = 35,
};

BTF_EXPORT(enum slb_reason, slb_reason)

#endif
