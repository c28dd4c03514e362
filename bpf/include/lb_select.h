/* Backend selection over the frontends, slots and backends maps. */
#ifndef SOCKLB_LB_SELECT_H
#define SOCKLB_LB_SELECT_H

#include <bpf/bpf_helpers.h>
#include "frontends_map.h"
#include "backends_map.h"
#include "counters_map.h"
#include "affinity_maps.h"
#include "vips_map.h"
#include "lb_random.h"
#include "service_ranges_map.h"

enum lb_result {
	LB_NO_PORT = 0,    /* a service address, but no service has this port and protocol */
	LB_NO_BACKEND = 1, /* a service port without a usable endpoint */
	LB_SELECTED = 2,
};

/* Two reads at most: a miss on a slot means user space flipped the frontend to a
 * new generation and retired the old one between our reads, and a fresh frontend read sees
 * the new, complete list. */
#define LB_SELECT_ATTEMPTS 2

/* The backend this client used last for the service, if it is recent and still a member. */
static __always_inline bool lb_affinity_backend(const struct frontend_value *svc,
						const struct affinity_key *client, __u64 now,
						struct backend_value *out, __u32 *backend_id_out)
{
	struct affinity_value *remembered = bpf_map_lookup_elem(&slb_affinity, client);
	struct affinity_match_key member;
	struct backend_value *backend;

	if (!remembered || now - remembered->last_used_ns > (__u64)svc->affinity_timeout * 1000000000ull)
		return false;
	member.service_id = svc->service_id;
	member.backend_id = remembered->backend_id;
	if (!bpf_map_lookup_elem(&slb_affinity_match, &member))
		return false;
	backend = bpf_map_lookup_elem(&slb_backends, &member.backend_id);
	if (!backend)
		return false;
	remembered->last_used_ns = now;
	*out = *backend;
	*backend_id_out = member.backend_id;
	return true;
}

/* The address's entry if it is a service's. Callers ask this first, before anything else
 * they compute for a lookup (or know the address in a service CIDR): traffic that is not for a
 * service then costs this one lookup. */
static __always_inline struct vip_value *lb_service_address(const struct lb_address *a)
{
	return bpf_map_lookup_elem(&slb_vips, a);
}

/* Whether the address may be a service's, asked before anything else is computed for it:
 * inside a service CIDR yes at once (the frontend lookup that follows tells, see
 * service_ranges_map.h), else one slb_vips lookup, which is all that traffic to an address that
 * is no service's costs. */
static __always_inline bool lb_may_be_service(const struct lb_address *a)
{
	return lb_in_service_range(a) || lb_service_address(a);
}

/* After LB_NO_PORT: whether the port is to be refused (the address is a cluster IP's), or
 * passed (no service has the address, or only north-south frontends are on it). */
static __always_inline bool lb_refuses_other_ports(const struct lb_address *a)
{
	struct vip_value *vip = lb_service_address(a);

	return vip && !(vip->flags & VIP_F_OTHER_PORTS_PASS);
}

/* For a key whose address is a service's. The client of a service with session affinity is
 * named by client_id, or, when sock_ctx is a socket hook's context, by its pod's netns cookie,
 * read only for such a service. The chosen backend's id goes to *backend_id_out. */
static __always_inline enum lb_result lb_select_backend_for(const struct frontend_key *key,
							    void *sock_ctx, __u64 client_id,
							    struct backend_value *out,
							    __u32 *backend_id_out)
{
	for (int attempt = 0; attempt < LB_SELECT_ATTEMPTS; attempt++) {
		struct frontend_value *svc = bpf_map_lookup_elem(&slb_frontends, key);
		struct slot_key slot = {};
		struct slot_value *slot_value;
		__u32 backend_id;

		/* On a retry, the port was removed meanwhile: refused too. */
		if (!svc)
			return LB_NO_PORT;
		if (svc->backend_count == 0)
			return LB_NO_BACKEND;
		struct affinity_key client = { .netns_cookie = client_id, .service_id = svc->service_id };
		__u64 now = 0;

		if (svc->affinity_timeout) {
			if (sock_ctx)
				client.netns_cookie = bpf_get_netns_cookie(sock_ctx);
			now = bpf_ktime_get_ns();
			if (lb_affinity_backend(svc, &client, now, out, backend_id_out))
				return LB_SELECTED;
		}
		slot.service_id = svc->service_id;
		slot.generation = svc->generation;
		slot.slot = lb_random_below(svc->backend_count);
		slot_value = bpf_map_lookup_elem(&slb_slots, &slot);
		if (!slot_value) {
			counter_inc(REASON_SLOT_RETRY);
			continue;
		}
		backend_id = slot_value->backend_id;
		*out = (struct backend_value){ .address = slot_value->address, .port = slot_value->port };
		*backend_id_out = backend_id;
		if (svc->affinity_timeout) {
			struct affinity_value remember = { .last_used_ns = now, .backend_id = backend_id };

			bpf_map_update_elem(&slb_affinity, &client, &remember, BPF_ANY);
		}
		return LB_SELECTED;
	}
	return LB_NO_BACKEND;
}

/* tc: client_id is lb_client_id_of_address() of the packet's source. */
static __always_inline enum lb_result lb_select_backend(const struct frontend_key *key, __u64 client_id,
							struct backend_value *out, __u32 *backend_id_out)
{
	return lb_select_backend_for(key, NULL, client_id, out, backend_id_out);
}

/* At tc the client is known only by its address. Cookies are small counters, so setting the
 * top bit keeps address-derived ids apart from them; an IPv6 address is folded to 64 bits. */
static __always_inline __u64 lb_client_id_of_address(const struct lb_address *a)
{
	return (1ull << 63) | ((__u64)(a->words[0] ^ a->words[2]) << 32) | (a->words[1] ^ a->words[3]);
}

#endif
