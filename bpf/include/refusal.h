/* Conntrack mode's answer to a packet for a service address on a port no service has: what a
 * host with nothing on that port sends, from the service address, so the client fails at once
 * instead of retrying into a blackhole (kube-proxy's nftables mode rejects these too):
 *  - TCP: a reset (RFC 9293 3.10.7.1): RST with SEQ = the segment's ACK if it had one, else
 *    RST|ACK acknowledging the segment; a reset is never answered;
 *  - UDP: ICMP destination unreachable, port unreachable (RFC 792; ICMPv6 type 1 code 4,
 *    RFC 4443) quoting the packet's IP header and the first 8 bytes after it, which is what
 *    the client's kernel needs to find the socket.
 * The packet itself becomes its answer: every header is built on the stack from what was read,
 * stored over the packet, the packet cut or grown to the answer's length, and sent back out of
 * the interface it came in on; on a pod's host-side veth that delivers it to the pod. An answer
 * only ever goes back where its packet came from, so a forged source address reflects nothing
 * to anyone else. */
#ifndef SOCKLB_REFUSAL_H
#define SOCKLB_REFUSAL_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include "packet.h"
#include "tc_drop.h"

#define REFUSAL_TTL 64
#define IP_DF 0x4000
/* How much of the refused packet beyond its IP header an ICMP error quotes (RFC 792). */
#define ICMP_QUOTE_L4 8
#define ICMP_QUOTE_MAX (IPV4_HDR_MAX + ICMP_QUOTE_L4)

/* ICMP's and ICMPv6's error header, which share one layout (defined here: linux/icmp.h pulls
 * in libc's headers, which a BPF build cannot use). */
struct icmp_error {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 unused;
};

#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PORT_UNREACH 4

/* The answer's headers, built before anything in the packet is overwritten. */
struct refusal {
	__u8 macs[2 * ETH_ALEN]; /* destination, source: the packet's own, swapped */
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	} ip;
	union {
		struct tcphdr tcp;
		struct icmp_error icmp;
	} l4;
	__u8 quote[ICMP_QUOTE_MAX];
};

/* The ones' complement sum bpf_csum_diff accumulates, folded into a checksum field's value. */
static __always_inline __u16 csum_fold_sum(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* The pseudo-header's sum for an answer from p's destination to p's source. IPv4's protocol
 * and length words and IPv6's 32-bit length and next header sum to the same two words as long
 * as the length fits in 16 bits, so one tail serves both. Negative on a helper error. */
static __always_inline __s64 refusal_pseudo_sum(const struct packet *p, __u8 protocol, __u16 l4_len)
{
	struct {
		__u8 zero;
		__u8 protocol;
		__be16 length;
	} tail = { .protocol = protocol, .length = bpf_htons(l4_len) };
	__s64 sum;

	if (p->v6) {
		sum = bpf_csum_diff(NULL, 0, (__be32 *)p->dst.words, sizeof(p->dst), 0);
		if (sum >= 0)
			sum = bpf_csum_diff(NULL, 0, (__be32 *)p->src.words, sizeof(p->src), sum);
	} else {
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&p->dst.words[3], sizeof(__be32), 0);
		if (sum >= 0)
			sum = bpf_csum_diff(NULL, 0, (__be32 *)&p->src.words[3], sizeof(__be32), sum);
	}
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&tail, sizeof(tail), sum);
	return sum;
}

/* The answer's IP header, from the service address back to the sender; its length, 0 on error. */
static __always_inline __u32 refusal_ip(struct refusal *r, const struct packet *p, __u8 protocol, __u16 l4_len)
{
	if (p->v6) {
		r->ip.v6.version = 6;
		r->ip.v6.payload_len = bpf_htons(l4_len);
		r->ip.v6.nexthdr = protocol;
		r->ip.v6.hop_limit = REFUSAL_TTL;
		__builtin_memcpy(&r->ip.v6.saddr, &p->dst, sizeof(p->dst));
		__builtin_memcpy(&r->ip.v6.daddr, &p->src, sizeof(p->src));
		return sizeof(r->ip.v6);
	}
	r->ip.v4.version = 4;
	r->ip.v4.ihl = sizeof(r->ip.v4) / 4;
	r->ip.v4.tot_len = bpf_htons(sizeof(r->ip.v4) + l4_len);
	r->ip.v4.frag_off = bpf_htons(IP_DF);
	r->ip.v4.ttl = REFUSAL_TTL;
	r->ip.v4.protocol = protocol;
	r->ip.v4.saddr = p->dst.words[3];
	r->ip.v4.daddr = p->src.words[3];
	__s64 sum = bpf_csum_diff(NULL, 0, (__be32 *)&r->ip.v4, sizeof(r->ip.v4), 0);

	if (sum < 0)
		return 0;
	r->ip.v4.check = csum_fold_sum(sum);
	return sizeof(r->ip.v4);
}

