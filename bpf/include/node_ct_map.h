/* The lightweight conntrack of north-south flows: connections from outside the node to a
 * NodePort, externalIP or load-balancer IP, translated by the node's device programs
 * (tc_node.bpf.c). Only these flows have entries here: pods' and the node's own connections to
 * services are translated at their sockets and never tracked. An LRU map, entries of the
 * generic conntrack (ct_map.h: state, expiry, verdict, NAT data) followed by what a source NAT
 * needs, two per flow:
 *  - CT_DIR_FORWARD, keyed by the tuple the client sent (client -> frontend): nat is the
 *    backend (CT_F_DNAT); with CT_F_SNAT also snat, the node's address and port the packets
 *    leave from and the device they leave by (a backend on another node, whose replies must
 *    come back through this one);
 *  - CT_DIR_REPLY, keyed by the tuple the backend's replies carry (backend -> client, or
 *    backend -> the node's address and port): nat is the frontend they answer for
 *    (CT_F_REVNAT); with CT_F_REV_SNAT also snat, the client they go back to and the device
 *    it reached us by. */
#ifndef SOCKLB_NODE_CT_MAP_H
#define SOCKLB_NODE_CT_MAP_H

#include "btf_export.h"
#include "ct_map.h"

/* Entries in slb_node_ct (two per flow). */
#ifndef NODE_CT_MAX
#define NODE_CT_MAX 131072
#endif

/* The source ports a source NAT takes on the node's address: above Linux's default ephemeral
 * range (net.ipv4.ip_local_port_range 32768-60999), so the node's own connections and the
 * translated ones never share a tuple. The agent warns when the node's range reaches in. */
#ifndef NODE_SNAT_PORT_MIN
#define NODE_SNAT_PORT_MIN 61000
#endif
#ifndef NODE_SNAT_PORT_MAX
#define NODE_SNAT_PORT_MAX 65535
#endif

/* The other end of a source NAT: FORWARD, the node's address and port and the device the flow
 * leaves by; REPLY, the client and the device it is reached by. */
struct node_snat {
	struct lb_address address;
	__be16 port;
	__u16 pad;
	__u32 ifindex;
};

struct node_ct_entry {
	struct ct_entry ct;
	struct node_snat snat; /* set when ct.verdict has CT_F_SNAT or CT_F_REV_SNAT */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NODE_CT_MAX);
	__type(key, struct ct_key);
	__type(value, struct node_ct_entry);
} slb_node_ct SEC(".maps");

#endif
