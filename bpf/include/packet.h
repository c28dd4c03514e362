/* Reading a packet's addresses and ports at tc, and rewriting them with the checksum fixes
 * NAT needs. IPv4 (with options) and IPv6 (without extension headers) carrying TCP or UDP;
 * everything else, and IPv4 fragments, is left alone. Addresses use lb_address (IPv4 in the
 * v4-mapped form) so the load-balancing maps serve both.
 * Headers are read and written in place (direct packet access: skb->data .. skb->data_end),
 * as the tc datapaths socklb is compared with do; only where a header is not in the skb's
 * linear part is that part pulled in (bpf_skb_pull_data). The TCP/UDP checksum is fixed by
 * the kernel's helper, the one place that knows whether the field holds a full checksum or,
 * for a locally sent packet whose checksum is still to be computed (CHECKSUM_PARTIAL), only
 * the pseudo-header's. */
#ifndef SOCKLB_PACKET_H
#define SOCKLB_PACKET_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <stddef.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "lb_common.h"

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_ACK 0x10

#define IP_FRAGMENT_BITS 0x3fff /* MF and the fragment offset */
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define TCP_FLAGS_OFF 13
#define IPV4_HDR_MAX 60

struct packet {
	struct lb_address src;
	struct lb_address dst;
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 tcp_flags;
	bool v6;
	__u32 l4_off;
	__u16 l4_len; /* bytes from the TCP/UDP header to the end of the IP packet, as its header says */
};

/* What packet_parse found. Only PACKET_OK fills p. */
enum packet_kind {
	PACKET_OK,       /* unfragmented TCP or UDP over IPv4/IPv6 */
	PACKET_OTHER,    /* another protocol (ARP, ICMP, IPv6 extension headers ...): not socklb's */
	PACKET_FRAGMENT, /* an IPv4 fragment */
	PACKET_INVALID,  /* IPv4/IPv6 whose headers cannot be read */
};

/* The packet's first len bytes, in the skb's linear part (pulled in when they are not there
 * yet), and in *end where that part ends; NULL when the packet is shorter. Every call may move
 * the data: pointers taken before it are stale after it. */
static __always_inline void *packet_head(struct __sk_buff *skb, __u32 len, void **end)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (data + len > data_end) {
		if (len > skb->len || bpf_skb_pull_data(skb, len))
			return NULL;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (data + len > data_end)
			return NULL;
	}
	*end = data_end;
	return data;
}

/* Ports (and TCP's flags byte) of the TCP/UDP header at l4_off; false if the packet ends before them. */
static __always_inline bool packet_parse_l4(struct __sk_buff *skb, struct packet *p)
{
	__u32 need = p->l4_off + (p->protocol == IPPROTO_TCP ? TCP_FLAGS_OFF + 1 : 2 * sizeof(__be16));
	void *data, *end;
	__be16 *ports;

	/* l4_off is at most ETH_HLEN + 60: the bound lets the verifier check the reads below. */
	if (p->l4_off > ETH_HLEN + IPV4_HDR_MAX)
		return false;
	data = packet_head(skb, need, &end);
	if (!data)
		return false;
	ports = data + p->l4_off;
	if ((void *)(ports + 2) > end)
		return false;
	p->sport = ports[0];
	p->dport = ports[1];
	p->tcp_flags = 0;
	if (p->protocol == IPPROTO_TCP) {
		__u8 *flags = (__u8 *)ports + TCP_FLAGS_OFF;

		if ((void *)(flags + 1) > end)
			return false;
		p->tcp_flags = *flags;
	}
	return true;
}

static __always_inline enum packet_kind packet_parse(struct __sk_buff *skb, struct packet *p)
{
	void *data, *end;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip;

		data = packet_head(skb, ETH_HLEN + sizeof(*ip), &end);
		if (!data)
			return PACKET_INVALID;
		ip = data + ETH_HLEN;
		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return PACKET_INVALID;
		if (ip->frag_off & bpf_htons(IP_FRAGMENT_BITS))
			return PACKET_FRAGMENT;
		p->v6 = false;
		p->protocol = ip->protocol;
		p->src.words[0] = 0;
		p->src.words[1] = 0;
		p->src.words[2] = LB_V4_MAPPED_PREFIX;
		p->src.words[3] = ip->saddr;
		p->dst.words[0] = 0;
		p->dst.words[1] = 0;
		p->dst.words[2] = LB_V4_MAPPED_PREFIX;
		p->dst.words[3] = ip->daddr;
		p->l4_off = ETH_HLEN + ip->ihl * 4;
		p->l4_len = bpf_ntohs(ip->tot_len) - ip->ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6;

		data = packet_head(skb, ETH_HLEN + sizeof(*ip6), &end);
		if (!data)
			return PACKET_INVALID;
		ip6 = data + ETH_HLEN;
		if ((void *)(ip6 + 1) > end)
			return PACKET_INVALID;
		p->v6 = true;
		p->protocol = ip6->nexthdr;
		__builtin_memcpy(&p->src, &ip6->saddr, sizeof(p->src));
		__builtin_memcpy(&p->dst, &ip6->daddr, sizeof(p->dst));
		p->l4_off = ETH_HLEN + sizeof(*ip6);
		p->l4_len = bpf_ntohs(ip6->payload_len);
	} else {
		return PACKET_OTHER;
	}
	if (p->protocol != IPPROTO_TCP && p->protocol != IPPROTO_UDP)
		return PACKET_OTHER;
	return packet_parse_l4(skb, p) ? PACKET_OK : PACKET_INVALID;
}

