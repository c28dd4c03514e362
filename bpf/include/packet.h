/* Reading a packet's addresses and ports at tc, and rewriting them with the checksum fixes
 * NAT needs. IPv4 (with options) and IPv6 (without extension headers) carrying TCP or UDP;
 * everything else, and IPv4 fragments, is left alone. Addresses use lb_address (IPv4 in the
 * v4-mapped form) so the load-balancing maps serve both. */
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

#define IP_FRAGMENT_BITS 0x3fff /* MF and the fragment offset */
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define TCP_FLAGS_OFF 13

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

static __always_inline enum packet_kind packet_parse(struct __sk_buff *skb, struct packet *p)
{
	__be16 ports[2];

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) || ip.ihl < 5)
			return PACKET_INVALID;
		if (ip.frag_off & bpf_htons(IP_FRAGMENT_BITS))
			return PACKET_FRAGMENT;
		p->v6 = false;
		p->protocol = ip.protocol;
		p->src.words[0] = 0;
		p->src.words[1] = 0;
		p->src.words[2] = LB_V4_MAPPED_PREFIX;
		p->src.words[3] = ip.saddr;
		p->dst.words[0] = 0;
		p->dst.words[1] = 0;
		p->dst.words[2] = LB_V4_MAPPED_PREFIX;
		p->dst.words[3] = ip.daddr;
		p->l4_off = ETH_HLEN + ip.ihl * 4;
		p->l4_len = bpf_ntohs(ip.tot_len) - ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return PACKET_INVALID;
		p->v6 = true;
		p->protocol = ip6.nexthdr;
		__builtin_memcpy(&p->src, &ip6.saddr, sizeof(p->src));
		__builtin_memcpy(&p->dst, &ip6.daddr, sizeof(p->dst));
		p->l4_off = ETH_HLEN + sizeof(ip6);
		p->l4_len = bpf_ntohs(ip6.payload_len);
	} else {
		return PACKET_OTHER;
	}
	if (p->protocol != IPPROTO_TCP && p->protocol != IPPROTO_UDP)
		return PACKET_OTHER;
	if (bpf_skb_load_bytes(skb, p->l4_off, ports, sizeof(ports)))
		return PACKET_INVALID;
	p->sport = ports[0];
	p->dport = ports[1];
	p->tcp_flags = 0;
	if (p->protocol == IPPROTO_TCP && bpf_skb_load_bytes(skb, p->l4_off + TCP_FLAGS_OFF, &p->tcp_flags, 1))
		return PACKET_INVALID;
	return PACKET_OK;
}

/* Rewrites the destination (dnat) or the source address and port of p's packet to to:to_port,
 * fixing the IPv4 header checksum and the TCP/UDP checksum (whose pseudo-header holds the
 * addresses). A UDP checksum of 0 (none, IPv4 only) stays 0. */
static __always_inline bool packet_rewrite(struct __sk_buff *skb, const struct packet *p, bool dnat,
					   const struct lb_address *to, __be16 to_port)
{
	const struct lb_address *from = dnat ? &p->dst : &p->src;
	__be16 from_port = dnat ? p->dport : p->sport;
	__u32 csum_off = p->l4_off + (p->protocol == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
	__u64 l4_flags = p->protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (!p->v6) {
		__u32 addr_off = ETH_HLEN + (dnat ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));

		if (bpf_l4_csum_replace(skb, csum_off, from->words[3], to->words[3],
					l4_flags | BPF_F_PSEUDO_HDR | sizeof(__u32)))
			return false;
		if (bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), from->words[3],
					to->words[3], sizeof(__u32)))
			return false;
		if (bpf_skb_store_bytes(skb, addr_off, &to->words[3], sizeof(__u32), 0))
			return false;
	} else {
		__u32 addr_off = ETH_HLEN + (dnat ? offsetof(struct ipv6hdr, daddr) : offsetof(struct ipv6hdr, saddr));
		__s64 diff = bpf_csum_diff((__be32 *)from->words, sizeof(*from), (__be32 *)to->words, sizeof(*to), 0);

		if (diff < 0)
			return false;
		if (bpf_l4_csum_replace(skb, csum_off, 0, diff, l4_flags | BPF_F_PSEUDO_HDR))
			return false;
		if (bpf_skb_store_bytes(skb, addr_off, to, sizeof(*to), 0))
			return false;
	}
	if (from_port == to_port)
		return true;
	if (bpf_l4_csum_replace(skb, csum_off, from_port, to_port, l4_flags | sizeof(__be16)))
		return false;
	return bpf_skb_store_bytes(skb, p->l4_off + (dnat ? 2 : 0), &to_port, sizeof(to_port), 0) == 0;
}

#endif
