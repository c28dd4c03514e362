// SPDX-License-Identifier: GPL-2.0
/* Socket-level service load balancing: cgroup hooks that rewrite a Service VIP:port to one
 * backend when a socket connects or sends, and rewrite the backend back to the VIP where a
 * process can observe the peer (recvmsg, getpeername). Packets carry the backend address from
 * the start, so nothing downstream translates them. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "kernel_sock.h"
#include "lb_common.h"
#include "lb_select.h"
#include "revnat_maps.h"

char LICENSE[] SEC("license") = "GPL";

/* bpf_sock_addr's address fields only allow 4-byte accesses; these copy the caller's address
 * into an lb_address and back. v4 is folded into the v4-mapped form. */
static __always_inline void addr_from_v4(struct lb_address *a, __u32 ip4)
{
	a->words[0] = 0;
	a->words[1] = 0;
	a->words[2] = LB_V4_MAPPED_PREFIX;
	a->words[3] = ip4;
}

static __always_inline void addr_from_ctx(struct lb_address *a, const struct bpf_sock_addr *ctx,
					  bool v6)
{
	if (!v6) {
		addr_from_v4(a, ctx->user_ip4);
		return;
	}
	a->words[0] = ctx->user_ip6[0];
	a->words[1] = ctx->user_ip6[1];
	a->words[2] = ctx->user_ip6[2];
	a->words[3] = ctx->user_ip6[3];
}

static __always_inline bool addr_is_v4_mapped(const struct lb_address *a)
{
	return a->words[0] == 0 && a->words[1] == 0 && a->words[2] == LB_V4_MAPPED_PREFIX;
}

/* Returns false when the address cannot be expressed in the socket's family (an IPv6 backend
 * for a connect4 caller), which the model never programs. */
static __always_inline bool addr_to_ctx(struct bpf_sock_addr *ctx, const struct lb_address *a,
					bool v6)
{
	if (!v6) {
		if (!addr_is_v4_mapped(a))
			return false;
		ctx->user_ip4 = a->words[3];
		return true;
	}
	ctx->user_ip6[0] = a->words[0];
	ctx->user_ip6[1] = a->words[1];
	ctx->user_ip6[2] = a->words[2];
	ctx->user_ip6[3] = a->words[3];
	return true;
}


#ifdef SOCK_POLICY
/* sock_lb_policy.bpf.o (--network-policy): the egress check and the policy maps it reads. */
#include "sock_policy.h"
#else
/* sock_lb.bpf.o: no policy, no lookup: socket mode without it costs what it always did. */
static __always_inline bool sock_egress_allows(struct bpf_sock_addr *ctx, const struct lb_address *peer, __be16 port)
{
	return true;
}
#endif

/* An unconnected UDP socket's reply source -> VIP entry; created entries are remembered in the
 * socket so its sock_release hook can remove them. */
static __always_inline void udp_revnat_record(struct bpf_sock_addr *ctx, const struct frontend_key *vip,
					      const struct backend_value *backend)
{
	struct udp_revnat_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.address = backend->address,
		.port = backend->port,
	};
	struct revnat_value value = { .address = vip->address, .port = vip->port };
	struct revnat_value *known = bpf_map_lookup_elem(&slb_udp_revnat, &key);

	if (known) {
		/* An unconnected socket sends every datagram through here; rewriting an unchanged
		 * entry would cost an LRU update (an allocation and a lock) per datagram. The lookup
		 * also marks the entry used, so a busy socket's entry is not evicted. */
		if (known->port == value.port && lb_address_equal(&known->address, &value.address))
			return;
		if (bpf_map_update_elem(&slb_udp_revnat, &key, &value, BPF_EXIST) == 0)
			return;
	}
	if (bpf_map_update_elem(&slb_udp_revnat, &key, &value, BPF_NOEXIST) != 0) {
		/* Another CPU sending on the same socket created it since our lookup. */
		bpf_map_update_elem(&slb_udp_revnat, &key, &value, BPF_ANY);
		return;
	}
	counter_inc(REASON_UDP_REVNAT_CREATED);

	struct udp_sock_keys *keys = bpf_sk_storage_get(&slb_udp_sock_keys, ctx->sk, 0,
							BPF_SK_STORAGE_GET_F_CREATE);
	if (!keys) {
		counter_inc(REASON_UDP_REVNAT_UNTRACKED);
		return;
	}
	__u32 known_keys = keys->count;

	/* An entry of this socket that was evicted and is created again is remembered already. */
	for (__u32 i = 0; i < UDP_SOCK_KEYS_MAX && i < known_keys; i++) {
		if (keys->peers[i].port == key.port && lb_address_equal(&keys->peers[i].address, &key.address))
			return;
	}
	/* Claimed atomically: two CPUs sending on one socket never take the same slot. */
	__u32 slot = __sync_fetch_and_add(&keys->count, 1);

	if (slot >= UDP_SOCK_KEYS_MAX) {
		counter_inc(REASON_UDP_REVNAT_UNTRACKED);
		return;
	}
	keys->peers[slot].address = key.address;
	keys->peers[slot].port = key.port;
}

