/* NetworkPolicy as the tc programs and socket hooks look it up: the tables the policy
 * compiler (src/model/policy/policy-compiler.ts) fills, one lookup sequence whatever the
 * number of policies (policy_verdict.h). Keys are byte for byte what src/model/policy/
 * policy-keys.ts builds: every field big-endian, so an LPM prefix over a port is a prefix of
 * its high bits. Mirrored by src/datapath/policy-maps.ts, checked against BTF. */
#ifndef SOCKLB_POLICY_MAPS_H
#define SOCKLB_POLICY_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_common.h"

/* Reserved peer identities (Cilium's numbers): the endpoint's own node, and any address that is
 * no pod's and not the node's (an ipcache miss). */
#define POL_IDENTITY_HOST 1
#define POL_IDENTITY_WORLD 2
/* The subject of a CIDR class's port entries: a class is one port set for every endpoint. */
#define POL_CLASS_SUBJECT 0
#define POL_CIDR_CLASS_NONE 0

enum pol_direction {
	POL_INGRESS = 0,
	POL_EGRESS = 1,
};

/* Endpoint flags. */
#define POL_ENDPOINT_INGRESS_ISOLATED 1
#define POL_ENDPOINT_EGRESS_ISOLATED 2
#define POL_ENDPOINT_HOST_IS_OWN_NODE 4

/* slb_pol_endpoints: a local pod's address → its identity and isolation. */
struct pol_endpoint {
	__u32 identity;
	__u32 flags;
};

/* slb_pol_ipcache: an address → the identity of the pod (or node) that holds it. */
struct pol_ipcache_entry {
	__u32 identity;
};

/* slb_pol_policy (LPM): (subject identity, peer identity or CIDR class, direction, protocol,
 * port) → allowed. A prefix always covers subject..direction; protocol-only rules leave the
 * protocol and port free (prefix 72), port-free rules the port (80), ranges the port's low bits. */
struct pol_policy_key {
	__u32 prefixlen;
	__be32 subject;
	__be32 peer;
	__u8 direction;
	__u8 protocol;
	__be16 port;
};

struct pol_policy_value {
	__u32 allowed; /* always 1: an entry that exists allows */
};

/* slb_pol_cidr (LPM): (subject identity, direction, peer address) → CIDR class; the class's
 * port entries are in slb_pol_policy under POL_CLASS_SUBJECT. The address is 16 bytes, IPv4
 * v4-mapped; the prefix covers subject and direction (40 bits) then the address prefix. */
struct pol_cidr_key {
	__u32 prefixlen;
	__be32 subject;
	__u8 direction;
	__u8 address[16];
	__u8 pad[3];
};

struct pol_cidr_value {
	__u32 cidr_class;
};

#ifndef POL_ENDPOINTS_MAX
#define POL_ENDPOINTS_MAX 16384
#endif
#ifndef POL_IPCACHE_MAX
#define POL_IPCACHE_MAX 262144
#endif
#ifndef POL_POLICY_MAX
#define POL_POLICY_MAX 262144
#endif
#ifndef POL_CIDR_MAX
#define POL_CIDR_MAX 65536
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, POL_ENDPOINTS_MAX);
	__type(key, struct lb_address);
	__type(value, struct pol_endpoint);
} slb_pol_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, POL_IPCACHE_MAX);
	__type(key, struct lb_address);
	__type(value, struct pol_ipcache_entry);
} slb_pol_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, POL_POLICY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pol_policy_key);
	__type(value, struct pol_policy_value);
} slb_pol_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, POL_CIDR_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pol_cidr_key);
	__type(value, struct pol_cidr_value);
} slb_pol_cidr SEC(".maps");

#endif
