/* The few kernel-internal types the socket iterator and the socket hooks read. They are not UAPI, so they are
 * declared here with preserve_access_index: libbpf relocates every field access against the
 * running kernel's BTF (CO-RE), and only the fields named here need to exist there. */
#ifndef SOCKLB_KERNEL_SOCK_H
#define SOCKLB_KERNEL_SOCK_H

#include <linux/types.h>
#include <linux/in6.h>

#define CORE_TYPE __attribute__((preserve_access_index))

/* include/net/sock.h; the kernel nests these in anonymous unions, which CO-RE looks through. */
struct sock_common {
	struct {
		__s64 counter;
	} skc_cookie; /* atomic64_t: 0 until something asks for the socket's cookie */
	__be32 skc_daddr;
	__be16 skc_dport;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
} CORE_TYPE;

struct sock {
	struct sock_common __sk_common;
} CORE_TYPE;

/* What bpf_skc_to_tcp_sock() returns: a pointer whose fields a program reads directly. */
struct inet_sock {
	struct sock sk;
} CORE_TYPE;

struct inet_connection_sock {
	struct inet_sock icsk_inet;
} CORE_TYPE;

struct tcp_sock {
	struct inet_connection_sock inet_conn;
} CORE_TYPE;

struct udp_sock;
struct seq_file;

/* include/linux/bpf.h and net/ipv4/udp.c: what an iter/udp program is called with. */
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} CORE_TYPE;

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
	__u32 uid;
	int bucket;
} CORE_TYPE;

/* TCP_ESTABLISHED: also what a connected UDP socket's state is. */
#define SOCKLB_SK_CONNECTED 1

#endif