/* Whether a sock_addr program's socket can have a record: every record is written under the
 * socket's cookie, so a TCP socket nothing ever asked the cookie of (one connected straight to
 * a pod) has none. A TCP socket's cookie is read in place through bpf_skc_to_tcp_sock(), since
 * bpf_get_socket_cookie() would make one; other sockets are looked up (a slot read, and for
 * UDP the reverse map, as their replies need). */
static __always_inline bool ctx_may_have_record(const struct bpf_sock_addr *ctx)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(ctx->sk);

	return !tp || tp->inet_conn.icsk_inet.sk.__sk_common.skc_cookie.counter != 0;
}

/* A socket with one peer: its record in its slot of slb_revnat_sk, which costs no allocation
 * and no lock; in its own storage only when another live socket holds that slot. */
static __always_inline void sock_revnat_record(struct bpf_sock_addr *ctx, const struct frontend_key *vip,
					       const struct backend_value *backend)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct sock_revnat rec = {
		.vip = vip->address,
		.backend = backend->address,
		.vip_port = vip->port,
		.backend_port = backend->port,
	};
	struct sock_revnat_slot *slot = revnat_sk_slot(cookie);

	/* A socket connecting again (UDP) already holds its slot. */
	if (slot && (slot->cookie == cookie || __sync_val_compare_and_swap(&slot->cookie, 0, cookie) == 0)) {
		slot->rec = rec;
		return;
	}
	counter_inc(REASON_SOCK_REVNAT_FALLBACK);
	struct sock_revnat *storage = bpf_sk_storage_get(&slb_sock_revnat, ctx->sk, 0,
							 BPF_SK_STORAGE_GET_F_CREATE);
	if (storage)
		*storage = rec;
}

/* Remembers where a translated socket really goes so replies and getpeername show the VIP: a
 * socket with one peer (TCP, or UDP at connect()) by its cookie, an unconnected UDP socket per
 * backend in the LRU map. */
static __always_inline void revnat_record(struct bpf_sock_addr *ctx, const struct frontend_key *vip,
					  const struct backend_value *backend, bool connecting)
{
	if (ctx->protocol == IPPROTO_UDP && !connecting)
		udp_revnat_record(ctx, vip, backend);
	else
		sock_revnat_record(ctx, vip, backend);
}

/* A UDP socket connected through a VIP earlier and now straight to an address: its old record
 * must neither translate its replies nor make it a socket to destroy. A fresh socket has none
 * to forget, so its connect stays one lookup. */
static __always_inline void sock_revnat_forget(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	__u64 cookie;

	if (!sk || !ctx_may_have_record(ctx))
		return;
	cookie = bpf_get_socket_cookie(ctx);
	revnat_sk_release(cookie);
	bpf_sk_storage_delete(&slb_sock_revnat, sk);
}

/* Fails the syscall at once with err: a client learns at once that it gets no connection,
 * it never hangs. */
static __always_inline int sock_fail(enum slb_reason reason, int err)
{
	counter_inc(reason);
	bpf_set_retval(-err);
	return SYSCALL_REJECT;
}

/* ECONNREFUSED, as kube-proxy's REJECT rules make it fail: nothing serves the address. */
static __always_inline int sock_refuse(enum slb_reason reason)
{
	return sock_fail(reason, ECONNREFUSED);
}

/* EPERM, "operation not permitted", what a cgroup hook's refusal means by default: a client
 * tells a policy's denial from a service without backends (ECONNREFUSED). */
static __always_inline int sock_deny_egress(void)
{
	return sock_fail(REASON_POLICY_REFUSED_EGRESS, EPERM);
}

/* connect and sendmsg to an address that is no service's: it goes where it was sent. */
static __always_inline int sock_pass(struct bpf_sock_addr *ctx, const struct frontend_key *key, bool connecting)
{
	if (!sock_egress_allows(ctx, &key->address, key->port))
		return sock_deny_egress();
	if (connecting && ctx->protocol == IPPROTO_UDP)
		sock_revnat_forget(ctx);
	return SYSCALL_PROCEED;
}

/* connect and sendmsg: VIP -> backend. */
static __always_inline int sock_xlate_fwd(struct bpf_sock_addr *ctx, bool v6, bool connecting)
{
	struct frontend_key key = {};
	struct backend_value backend;
	__u32 backend_id;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return SYSCALL_PROCEED;
	addr_from_ctx(&key.address, ctx, v6);
	key.port = (__be16)ctx->user_port;
	key.protocol = ctx->protocol;
	if (!lb_may_be_service(&key.address))
		return sock_pass(ctx, &key, connecting);

	/* The client of a service with session affinity is its pod, named by its netns cookie. */
	enum lb_result result = lb_select_backend_for(&key, ctx, 0, &backend, &backend_id);

	if (result == LB_NO_PORT && !lb_refuses_other_ports(&key.address))
		return sock_pass(ctx, &key, connecting);
	switch (result) {
	case LB_SELECTED:
		/* Judged on the backend, the address the packets will carry, as tc judges them. */
		if (!sock_egress_allows(ctx, &backend.address, backend.port))
			return sock_deny_egress();
		if (!addr_to_ctx(ctx, &backend.address, v6))
			break;
		ctx->user_port = backend.port;
		revnat_record(ctx, &key, &backend, connecting);
		counter_inc(REASON_TRANSLATED);
		return SYSCALL_PROCEED;
	case LB_NO_PORT:
		return sock_refuse(REASON_PORT_REFUSED);
	case LB_NO_BACKEND:
		break;
	}
	return sock_refuse(REASON_NO_BACKEND);
}

