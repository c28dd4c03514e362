/* Known service addresses: every cluster IP with at least one frontend, whatever its ports.
 * The socket and tc programs look here first, so traffic to an address that is no service
 * costs this one lookup; an address found here whose port and protocol no frontend has is
 * refused (kube-proxy's nftables mode rejects these too), where without this map it would
 * leave untranslated and hang or reach whatever holds the address. User space writes an
 * address before its first frontend goes live and deletes it after its last one is gone. */
#ifndef SOCKLB_VIPS_MAP_H
#define SOCKLB_VIPS_MAP_H

#include "lb_common.h"
#include "frontends_map.h"

/* Each address has at least one frontend, so there are never more addresses than frontends. */
#define VIPS_MAX FRONTENDS_MAX

/* No cluster IP frontend is on the address, only north-south ones (a node's address with
 * NodePorts, an externalIP): the address is not the services', so its other ports pass (to
 * whatever holds it, the node's kubelet say) instead of being refused. */
#define VIP_F_OTHER_PORTS_PASS 1

/* What the programs know about a service address beyond its existence. */
struct vip_value {
	__u32 flags; /* VIP_F_* */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIPS_MAX);
	__type(key, struct lb_address);
	__type(value, struct vip_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} slb_vips SEC(".maps");

#endif