/* The reset for a TCP segment that is no reset, in r; false if the segment cannot be read. */
static __always_inline bool refusal_tcp(struct __sk_buff *skb, const struct packet *p, struct refusal *r)
{
	struct tcphdr in;
	__u32 seg_len;

	if (bpf_skb_load_bytes(skb, p->l4_off, &in, sizeof(in)) || p->l4_len < in.doff * 4)
		return false;
	/* What the segment occupies in sequence space: its data, and one each for SYN and FIN. */
	seg_len = p->l4_len - in.doff * 4 + in.syn + in.fin;
	r->l4.tcp.source = in.dest;
	r->l4.tcp.dest = in.source;
	r->l4.tcp.doff = sizeof(r->l4.tcp) / 4;
	r->l4.tcp.rst = 1;
	if (in.ack) {
		r->l4.tcp.seq = in.ack_seq;
	} else {
		r->l4.tcp.ack = 1;
		r->l4.tcp.ack_seq = bpf_htonl(bpf_ntohl(in.seq) + seg_len);
	}
	__s64 sum = refusal_pseudo_sum(p, IPPROTO_TCP, sizeof(r->l4.tcp));

	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&r->l4.tcp, sizeof(r->l4.tcp), sum);
	if (sum < 0)
		return false;
	r->l4.tcp.check = csum_fold_sum(sum);
	return true;
}

/* The port unreachable for a UDP datagram, in r; the quote's length, 0 if it cannot be built. */
static __always_inline __u32 refusal_udp(struct __sk_buff *skb, const struct packet *p, struct refusal *r)
{
	__u32 quote_len = p->l4_off - ETH_HLEN + ICMP_QUOTE_L4;
	__s64 sum = 0;

	/* An IP header is 20 to 60 bytes (IPv6's 40), in 4-byte words, as bpf_csum_diff needs. */
	if (quote_len < sizeof(struct iphdr) + ICMP_QUOTE_L4 || quote_len > ICMP_QUOTE_MAX)
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, r->quote, quote_len))
		return 0;
	if (p->v6) {
		/* Unlike ICMP's, ICMPv6's checksum covers a pseudo-header. */
		r->l4.icmp.type = ICMPV6_DEST_UNREACH;
		r->l4.icmp.code = ICMPV6_PORT_UNREACH;
		sum = refusal_pseudo_sum(p, IPPROTO_ICMPV6, sizeof(r->l4.icmp) + quote_len);
	} else {
		r->l4.icmp.type = ICMP_DEST_UNREACH;
		r->l4.icmp.code = ICMP_PORT_UNREACH;
	}
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&r->l4.icmp, sizeof(r->l4.icmp), sum);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)r->quote, quote_len, sum);
	if (sum < 0)
		return 0;
	r->l4.icmp.checksum = csum_fold_sum(sum);
	return quote_len;
}

/* Turns p's packet into its refusal and sends it back; drops it when there is nothing to send
 * (a reset is not answered) or the answer cannot be built, counting which. */
static __always_inline int refuse_packet(struct __sk_buff *skb, const struct packet *p)
{
	struct refusal r = {};
	bool tcp = p->protocol == IPPROTO_TCP;
	__u32 quote_len = 0;
	__u32 l4_len;
	__u32 ip_len;

	if (tcp && (p->tcp_flags & PKT_TCP_RST))
		return tc_drop(REASON_REFUSAL_NOT_SENT);
	if (bpf_skb_load_bytes(skb, 0, r.macs + ETH_ALEN, ETH_ALEN) ||
	    bpf_skb_load_bytes(skb, ETH_ALEN, r.macs, ETH_ALEN))
		return tc_drop(REASON_REFUSAL_FAILED);
	if (tcp) {
		if (!refusal_tcp(skb, p, &r))
			return tc_drop(REASON_REFUSAL_FAILED);
		l4_len = sizeof(r.l4.tcp);
	} else {
		quote_len = refusal_udp(skb, p, &r);
		if (!quote_len)
			return tc_drop(REASON_REFUSAL_FAILED);
		l4_len = sizeof(r.l4.icmp) + quote_len;
	}
	ip_len = refusal_ip(&r, p, tcp ? IPPROTO_TCP : (p->v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP), l4_len);
	if (!ip_len)
		return tc_drop(REASON_REFUSAL_FAILED);
	/* Everything is read: now the packet may be cut (a TCP segment's options and data go) or
	 * grown (a short datagram is smaller than the ICMP error quoting it). */
	if (bpf_skb_change_tail(skb, ETH_HLEN + ip_len + l4_len, 0))
		return tc_drop(REASON_REFUSAL_FAILED);
	if (bpf_skb_store_bytes(skb, 0, r.macs, sizeof(r.macs), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &r.ip, ip_len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + ip_len, &r.l4, tcp ? sizeof(r.l4.tcp) : sizeof(r.l4.icmp), 0))
		return tc_drop(REASON_REFUSAL_FAILED);
	if (!tcp && bpf_skb_store_bytes(skb, ETH_HLEN + ip_len + sizeof(r.l4.icmp), r.quote, quote_len, 0))
		return tc_drop(REASON_REFUSAL_FAILED);
	/* The answer is another flow than the packet was: its hash must not steer it. */
	bpf_set_hash_invalid(skb);
	return bpf_redirect(skb->ifindex, 0);
}

#endif