static __always_inline void revnat_rewrite(struct bpf_sock_addr *ctx, const struct lb_address *vip,
					   __be16 vip_port, bool v6)
{
	if (addr_to_ctx(ctx, vip, v6)) {
		ctx->user_port = vip_port;
		counter_inc(REASON_REVNAT);
	}
}

/* The record's VIP for a peer that is the record's backend. */
static __always_inline bool revnat_from_record(struct bpf_sock_addr *ctx, const struct sock_revnat *rec,
					       const struct lb_address *peer, __be16 peer_port, bool v6)
{
	if (!rec || rec->backend_port != peer_port || !lb_address_equal(&rec->backend, peer))
		return false;
	revnat_rewrite(ctx, &rec->vip, rec->vip_port, v6);
	return true;
}

/* recvmsg and getpeername: backend -> VIP, only for sockets this program translated. */
static __always_inline int sock_xlate_rev(struct bpf_sock_addr *ctx, bool v6)
{
	struct lb_address peer;
	__be16 peer_port = (__be16)ctx->user_port;

	addr_from_ctx(&peer, ctx, v6);
	/* Socket storage first: a pointer read for a socket without any (a record there was
	 * written when another socket held its slot, or by a socklb from before slb_revnat_sk). */
	if (revnat_from_record(ctx, bpf_sk_storage_get(&slb_sock_revnat, ctx->sk, 0, 0), &peer, peer_port, v6))
		return SYSCALL_PROCEED;
	/* A socket connected straight to a backend's address has no record: its real peer stays. */
	if (!ctx_may_have_record(ctx))
		return SYSCALL_PROCEED;
	__u64 cookie = bpf_get_socket_cookie(ctx);

	/* The socket's own peer: it cannot have been evicted. */
	if (revnat_from_record(ctx, revnat_sk_lookup(cookie), &peer, peer_port, v6))
		return SYSCALL_PROCEED;
	if (ctx->protocol != IPPROTO_UDP)
		return SYSCALL_PROCEED;
	struct udp_revnat_key key = {
		.cookie = cookie,
		.address = peer,
		.port = peer_port,
	};
	struct revnat_value *vip = bpf_map_lookup_elem(&slb_udp_revnat, &key);

	if (vip)
		revnat_rewrite(ctx, &vip->address, vip->port, v6);
	return SYSCALL_PROCEED;
}

/* A closing socket frees its slot, and an unconnected UDP socket takes the reverse entries it
 * remembered along. Every socket asks (a connect that failed after the hook, or a disconnect,
 * leaves no peer that would tell): a slot left claimed would send every socket that maps to it
 * to socket storage. */
SEC("cgroup/sock_release")
int slb_sock_release(struct bpf_sock *sk)
{
	if (sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP)
		return SYSCALL_PROCEED;
	/* Making a cookie for a socket that had none is cheaper than reading it in place with a
	 * probe read, and its slot is then warm: cookies come in order, so are their slots. */
	__u64 cookie = bpf_get_socket_cookie(sk);

	revnat_sk_release(cookie);
	if (sk->protocol != IPPROTO_UDP)
		return SYSCALL_PROCEED;
	struct udp_sock_keys *keys = bpf_sk_storage_get(&slb_udp_sock_keys, sk, 0, 0);

	if (!keys)
		return SYSCALL_PROCEED;
	struct udp_revnat_key key = { .cookie = cookie };
	__u32 count = keys->count;

	for (__u32 i = 0; i < UDP_SOCK_KEYS_MAX && i < count; i++) {
		key.address = keys->peers[i].address;
		key.port = keys->peers[i].port;
		if (bpf_map_delete_elem(&slb_udp_revnat, &key) == 0)
			counter_inc(REASON_UDP_REVNAT_REMOVED);
	}
	return SYSCALL_PROCEED;
}

SEC("cgroup/connect4")
int slb_connect4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, false, true);
}

SEC("cgroup/connect6")
int slb_connect6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, true, true);
}

SEC("cgroup/sendmsg4")
int slb_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, false, false);
}

SEC("cgroup/sendmsg6")
int slb_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, true, false);
}

SEC("cgroup/recvmsg4")
int slb_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, false);
}

SEC("cgroup/recvmsg6")
int slb_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, true);
}

SEC("cgroup/getpeername4")
int slb_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, false);
}

SEC("cgroup/getpeername6")
int slb_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, true);
}
