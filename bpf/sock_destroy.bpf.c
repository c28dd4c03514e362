// SPDX-License-Identifier: GPL-2.0
/* Destroys connected UDP sockets whose backend left their service. A connected UDP socket
 * picked its backend once, at connect(), and would keep sending to it for good: to a pod that
 * is gone, or to one that still answers but is no longer the service's. User space lists the
 * (VIP, backend) pairs that left in slb_udp_departed and runs this iterator in each pod's
 * network namespace; a socket socklb connected through such a pair is destroyed
 * (bpf_sock_destroy: its next recv fails with ECONNABORTED, its next send with
 * EDESTADDRREQ), and the client's reconnect goes through the connect hook again. Sockets
 * socklb did not translate have no record (slb_revnat_sk, or slb_sock_revnat where that map was
 * full) and are never touched. Kept apart
 * from sock_lb.bpf.c so a kernel without the kfunc still gets the socket hooks. */
#include <linux/bpf.h>
#include <linux/socket.h>
#include <bpf/bpf_helpers.h>
#include "kernel_sock.h"
#include "counters_map.h"
#include "udp_departed_map.h"

char LICENSE[] SEC("license") = "GPL";

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

#ifndef AF_INET
#define AF_INET 2
#endif

/* The socket is still connected to the backend its record names (not reconnected elsewhere). */
static __always_inline bool connected_to(const struct sock *sk, const struct sock_revnat *rec)
{
	const struct sock_common *c = &sk->__sk_common;
	struct lb_address peer = {};

	if (c->skc_state != SOCKLB_SK_CONNECTED || c->skc_dport != rec->backend_port)
		return false;
	/* Read into the stack first: comparing in place lets the compiler share one load between
	 * the socket and the record, which the verifier refuses. */
	if (c->skc_family == AF_INET) {
		peer.words[2] = LB_V4_MAPPED_PREFIX;
		peer.words[3] = c->skc_daddr;
	} else {
		__builtin_memcpy(&peer, &c->skc_v6_daddr, sizeof(peer));
	}
	return peer.words[0] == rec->backend.words[0] && peer.words[1] == rec->backend.words[1] &&
	       peer.words[2] == rec->backend.words[2] && peer.words[3] == rec->backend.words[3];
}

/* Writes the destroyed socket's cookie, so user space counts what one pass did. */
SEC("iter/udp")
int slb_udp_destroy(struct bpf_iter__udp *ctx)
{
	struct sock *sk = (struct sock *)ctx->udp_sk;
	struct sock_revnat rec;

	if (!sk)
		return 0;
	/* A socket nothing asked the cookie of has no record under one; reading the cookie in
	 * place, rather than with bpf_get_socket_cookie(), gives none to the sockets of the pass. */
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	struct sock_revnat *stored = cookie ? revnat_sk_lookup(cookie) : NULL;

	if (!stored)
		stored = bpf_sk_storage_get(&slb_sock_revnat, sk, 0, 0);
	if (!stored)
		return 0;
	rec = *stored;
	if (!bpf_map_lookup_elem(&slb_udp_departed, &rec) || !connected_to(sk, &rec))
		return 0;
	if (bpf_sock_destroy((struct sock_common *)sk) != 0)
		return 0;
	counter_inc(REASON_UDP_SOCK_DESTROYED);

	bpf_seq_write(ctx->meta->seq, &cookie, sizeof(cookie));
	return 0;
}
