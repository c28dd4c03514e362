/* Reading a packet at tc for a socklb program: what packet_parse found, with the packets that
 * are ours but cannot be read (IPv4 fragments past the first, truncated headers) counted. */
#ifndef SOCKLB_TC_PARSE_H
#define SOCKLB_TC_PARSE_H

#include "counters_map.h"
#include "packet.h"

/* Reads p; false for packets we leave alone, counting those that are ours but unreadable. */
static __always_inline bool tc_parse(struct __sk_buff *skb, struct packet *p)
{
	switch (packet_parse(skb, p)) {
	case PACKET_OK:
		return true;
	case PACKET_FRAGMENT:
		counter_inc(REASON_IP_FRAGMENT);
		return false;
	case PACKET_INVALID:
		counter_inc(REASON_INVALID_PACKET);
		return false;
	default:
		return false;
	}
}

#endif