/* The ones' complement sum of the 16-bit words from..to replaces, as a checksum update adds
 * it (RFC 1624: HC' = ~(~HC + ~m + m')), folded to 16 bits. */
static __always_inline __u32 csum_words_diff(const __be32 *from, const __be32 *to, int words)
{
	__u64 sum = 0;

	for (int i = 0; i < words; i++)
		sum += (__u32)~from[i] + (__u64)to[i];
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (__u32)sum;
}

/* The IPv4 header checksum after an address in the header changed by diff (csum_words_diff). */
static __always_inline __sum16 csum_update(__sum16 check, __u32 diff)
{
	__u32 sum = (__u16)~check;

	sum += (diff & 0xffff) + (diff >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

/* One hop of p's packet, as a router forwards it, for a program that sends the packet on itself
 * (bpf_redirect_neigh goes past the stack's forwarding, which would do this): the TTL (IPv4,
 * with the header checksum) or the hop limit (IPv6) one less. False, with the packet as it was,
 * when it ran out (1 or 0: the packet must be dropped, as the node drops it; a loop between
 * routers then ends) or the header cannot be read. */
static __always_inline bool packet_hop(struct __sk_buff *skb, const struct packet *p)
{
	void *data, *end;

	if (p->v6) {
		struct ipv6hdr *ip6;

		data = packet_head(skb, ETH_HLEN + sizeof(*ip6), &end);
		if (!data)
			return false;
		ip6 = data + ETH_HLEN;
		if ((void *)(ip6 + 1) > end || ip6->hop_limit <= 1)
			return false;
		ip6->hop_limit--;
		return true;
	}
	struct iphdr *ip;
	__be16 *ttl_word, before;

	data = packet_head(skb, ETH_HLEN + sizeof(*ip), &end);
	if (!data)
		return false;
	ip = data + ETH_HLEN;
	if ((void *)(ip + 1) > end || ip->ttl <= 1)
		return false;
	/* The TTL shares a 16-bit word of the checksum with the protocol. */
	ttl_word = (__be16 *)&ip->ttl;
	before = *ttl_word;
	ip->ttl--;
	ip->check = csum_update(ip->check, (__u32)(__u16)~before + *ttl_word);
	return true;
}

/* Rewrites the destination (dnat) or the source address and port of p's packet to to:to_port
 * in place, fixing the IPv4 header checksum and the TCP/UDP checksum (whose pseudo-header
 * holds the addresses). A UDP checksum of 0 (none, IPv4 only) stays 0. False, with the packet
 * unchanged, when its TCP/UDP header ends before the checksum. */
static __always_inline bool packet_rewrite(struct __sk_buff *skb, const struct packet *p, bool dnat,
					   const struct lb_address *to, __be16 to_port)
{
	const struct lb_address *from = dnat ? &p->dst : &p->src;
	__be16 from_port = dnat ? p->dport : p->sport;
	__u32 csum_off = p->l4_off + (p->protocol == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
	__u64 l4_flags = p->protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	int words = p->v6 ? 4 : 1;
	__u32 l4_off = p->l4_off;
	__u32 diff;
	void *data, *end;
	__be16 *ports;

	/* Bounded in a register the verifier follows (the copy in *p it does not). */
	barrier_var(l4_off);
	if (l4_off > ETH_HLEN + IPV4_HDR_MAX)
		return false;
	data = packet_head(skb, csum_off + sizeof(__sum16), &end);
	if (!data)
		return false;
	ports = data + l4_off;
	if ((void *)(ports + 2) > end)
		return false;
	ports[dnat ? 1 : 0] = to_port;
	if (!p->v6) {
		struct iphdr *ip = data + ETH_HLEN;

		if ((void *)(ip + 1) > end)
			return false;
		diff = csum_words_diff(&from->words[3], &to->words[3], 1);
		if (dnat)
			ip->daddr = to->words[3];
		else
			ip->saddr = to->words[3];
		ip->check = csum_update(ip->check, diff);
	} else {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		if ((void *)(ip6 + 1) > end)
			return false;
		diff = csum_words_diff(from->words, to->words, words);
		__builtin_memcpy(dnat ? &ip6->daddr : &ip6->saddr, to, sizeof(*to));
	}
	/* The pseudo-header's part of the change, then the port's (not in the pseudo-header: a
	 * CHECKSUM_PARTIAL field leaves it to the checksum computed later). */
	if (bpf_l4_csum_replace(skb, csum_off, 0, diff, l4_flags | BPF_F_PSEUDO_HDR))
		return false;
	if (from_port == to_port)
		return true;
	return bpf_l4_csum_replace(skb, csum_off, from_port, to_port, l4_flags | sizeof(__be16)) == 0;
}

#endif
