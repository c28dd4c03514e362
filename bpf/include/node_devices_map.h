/* The node's external devices the node programs are on (tc_node.bpf.c), by ifindex, with the
 * addresses a source NAT leaves from on each: a packet routed out of one of them goes to another
 * node, so a north-south flow to a backend there is source-NATed to this node (as kube-proxy
 * masquerades it) and its replies come back here. User space writes an entry when it attaches
 * the programs to a device, and again when the device's addresses change. */
#ifndef SOCKLB_NODE_DEVICES_MAP_H
#define SOCKLB_NODE_DEVICES_MAP_H

#include "btf_export.h"
#include "lb_common.h"

#define NODE_DEVICES_MAX 64

enum node_device_flags {
	NODE_DEV_F_IPV4 = 1 << 0, /* ipv4 holds the device's IPv4 address */
	NODE_DEV_F_IPV6 = 1 << 1, /* ipv6 holds its global IPv6 address */
};

struct node_device {
	struct lb_address ipv4; /* v4-mapped */
	struct lb_address ipv6;
	__u32 flags;            /* enum node_device_flags */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NODE_DEVICES_MAX);
	__type(key, __u32);
	__type(value, struct node_device);
} slb_node_devices SEC(".maps");

BTF_EXPORT(enum node_device_flags, node_device_flags)

#endif
