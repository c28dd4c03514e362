/* The frontend a packet at tc is sent to: its destination address, port and protocol. */
#ifndef SOCKLB_TC_FRONTEND_H
#define SOCKLB_TC_FRONTEND_H

#include "frontends_map.h"
#include "packet.h"

static __always_inline void frontend_key_of(const struct packet *p, struct frontend_key *key)
{
	key->address = p->dst;
	key->port = p->dport;
	key->protocol = p->protocol;
	key->scope = FRONTEND_SCOPE_ALL;
}

#endif
